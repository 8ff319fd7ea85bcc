//! The data directory and every file of the store are its owner's only (the store holds the
//! page-token secret, the key store the API keys' hashes), and a backup is made the same way,
//! never through a symbolic link.
#![cfg(unix)]

use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;

use trainers_store_embedded::{BackupError, EmbeddedStore, KeyStore};

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// Every file in `dir`, with its mode.
fn modes(dir: &Path) -> Vec<(String, u32)> {
    let mut out: Vec<(String, u32)> = std::fs::read_dir(dir)
        .expect("the directory")
        .map(|e| {
            let e = e.expect("an entry");
            (
                e.file_name().to_string_lossy().into_owned(),
                mode(&e.path()),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn a_new_data_directory_and_its_files_are_the_owners_only() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("data");
    let store = EmbeddedStore::open(&dir).expect("a store");
    let keys = KeyStore::open(&dir).expect("a key store");
    assert_eq!(mode(&dir), 0o700, "the data directory");
    let files = modes(&dir);
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    for name in [
        "trainers.sqlite3",
        "trainers.sqlite3-wal",
        "trainers.sqlite3-shm",
        "api-keys.sqlite3",
        "api-keys.sqlite3-wal",
        "trainers.lock",
    ] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    for (name, m) in &files {
        assert_eq!(*m, 0o600, "{name} is {m:o}: {files:?}");
    }
    drop((store, keys));
}

#[test]
fn files_left_readable_by_an_older_version_are_tightened_on_open() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("data");
    drop(EmbeddedStore::open(&dir).expect("a store"));
    drop(KeyStore::open(&dir).expect("a key store"));
    for (name, _) in modes(&dir) {
        std::fs::set_permissions(dir.join(name), std::fs::Permissions::from_mode(0o644))
            .expect("chmod");
    }
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let store = EmbeddedStore::open(&dir).expect("the store reopens");
    let keys = KeyStore::open(&dir).expect("the key store reopens");
    assert_eq!(mode(&dir), 0o700, "the data directory");
    for (name, m) in modes(&dir) {
        assert_eq!(m, 0o600, "{name} is {m:o}");
    }
    drop((store, keys));
}

#[test]
fn an_empty_directory_is_made_private_and_one_with_other_files_is_left() {
    let root = tempfile::tempdir().expect("tempdir");
    let empty = root.path().join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    std::fs::set_permissions(&empty, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    drop(EmbeddedStore::open(&empty).expect("a store"));
    assert_eq!(mode(&empty), 0o700);

    // Someone's own directory (`--data-dir .`): its mode is theirs; the store's files are 0600.
    let shared = root.path().join("shared");
    std::fs::create_dir(&shared).expect("mkdir");
    std::fs::write(shared.join("notes.txt"), b"mine").expect("a file");
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    drop(EmbeddedStore::open(&shared).expect("a store"));
    drop(EmbeddedStore::open(&shared).expect("the store reopens"));
    assert_eq!(mode(&shared), 0o755);
    assert_eq!(mode(&shared.join("trainers.sqlite3")), 0o600);
}

#[test]
fn a_backup_is_the_owners_only() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("data");
    let store = EmbeddedStore::open(&dir).expect("a store");
    let out = root.path().join("backups");
    std::fs::create_dir(&out).expect("mkdir");
    let file = out.join("copy.sqlite3");
    EmbeddedStore::backup(&dir, &file).expect("a backup");
    assert_eq!(mode(&file), 0o600);
    assert_eq!(
        modes(&out).len(),
        1,
        "no temporary file is left: {:?}",
        modes(&out)
    );
    // The copy is a whole store.
    let restored = root.path().join("restored");
    EmbeddedStore::restore(&restored, &file).expect("a restore");
    drop(EmbeddedStore::open(&restored).expect("the copy opens"));
    for (name, m) in modes(&restored) {
        assert_eq!(m, 0o600, "restored {name} is {m:o}");
    }
    drop(store);
}

#[test]
fn a_backup_refuses_a_symbolic_link_and_writes_nothing_through_it() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("data");
    let store = EmbeddedStore::open(&dir).expect("a store");
    let out = root.path().join("backups");
    std::fs::create_dir(&out).expect("mkdir");

    // A dangling link: following it would create the file it names, where its maker can read it.
    let target = root.path().join("planted.sqlite3");
    let dangling = out.join("dangling.sqlite3");
    symlink(&target, &dangling).expect("a symbolic link");
    let refused = EmbeddedStore::backup(&dir, &dangling);
    assert!(
        matches!(refused, Err(BackupError::Exists(_))),
        "{refused:?}"
    );
    assert!(
        std::fs::symlink_metadata(&target).is_err(),
        "nothing was written through the link"
    );

    // A link to a file: the file is not overwritten.
    std::fs::write(&target, b"keep me").expect("a file");
    let link = out.join("link.sqlite3");
    symlink(&target, &link).expect("a symbolic link");
    let refused = EmbeddedStore::backup(&dir, &link);
    assert!(
        matches!(refused, Err(BackupError::Exists(_))),
        "{refused:?}"
    );
    assert_eq!(std::fs::read(&target).expect("the file"), b"keep me");
    // Only the two links are there: no temporary file is left.
    assert_eq!(modes(&out).len(), 2, "{:?}", modes(&out));
    drop(store);
}
