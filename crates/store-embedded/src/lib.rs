//! The embedded store: one SQLite database in the data directory, in WAL mode with
//! `synchronous=FULL`, so that a mutation is on disk before it answers.
//!
//! All writes go through one writer thread, which takes every write that is waiting, runs them in
//! one transaction (each in its own savepoint) and commits once: concurrent writers share one disk
//! sync (group commit). Reads run on a small pool of connections beside it, as WAL allows.
//!
//! Trainers are listed by keyset on an autoincrement sequence, so the cost of a page does not grow
//! with its depth and the order is creation order. A filter is a `WHERE` clause with bound
//! parameters (`sql_filter`): a page reads rows in that order until it has `limit` that match.
//! `trainersBySpecialty` reads the index `(specialty, last_name, id)`, by keyset on it too.
//! Conditions on update and delete are checked by the writer, in the transaction that writes.
//!
//! API keys are kept beside the store, in their own file ([`KeyStore`]).

mod files;
mod keys;
mod schema;
mod sql_filter;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rusqlite::Connection;
use trainers_core::{
    ListQuery, Precondition, SpecialtyQuery, StoreError, StorePage, Timestamp, TokenKey, Trainer,
    TrainerId, TrainerPatch, TrainerStore,
};

pub use keys::KeyStore;
use writer::{WriteJob, WriteOp, WriteOutcome};

const DB_FILE: &str = "trainers.sqlite3";
/// Held locked while a store is open: one process at a time serves a data directory.
const LOCK_FILE: &str = "trainers.lock";
const MAX_IDLE_READERS: usize = 8;
/// Long reads (filtered pages, counts) running at once; the others wait their turn, so that many
/// clients asking for filtered scans cost a bounded number of threads, connections and page
/// caches. Short reads (a trainer, an unfiltered page) never wait for them.
///
/// A long read keeps its turn until its SQLite statement has stopped, not until its caller
/// leaves: the statement is interrupted when the caller drops the read (a client gone, the
/// request's deadline) or after [`LONG_READ_LIMIT`], so a turn given back is a scan stopped.
pub const MAX_LONG_READS: usize = 4;
/// The longest a long read runs, whoever waits for it: AppSync's request limit.
const LONG_READ_LIMIT: Duration = Duration::from_secs(30);
/// SQLite virtual machine instructions between two looks at whether a long read must stop
/// (some microseconds of work).
const PROGRESS_STEPS: std::os::raw::c_int = 1_000;

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot create the data directory {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open the store {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("cannot make {path} readable by its owner only: {source}")]
    Mode {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot start the store's writer thread: {0}")]
    Thread(std::io::Error),
    #[error("the data directory {0} is in use by another trainers process (stop it first)")]
    Locked(PathBuf),
    #[error("cannot lock the data directory with {path}: {source}")]
    Lock {
        path: PathBuf,
        source: std::io::Error,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("there is no store at {0}")]
    NoStore(PathBuf),
    #[error("{0} exists already (a file or a symbolic link): the backup goes to a new file")]
    Exists(PathBuf),
    #[error("cannot write the backup {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error("backup: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// Creates the data directory, mode 0700 (see [`files`]).
fn make_data_dir(data_dir: &Path) -> Result<(), OpenError> {
    files::private_dir(data_dir).map_err(|source| OpenError::CreateDir {
        path: data_dir.to_path_buf(),
        source,
    })
}

/// Takes the data directory's lock, or says who holds it.
fn lock(data_dir: &Path) -> Result<std::fs::File, OpenError> {
    make_data_dir(data_dir)?;
    let path = data_dir.join(LOCK_FILE);
    let lock_err = |source| OpenError::Lock {
        path: path.clone(),
        source,
    };
    files::private_file(&path).map_err(lock_err)?;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .map_err(lock_err)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(OpenError::Locked(data_dir.to_path_buf())),
        Err(std::fs::TryLockError::Error(source)) => Err(OpenError::Lock { path, source }),
    }
}

/// Whether a write is on disk before it answers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    /// `synchronous=FULL`: every acknowledged write survives a crash (group commit shares the
    /// syncs). Always, but for the benchmark's reference below.
    #[default]
    Synced,
    /// `synchronous=OFF`: no sync at all; a crash of the machine loses acknowledged writes. Only
    /// the load benchmark's reference (what durability costs), through the environment
    /// variable `TRAINERS_UNSAFE_NO_SYNC=1` of `trainers serve`.
    Unsynced,
}

#[derive(Clone)]
pub struct EmbeddedStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: tokio::sync::mpsc::Sender<WriteJob>,
    readers: Mutex<Vec<Connection>>,
    long_reads: Arc<tokio::sync::Semaphore>,
    scans: Scans,
    token_key: TokenKey,
    /// Locked for as long as the store is open.
    _lock: std::fs::File,
}

impl EmbeddedStore {
    /// Opens (creating if need be) the store in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Self, OpenError> {
        Self::open_with(data_dir, Durability::Synced)
    }

    /// As [`EmbeddedStore::open`], writes synced as `durability` says.
    pub fn open_with(data_dir: &Path, durability: Durability) -> Result<Self, OpenError> {
        let lock = lock(data_dir)?;
        let path = data_dir.join(DB_FILE);
        let open_err = |source| OpenError::Open {
            path: path.clone(),
            source,
        };
        // 0600 before SQLite opens it: SQLite gives its -wal and -shm files the same mode.
        files::private_database(&path).map_err(|source| OpenError::Mode {
            path: path.clone(),
            source,
        })?;
        let mut conn = schema::open_writer(&path).map_err(open_err)?;
        if durability == Durability::Unsynced {
            conn.pragma_update(None, "synchronous", "OFF")
                .map_err(open_err)?;
        }
        let token_key = schema::migrate(&mut conn).map_err(open_err)?;
        let reader = schema::open_reader(&path).map_err(open_err)?;
        let writer = writer::spawn(conn).map_err(OpenError::Thread)?;
        Ok(EmbeddedStore {
            inner: Arc::new(Inner {
                path,
                writer,
                readers: Mutex::new(vec![reader]),
                long_reads: Arc::new(tokio::sync::Semaphore::new(MAX_LONG_READS)),
                scans: Scans::default(),
                token_key,
                _lock: lock,
            }),
        })
    }

    /// Copies the store in `data_dir` to `file` (a new SQLite file) while it may be serving: a
    /// consistent snapshot, through SQLite's online backup.
    ///
    /// The copy holds the page-token secret, so it is made like the store's own files: mode
    /// 0600, in a new temporary file beside `file` (`O_CREAT|O_EXCL`, which never follows a
    /// symbolic link), then linked to `file`, which fails if anything (a file, a symbolic link,
    /// dangling or not) has that name: nothing is ever written through a link or over a file.
    pub fn backup(data_dir: &Path, file: &Path) -> Result<(), BackupError> {
        let source = data_dir.join(DB_FILE);
        if !source.exists() {
            return Err(BackupError::NoStore(source));
        }
        if std::fs::symlink_metadata(file).is_ok() {
            return Err(BackupError::Exists(file.to_path_buf()));
        }
        let write_err = |source| BackupError::Write {
            path: file.to_path_buf(),
            source,
        };
        let temp = temporary_beside(file).map_err(write_err)?;
        let copied = (|| -> Result<(), BackupError> {
            let from = schema::open_reader(&source)?;
            let mut to = Connection::open(&temp.path)?;
            rusqlite::backup::Backup::new(&from, &mut to)?.run_to_completion(
                1024,
                std::time::Duration::ZERO,
                None,
            )?;
            to.pragma_update(None, "journal_mode", "DELETE")?;
            to.close().map_err(|(_, e)| e)?;
            std::fs::File::open(&temp.path)
                .and_then(|f| f.sync_all())
                .map_err(write_err)?;
            Ok(())
        })();
        copied?;
        match std::fs::hard_link(&temp.path, file) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(BackupError::Exists(file.to_path_buf()))
            }
            // A file system without hard links: a rename, which replaces a name made since the
            // check above (never writing through it).
            Err(_) => std::fs::rename(&temp.path, file).map_err(write_err),
        }
    }

    /// Replaces the store in `data_dir` by the copy `file` made by [`EmbeddedStore::backup`].
    /// Refused while a server has the store open.
    pub fn restore(data_dir: &Path, file: &Path) -> Result<(), BackupError> {
        let _lock = lock(data_dir)?;
        let from = Connection::open_with_flags(file, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        let path = data_dir.join(DB_FILE);
        files::private_database(&path).map_err(|source| BackupError::Write {
            path: path.clone(),
            source,
        })?;
        let mut to = Connection::open(&path)?;
        rusqlite::backup::Backup::new(&from, &mut to)?.run_to_completion(
            1024,
            std::time::Duration::ZERO,
            None,
        )?;
        to.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs a read on a pooled connection. Reads are short (an index lookup, or a range of at
    /// most 101 rows), so they run inline: handing them to a blocking pool cost more in thread
    /// wake-ups than the read itself (measured with perf under load).
    fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let pooled = self.inner.readers.lock().ok().and_then(|mut p| p.pop());
        let conn = match pooled {
            Some(c) => c,
            None => schema::open_reader(&self.inner.path).map_err(|e| {
                let context = format!("cannot open a reader of {}", self.inner.path.display());
                StoreError::backend(context, e)
            })?,
        };
        let out = f(&conn);
        if let Ok(mut pool) = self.inner.readers.lock() {
            if pool.len() < MAX_IDLE_READERS {
                pool.push(conn);
            }
        }
        out
    }

    /// A read that may take long (a filtered page, a count, an integrity check): on the
    /// blocking pool, at most [`MAX_LONG_READS`] at once. The turn goes with the work into the
    /// blocking thread, and the work stops when this future is dropped (its caller is gone) or
    /// after [`LONG_READ_LIMIT`]: a dropped read never leaves a scan running without a turn.
    async fn read_long<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let turn = Arc::clone(&self.inner.long_reads)
            .acquire_owned()
            .await
            .map_err(|e| StoreError::backend("the store is closing", e))?;
        let stop = Arc::new(AtomicBool::new(false));
        let _stop_when_dropped = StopWhenDropped(Arc::clone(&stop));
        let deadline = Instant::now() + LONG_READ_LIMIT;
        let store = self.clone();
        tokio::task::spawn_blocking(move || {
            let _turn = turn;
            if stop.load(Ordering::Relaxed) {
                return Err(StoreError::backend_msg(
                    "a long read was given up before it began",
                ));
            }
            let _running = store.inner.scans.start();
            store.read(move |conn| {
                conn.progress_handler(
                    PROGRESS_STEPS,
                    Some(move || stop.load(Ordering::Relaxed) || Instant::now() >= deadline),
                );
                let out = f(conn);
                conn.progress_handler(0, None::<fn() -> bool>);
                out
            })
        })
        .await
        .map_err(|e| StoreError::backend("a long read did not finish", e))?
    }

    /// The long reads (filtered scans, counts) running on SQLite now, and the most that ever
    /// ran at once: never more than [`MAX_LONG_READS`].
    pub fn long_reads(&self) -> LongReads {
        LongReads {
            running: self.inner.scans.running.load(Ordering::SeqCst),
            peak: self.inner.scans.peak.load(Ordering::SeqCst),
        }
    }

    async fn write(&self, op: WriteOp) -> Result<WriteOutcome, StoreError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.inner
            .writer
            .send(WriteJob { op, reply })
            .await
            .map_err(|_| StoreError::backend_msg("the store's writer has stopped"))?;
        answer
            .await
            .map_err(|e| StoreError::backend("the store's writer has stopped", e))?
    }

    /// How many trainers are stored.
    pub async fn count(&self) -> Result<u64, StoreError> {
        self.read_long(|conn| {
            conn.query_row("SELECT COUNT(*) FROM trainers", [], |r| r.get::<_, i64>(0))
                .map(|n| n as u64)
                .map_err(|e| StoreError::backend("cannot count the trainers", e))
        })
        .await
    }

    /// Runs SQLite's integrity check; `Ok(())` when the database is sound.
    pub async fn check_integrity(&self) -> Result<(), StoreError> {
        self.read_long(|conn| {
            let verdict: String = conn
                .query_row("PRAGMA integrity_check", [], |r| r.get(0))
                .map_err(|e| StoreError::backend("cannot run the integrity check", e))?;
            if verdict == "ok" {
                Ok(())
            } else {
                Err(StoreError::backend_msg(format!(
                    "the integrity check failed: {verdict}"
                )))
            }
        })
        .await
    }
}

/// See [`EmbeddedStore::long_reads`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LongReads {
    pub running: usize,
    pub peak: usize,
}

/// Counts the long reads running on SQLite.
#[derive(Default)]
struct Scans {
    running: AtomicUsize,
    peak: AtomicUsize,
}

impl Scans {
    fn start(&self) -> Running<'_> {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        Running(self)
    }
}

struct Running<'a>(&'a Scans);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Tells a long read to stop when its caller drops it (or when it is done: then it is moot).
struct StopWhenDropped(Arc<AtomicBool>);

impl Drop for StopWhenDropped {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// A new, empty file of mode 0600 beside `file` (same directory, so it can be linked to it),
/// removed with its SQLite journal when dropped.
struct Temporary {
    path: PathBuf,
}

impl Drop for Temporary {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        let _ = std::fs::remove_file(files::with_suffix(&self.path, "-journal"));
    }
}

fn temporary_beside(file: &Path) -> std::io::Result<Temporary> {
    use rand::RngCore;
    let dir = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    for _ in 0..16 {
        let path = dir.join(format!(".{name}.{:016x}.tmp", rand::rng().next_u64()));
        match files::new_file(&path) {
            Ok(_) => return Ok(Temporary { path }),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AlreadyExists,
        "no free temporary name beside it",
    ))
}

/// A page of `limit` from up to `limit + 1` rows in sequence order: the position is the last
/// row's sequence number, given when one more row came.
fn seq_page(
    rows: rusqlite::Result<Vec<(i64, Trainer)>>,
    limit: usize,
) -> Result<StorePage, StoreError> {
    let rows = rows.map_err(|e| StoreError::backend("cannot list trainers", e))?;
    Ok(StorePage::from_rows(
        rows,
        limit,
        |(seq, _)| seq.to_be_bytes().to_vec(),
        |(_, t)| t,
    ))
}

/// The position of a trainer in the `(specialty, last_name, id)` index: the length of its last
/// name (4 bytes, big-endian), the last name, the id.
fn encode_name_position(t: &Trainer) -> Vec<u8> {
    let name = t.last_name.as_bytes();
    let mut out = Vec::with_capacity(4 + name.len() + t.id.as_str().len());
    out.extend_from_slice(&(name.len() as u32).to_be_bytes());
    out.extend_from_slice(name);
    out.extend_from_slice(t.id.as_str().as_bytes());
    out
}

fn decode_name_position(bytes: &[u8]) -> Result<(String, String), StoreError> {
    let (len, rest) = bytes
        .split_first_chunk::<4>()
        .ok_or(StoreError::InvalidPosition)?;
    let len = u32::from_be_bytes(*len) as usize;
    if rest.len() < len {
        return Err(StoreError::InvalidPosition);
    }
    let (name, id) = rest.split_at(len);
    let text = |b: &[u8]| String::from_utf8(b.to_vec()).map_err(|_| StoreError::InvalidPosition);
    Ok((text(name)?, text(id)?))
}

#[async_trait]
impl TrainerStore for EmbeddedStore {
    async fn insert(&self, trainer: &Trainer) -> Result<(), StoreError> {
        self.write(WriteOp::Insert(trainer.clone())).await.map(drop)
    }

    async fn insert_many(&self, trainers: &[Trainer]) -> Result<u64, StoreError> {
        match self.write(WriteOp::InsertMany(trainers.to_vec())).await? {
            WriteOutcome::InsertedMany(n) => Ok(n),
            _ => Err(StoreError::backend_msg("the writer answered out of turn")),
        }
    }

    async fn get(&self, id: &TrainerId) -> Result<Option<Trainer>, StoreError> {
        let id = id.clone();
        self.read(move |conn| {
            schema::get(conn, &id)
                .map_err(|e| StoreError::backend(format!("cannot read trainer {id}"), e))
        })
    }

    async fn update(
        &self,
        id: &TrainerId,
        patch: &TrainerPatch,
        pre: &Precondition,
        now: Timestamp,
    ) -> Result<Trainer, StoreError> {
        let op = WriteOp::Update {
            id: id.clone(),
            patch: patch.clone(),
            pre: pre.clone(),
            now,
        };
        self.write(op).await?.trainer()
    }

    async fn delete(&self, id: &TrainerId, pre: &Precondition) -> Result<Trainer, StoreError> {
        let op = WriteOp::Delete {
            id: id.clone(),
            pre: pre.clone(),
        };
        self.write(op).await?.trainer()
    }

    async fn list(
        &self,
        query: &ListQuery<'_>,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<StorePage, StoreError> {
        let after_seq = match after {
            None => 0,
            Some(bytes) => {
                let raw: [u8; 8] = bytes.try_into().map_err(|_| StoreError::InvalidPosition)?;
                i64::from_be_bytes(raw)
            }
        };
        let Some(filter) = query.filter else {
            return self
                .read(|conn| seq_page(schema::list(conn, query, after_seq, limit + 1), limit));
        };
        // A filter may read many rows to find a page: off the async threads.
        let (filter, specialty) = (filter.clone(), query.specialty);
        self.read_long(move |conn| {
            let query = ListQuery {
                specialty,
                filter: Some(&filter),
            };
            seq_page(schema::list(conn, &query, after_seq, limit + 1), limit)
        })
        .await
    }

    async fn count(&self, query: &ListQuery<'_>) -> Result<u64, StoreError> {
        let (filter, specialty) = (query.filter.cloned(), query.specialty);
        self.read_long(move |conn| {
            let query = ListQuery {
                specialty,
                filter: filter.as_ref(),
            };
            schema::count(conn, &query).map_err(|e| StoreError::backend("cannot count trainers", e))
        })
        .await
    }

    async fn list_by_specialty(
        &self,
        query: &SpecialtyQuery<'_>,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<StorePage, StoreError> {
        let after = after.map(decode_name_position).transpose()?;
        let page = move |conn: &Connection, query: &SpecialtyQuery<'_>| {
            let after = after.as_ref().map(|(n, id)| (n.as_str(), id.as_str()));
            let items = schema::list_by_specialty(conn, query, after, limit + 1)
                .map_err(|e| StoreError::backend("cannot list trainers by specialty", e))?;
            Ok(StorePage::from_rows(
                items,
                limit,
                encode_name_position,
                |t| t,
            ))
        };
        // Without a filter, a range of the index: as short as an unfiltered page, so inline.
        let Some(filter) = query.filter.cloned() else {
            return self.read(|conn| page(conn, query));
        };
        let (specialty, direction, key) =
            (query.specialty, query.direction, query.last_name.cloned());
        self.read_long(move |conn| {
            let query = SpecialtyQuery {
                specialty,
                last_name: key.as_ref(),
                direction,
                filter: Some(&filter),
            };
            page(conn, &query)
        })
        .await
    }

    fn scans(&self) -> trainers_core::Scans {
        let LongReads { running, peak } = self.long_reads();
        trainers_core::Scans { running, peak }
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.read(|conn| {
            conn.query_row("SELECT 1", [], |_| Ok(()))
                .map_err(|e| StoreError::backend("the store does not answer", e))
        })
    }

    async fn close(&self) -> Result<(), StoreError> {
        // The idle readers go first: a checkpoint cannot truncate past a reader's snapshot.
        if let Ok(mut pool) = self.inner.readers.lock() {
            pool.clear();
        }
        self.write(WriteOp::Checkpoint).await.map(|_| ())
    }

    fn token_key(&self) -> TokenKey {
        self.inner.token_key.clone()
    }
}
