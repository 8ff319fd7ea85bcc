//! What `trainers` writes that holds a secret is its owner's only, whatever the umask: the data
//! directory (the page-token secret, the API keys' hashes), a backup (the same secret), the
//! private keys of `trainers tls create`. Each command runs as a user would, under `umask 000`,
//! which used to leave the directory 0777 and every file 0666; and `backup` into a planted
//! symbolic link is refused, writing nothing through it.
#![cfg(unix)]

mod common;

use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;
use std::process::Output;

/// `trainers --data-dir DIR ARGS…` under `umask 000`.
async fn run_umask_000(data_dir: &Path, args: &[&str]) -> Output {
    let bin = env!("CARGO_BIN_EXE_trainers");
    let mut cmd = common::trainers();
    // Same environment as `trainers()`, through a shell that clears the umask first.
    let std_cmd = cmd.as_std_mut();
    let mut shell = tokio::process::Command::new("sh");
    shell
        .arg("-c")
        .arg("umask 000 && exec \"$0\" \"$@\"")
        .arg(bin)
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_clear()
        .envs(std_cmd.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))))
        .envs(std::env::vars().filter(|(k, _)| !k.starts_with("TRAINERS_") && k != "RUST_LOG"))
        .kill_on_drop(true);
    let out = shell.output().await.expect("trainers runs");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn assert_private_files(dir: &Path) {
    for entry in std::fs::read_dir(dir).expect("the directory") {
        let path = entry.expect("an entry").path();
        if path.is_file() {
            assert_eq!(
                mode(&path),
                0o600,
                "{} is {:o}",
                path.display(),
                mode(&path)
            );
        }
    }
}

#[tokio::test]
async fn the_data_directory_and_a_backup_are_the_owners_only_under_umask_000() {
    let root = tempfile::tempdir().expect("tempdir");
    let data = root.path().join("data");
    run_umask_000(&data, &["api-key", "create"]).await;
    run_umask_000(&data, &["export"]).await;
    assert_eq!(mode(&data), 0o700, "the data directory");
    for name in ["trainers.sqlite3", "api-keys.sqlite3", "trainers.lock"] {
        assert!(data.join(name).exists(), "{name}");
    }
    assert_private_files(&data);

    let backup = root.path().join("backup.sqlite3");
    run_umask_000(&data, &["backup", backup.to_str().expect("a path")]).await;
    assert_eq!(mode(&backup), 0o600, "the backup");
}

#[tokio::test]
async fn a_backup_into_a_dangling_symbolic_link_is_refused_and_writes_nothing() {
    let root = tempfile::tempdir().expect("tempdir");
    let data = root.path().join("data");
    run_umask_000(&data, &["export"]).await;
    // Another user plants a link where the backup will go, to a file of their choosing.
    let planted = root.path().join("planted.sqlite3");
    let link = root.path().join("backup.sqlite3");
    symlink(&planted, &link).expect("a symbolic link");
    let out = common::trainers()
        .arg("--data-dir")
        .arg(&data)
        .arg("backup")
        .arg(&link)
        .output()
        .await
        .expect("trainers runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "refused: {stderr}");
    assert!(stderr.contains("exists already"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        std::fs::symlink_metadata(&planted).is_err(),
        "nothing was written through the link"
    );
}

#[tokio::test]
async fn tls_create_writes_private_keys_the_owner_alone_reads_under_umask_000() {
    let root = tempfile::tempdir().expect("tempdir");
    let data = root.path().join("data");
    let tls = root.path().join("tls");
    run_umask_000(
        &data,
        &["tls", "create", "--dir", tls.to_str().expect("a path")],
    )
    .await;
    assert_eq!(mode(&tls), 0o700, "the directory of the keys");
    assert_eq!(mode(&tls.join("ca-key.pem")), 0o600);
    assert_eq!(mode(&tls.join("key.pem")), 0o600);
    // The certificates are public; they are not writable by others either.
    assert_eq!(mode(&tls.join("ca.pem")) & 0o022, 0);
    assert_eq!(mode(&tls.join("cert.pem")) & 0o022, 0);
}
