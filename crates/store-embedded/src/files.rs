//! The data directory and its files, readable by their owner only: the store holds the secret
//! that signs page tokens and the key store the API keys' hashes, so neither may be left to the
//! umask (0755 and 0644 by default let every local user read them).
//!
//! Modes are set with `chmod` after creation, so that they do not depend on the umask. SQLite
//! creates a database's `-wal`, `-shm` and `-journal` files with the mode of the database file
//! (and `fchmod`s them to it), so a database file made 0600 here before SQLite opens it keeps
//! its companions 0600 too.

use std::io;
use std::path::{Path, PathBuf};

/// A directory's mode: its owner only.
pub const DIR_MODE: u32 = 0o700;
/// A file's mode: its owner only.
pub const FILE_MODE: u32 = 0o600;

/// The files SQLite keeps beside a database.
const COMPANIONS: [&str; 3] = ["-wal", "-shm", "-journal"];

/// What a data directory holds: the store's files (and SQLite's beside them), and `tls`, where
/// `trainers tls create` writes by default.
const DATA_FILES: [&str; 4] = [
    "trainers.lock",
    "trainers.sqlite3",
    "api-keys.sqlite3",
    "tls",
];

/// Whether `dir` holds nothing but what a data directory holds (or nothing at all).
fn only_data_files(dir: &Path) -> io::Result<bool> {
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        let name = name.to_string_lossy();
        if !DATA_FILES.iter().any(|f| name.starts_with(f)) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Creates `dir` (and its missing parents) with mode 0700. A directory that exists already is
/// made 0700 too when it holds nothing but a data directory's files (made 0755 by an older
/// version, or empty: made for the store); any other (`--data-dir .`, a shared directory) is
/// left as it is, with a warning: the store's files in it are 0600 whatever its mode.
pub fn private_dir(dir: &Path) -> io::Result<()> {
    match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = meta.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    if only_data_files(dir)? {
                        set_mode(dir, DIR_MODE)?;
                        if dir.join(DATA_FILES[0]).exists() {
                            tracing::info!(
                                dir = %dir.display(),
                                was = format!("{mode:o}"),
                                "the data directory is now readable by its owner only (700)"
                            );
                        }
                    } else {
                        tracing::warn!(
                            dir = %dir.display(),
                            mode = format!("{mode:o}"),
                            "the data directory holds other files and is open to other users; \
                             the store's files in it are not (600)"
                        );
                    }
                }
            }
            Ok(())
        }
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "it exists and is not a directory",
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let mut builder = std::fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::DirBuilderExt;
                builder.mode(DIR_MODE);
            }
            builder.create(dir)?;
            set_mode(dir, DIR_MODE)
        }
        Err(e) => Err(e),
    }
}

/// Makes `path` a file of mode 0600 if it is missing (an empty file is an empty SQLite
/// database), and sets 0600 on it and on the SQLite files beside it that exist. Refuses a
/// symbolic link.
pub fn private_database(path: &Path) -> io::Result<()> {
    private_file(path)?;
    for suffix in COMPANIONS {
        let companion = with_suffix(path, suffix);
        match std::fs::symlink_metadata(&companion) {
            Ok(meta) if meta.file_type().is_symlink() => return Err(symlink_error()),
            Ok(_) => set_mode(&companion, FILE_MODE)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Makes `path` a file of mode 0600 if it is missing, and sets 0600 on it if it exists.
/// Refuses a symbolic link.
pub fn private_file(path: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => return Err(symlink_error()),
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            // O_CREAT|O_EXCL: never follows a symbolic link, never opens a file made meanwhile.
            match new_file(path) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
        }
        Err(e) => return Err(e),
    }
    set_mode(path, FILE_MODE)
}

/// Creates a new file of mode 0600: `O_CREAT|O_EXCL`, which fails on any existing name, a
/// symbolic link (dangling or not) included, so nothing is ever written through one.
pub fn new_file(path: &Path) -> io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(FILE_MODE);
    }
    let file = options.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))?;
    }
    Ok(file)
}

/// `path` with `suffix` after its file name (`trainers.sqlite3-wal`).
pub fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn symlink_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "it is a symbolic link: the store's files must be plain files",
    )
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_: &Path, _: u32) -> io::Result<()> {
    Ok(())
}
