//! API keys in the data directory: `api-keys.sqlite3`, one table `api_keys`, keys kept as their
//! SHA-256 hash. Every process with the data directory (a server, `trainers api-key`) sees the
//! same keys; WAL and a busy timeout let them share the file.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use trainers_core::keys::{KeyError, KeyInfo, KeySource, NewKey};
use trainers_core::Timestamp;

const KEYS_FILE: &str = "api-keys.sqlite3";

/// The SQLite [`KeySource`] of a data directory.
#[derive(Clone)]
pub struct KeyStore {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
}

impl KeyStore {
    /// Opens (creating if need be) the key store in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Self, KeyError> {
        crate::files::private_dir(data_dir).map_err(|source| {
            KeyError::backend(
                format!("cannot create the data directory {}", data_dir.display()),
                source,
            )
        })?;
        let path = data_dir.join(KEYS_FILE);
        // 0600 before SQLite opens it: SQLite gives its -wal and -shm files the same mode.
        crate::files::private_database(&path).map_err(|source| {
            KeyError::backend(
                format!("cannot make {} readable by its owner only", path.display()),
                source,
            )
        })?;
        let open = || -> rusqlite::Result<Connection> {
            let conn = Connection::open(&path)?;
            conn.busy_timeout(Duration::from_secs(5))?;
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.pragma_update(None, "synchronous", "FULL")?;
            conn.execute_batch(
                "CREATE TABLE IF NOT EXISTS api_keys (
                    id          TEXT PRIMARY KEY,
                    hash        BLOB NOT NULL UNIQUE,
                    description TEXT,
                    created_at  INTEGER NOT NULL,
                    expires_at  INTEGER NOT NULL,
                    revoked     INTEGER NOT NULL DEFAULT 0
                )",
            )?;
            Ok(conn)
        };
        let conn = open().map_err(|source| {
            KeyError::backend(
                format!("cannot open the key store {}", path.display()),
                source,
            )
        })?;
        Ok(KeyStore {
            conn: Arc::new(Mutex::new(conn)),
            path,
        })
    }

    /// The SQLite file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on the connection, on the blocking pool (writes wait for a disk sync).
    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, KeyError> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = conn
                .lock()
                .map_err(|_| KeyError::backend_msg("key store: a thread panicked holding it"))?;
            f(&mut conn).map_err(|e| KeyError::backend("key store", e))
        })
        .await
        .map_err(|e| KeyError::backend("key store", e))?
    }
}

fn insert(c: &Connection, key: &NewKey) -> rusqlite::Result<usize> {
    c.execute(
        "INSERT INTO api_keys (id, hash, description, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            key.info.id,
            &key.hash()[..],
            key.info.description,
            key.info.created_at.millis(),
            key.info.expires_at.millis()
        ],
    )
}

fn is_empty(c: &Connection) -> rusqlite::Result<bool> {
    c.query_row("SELECT 1 FROM api_keys LIMIT 1", [], |_| Ok(()))
        .optional()
        .map(|o| o.is_none())
}

#[async_trait]
impl KeySource for KeyStore {
    async fn create(
        &self,
        expires_at: Timestamp,
        description: Option<String>,
    ) -> Result<NewKey, KeyError> {
        let key = NewKey::generate(expires_at, description);
        self.with(move |c| insert(c, &key).map(|_| key)).await
    }

    async fn list(&self) -> Result<Vec<KeyInfo>, KeyError> {
        self.with(|c| {
            c.prepare("SELECT id, description, created_at, expires_at, revoked FROM api_keys ORDER BY created_at")?
                .query_map([], |r| {
                    Ok(KeyInfo {
                        id: r.get(0)?,
                        description: r.get(1)?,
                        created_at: Timestamp::from_millis(r.get(2)?),
                        expires_at: Timestamp::from_millis(r.get(3)?),
                        revoked: r.get::<_, i64>(4)? != 0,
                    })
                })?
                .collect()
        })
        .await
    }

    async fn revoke(&self, id: &str) -> Result<bool, KeyError> {
        let id = id.to_string();
        self.with(move |c| c.execute("UPDATE api_keys SET revoked = 1 WHERE id = ?1", [id]))
            .await
            .map(|n| n > 0)
    }

    async fn is_empty(&self) -> Result<bool, KeyError> {
        self.with(|c| is_empty(c)).await
    }

    async fn active(&self) -> Result<Vec<([u8; 32], i64)>, KeyError> {
        self.with(|c| {
            c.prepare("SELECT hash, expires_at FROM api_keys WHERE revoked = 0")?
                .query_map([], |r| {
                    let h: Vec<u8> = r.get(0)?;
                    Ok((<[u8; 32]>::try_from(h).unwrap_or([0; 32]), r.get(1)?))
                })?
                .collect()
        })
        .await
    }

    /// The check and the insert are one write transaction, so that of two processes starting
    /// on one data directory at once only one makes the key.
    async fn create_first(
        &self,
        expires_at: Timestamp,
        description: Option<String>,
    ) -> Result<Option<NewKey>, KeyError> {
        self.with(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            if !is_empty(&tx)? {
                return Ok(None);
            }
            let key = NewKey::generate(expires_at, description);
            insert(&tx, &key)?;
            tx.commit()?;
            Ok(Some(key))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_store_that_cannot_open_keeps_the_cause() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let file = dir.path().join("not-a-directory");
        std::fs::write(&file, b"x").expect("a file");
        let Err(error) = KeyStore::open(&file) else {
            panic!("a file is no data directory");
        };
        assert!(std::error::Error::source(&error).is_some(), "{error}");
        let chain = trainers_core::error_chain(&error);
        assert!(
            chain.starts_with("cannot create the data directory"),
            "{chain}"
        );
        assert!(chain.len() > error.to_string().len(), "{chain}");
    }
}
