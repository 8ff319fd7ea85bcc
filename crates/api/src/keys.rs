//! API keys: stored hashed in the data directory, compared in constant time, expiring as
//! AppSync's do (7 days by default, 365 at most).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use rand::Rng;
use rusqlite::{params, Connection, OptionalExtension};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use trainers_core::Timestamp;

pub const DEFAULT_EXPIRY: Duration = Duration::from_secs(7 * 24 * 3600);
pub const MIN_EXPIRY: Duration = Duration::from_secs(24 * 3600);
pub const MAX_EXPIRY: Duration = Duration::from_secs(365 * 24 * 3600);
const KEYS_FILE: &str = "api-keys.sqlite3";

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot open the key store {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("cannot create the data directory {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("key store: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("an API key must expire in 1 to 365 days, not {0}")]
    Expiry(String),
}

/// What `api-key list` shows of a key: never the key itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyInfo {
    pub id: String,
    pub description: Option<String>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub revoked: bool,
}

/// A key just made: the only time its secret is known.
#[derive(Debug)]
pub struct NewKey {
    pub info: KeyInfo,
    pub secret: String,
}

fn hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// A key of AppSync's shape: `da2-` and 26 random characters.
fn make_secret() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut rng = rand::rng();
    let tail: String = (0..26)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    format!("da2-{tail}")
}

fn make_id() -> String {
    let n: u64 = rand::rng().random();
    format!("key-{:012x}", n & 0xffff_ffff_ffff)
}

pub struct KeyStore {
    conn: Mutex<Connection>,
}

impl KeyStore {
    pub fn open(data_dir: &Path) -> Result<Self, KeyError> {
        std::fs::create_dir_all(data_dir).map_err(|source| KeyError::CreateDir {
            path: data_dir.to_path_buf(),
            source,
        })?;
        let path = data_dir.join(KEYS_FILE);
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
        let conn = open().map_err(|source| KeyError::Open {
            path: path.clone(),
            source,
        })?;
        Ok(KeyStore {
            conn: Mutex::new(conn),
        })
    }

    fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, KeyError> {
        let conn = self
            .conn
            .lock()
            .map_err(|_| KeyError::Db(rusqlite::Error::InvalidQuery))?;
        Ok(f(&conn)?)
    }

    /// Makes a key that expires after `expires_in` (1 to 365 days).
    pub fn create(
        &self,
        expires_in: Duration,
        description: Option<String>,
    ) -> Result<NewKey, KeyError> {
        if !(MIN_EXPIRY..=MAX_EXPIRY).contains(&expires_in) {
            return Err(KeyError::Expiry(humanize(expires_in)));
        }
        let expires_at = Timestamp::from_millis(
            Timestamp::now().millis() + i64::try_from(expires_in.as_millis()).unwrap_or(i64::MAX),
        );
        self.create_expiring_at(expires_at, description)
    }

    /// Makes a key that expires at a given time, with no bounds: for tests of expiry.
    pub fn create_expiring_at(
        &self,
        expires_at: Timestamp,
        description: Option<String>,
    ) -> Result<NewKey, KeyError> {
        let secret = make_secret();
        let info = KeyInfo {
            id: make_id(),
            description,
            created_at: Timestamp::now(),
            expires_at,
            revoked: false,
        };
        self.with(|c| {
            c.execute(
                "INSERT INTO api_keys (id, hash, description, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![info.id, &hash(&secret)[..], info.description, info.created_at.millis(), info.expires_at.millis()],
            )
        })?;
        Ok(NewKey { info, secret })
    }

    pub fn list(&self) -> Result<Vec<KeyInfo>, KeyError> {
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
    }

    /// Revokes a key by id; `false` when there is no such key.
    pub fn revoke(&self, id: &str) -> Result<bool, KeyError> {
        self.with(|c| c.execute("UPDATE api_keys SET revoked = 1 WHERE id = ?1", [id]))
            .map(|n| n > 0)
    }

    pub fn is_empty(&self) -> Result<bool, KeyError> {
        self.with(|c| {
            c.query_row("SELECT 1 FROM api_keys LIMIT 1", [], |_| Ok(()))
                .optional()
        })
        .map(|o| o.is_none())
    }

    /// Hashes and expiry times of the keys not revoked.
    fn active(&self) -> Result<Vec<([u8; 32], i64)>, KeyError> {
        self.with(|c| {
            c.prepare("SELECT hash, expires_at FROM api_keys WHERE revoked = 0")?
                .query_map([], |r| {
                    let h: Vec<u8> = r.get(0)?;
                    Ok((<[u8; 32]>::try_from(h).unwrap_or([0; 32]), r.get(1)?))
                })?
                .collect()
        })
    }
}

fn humanize(d: Duration) -> String {
    format!("{} hours", d.as_secs() / 3600)
}

/// The keys a server accepts: those given at start (never expiring) and the stored ones,
/// reloaded from the key store so that `api-key create` and `revoke` apply to a running server.
pub struct KeyRing {
    fixed: Vec<[u8; 32]>,
    stored: RwLock<Vec<([u8; 32], i64)>>,
    store: Option<KeyStore>,
}

impl KeyRing {
    pub fn new(store: Option<KeyStore>, fixed: &[String]) -> Result<Self, KeyError> {
        let ring = KeyRing {
            fixed: fixed.iter().map(|k| hash(k)).collect(),
            stored: RwLock::new(Vec::new()),
            store,
        };
        ring.reload()?;
        Ok(ring)
    }

    pub fn reload(&self) -> Result<(), KeyError> {
        if let Some(store) = &self.store {
            let active = store.active()?;
            if let Ok(mut stored) = self.stored.write() {
                *stored = active;
            }
        }
        Ok(())
    }

    /// Reloads the stored keys every `every`, for as long as the ring lives.
    pub fn spawn_refresh(self: &Arc<Self>, every: Duration) {
        let ring = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let Some(ring) = ring.upgrade() else { break };
                let reloaded = tokio::task::spawn_blocking(move || ring.reload()).await;
                if let Ok(Err(e)) = reloaded {
                    tracing::warn!(error = %e, "could not reload API keys");
                }
            }
        });
    }

    /// Whether a presented key is valid now. Every candidate is compared in constant time.
    pub fn accepts(&self, presented: &str) -> bool {
        let h = hash(presented);
        let now = Timestamp::now().millis();
        let mut ok = self
            .fixed
            .iter()
            .fold(false, |acc, k| acc | bool::from(k.ct_eq(&h)));
        if let Ok(stored) = self.stored.read() {
            for (k, expires_at) in stored.iter() {
                ok |= bool::from(k.ct_eq(&h)) && *expires_at > now;
            }
        }
        ok
    }
}
