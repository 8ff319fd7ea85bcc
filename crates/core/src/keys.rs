//! API keys, as AppSync makes them: `da2-` and 26 random characters, expiring in 1 to 365 days
//! (7 by default). Only a key's SHA-256 hash is kept; the server compares hashes in constant
//! time. Where keys are kept is a [`KeySource`]: SQLite in the data directory
//! (`trainers-store-embedded`) or a DynamoDB table (`trainers-store-dynamodb`).

use std::time::Duration;

use async_trait::async_trait;
use rand::Rng;
use sha2::{Digest, Sha256};

use crate::model::Timestamp;

pub const DEFAULT_EXPIRY: Duration = Duration::from_secs(7 * 24 * 3600);
pub const MIN_EXPIRY: Duration = Duration::from_secs(24 * 3600);
pub const MAX_EXPIRY: Duration = Duration::from_secs(365 * 24 * 3600);

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("an API key must expire in 1 to 365 days, not {0}")]
    Expiry(String),
    /// The key source failed (a file, a table): `context` says which and what failed;
    /// `source`, when there is one, is the error that caused it, kept whole for the log
    /// ([`crate::error_chain`] puts the chain on one line), as [`StoreError`] keeps it.
    ///
    /// [`StoreError`]: crate::StoreError
    #[error("{context}")]
    Backend {
        context: String,
        #[source]
        source: Option<crate::store::BoxError>,
    },
}

impl KeyError {
    /// A failure of the key source, caused by `source`.
    pub fn backend(
        context: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        KeyError::Backend {
            context: context.into(),
            source: Some(Box::new(source)),
        }
    }

    /// A failure that no other error caused (`context` says all there is).
    pub fn backend_msg(context: impl Into<String>) -> Self {
        KeyError::Backend {
            context: context.into(),
            source: None,
        }
    }
}

/// A key given to a server at start (`--api-key`, `TRAINERS_API_KEY`), which never expires:
/// parsed once, so that an empty or malformed one stops the server instead of opening it. An
/// empty key (`TRAINERS_API_KEY=` from an unset variable in a compose file, a trailing comma)
/// would otherwise match the empty `x-api-key` header of any request.
#[derive(Clone, PartialEq, Eq)]
pub struct FixedKey(String);

/// The fewest characters a fixed key may have (AppSync's keys have 30).
pub const MIN_FIXED_KEY_CHARS: usize = 16;
/// The most: a header of reasonable size.
pub const MAX_FIXED_KEY_CHARS: usize = 256;

/// Why a fixed key is refused. Never holds the key itself: the message may reach a log.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum FixedKeyError {
    #[error("it is empty (an unset variable, or a trailing comma?)")]
    Empty,
    #[error("it has {0} characters; a key has {MIN_FIXED_KEY_CHARS} to {MAX_FIXED_KEY_CHARS}")]
    Length(usize),
    #[error("it holds a space, a comma or a character that is not visible ASCII")]
    Characters,
}

impl FixedKey {
    pub fn parse(key: &str) -> Result<FixedKey, FixedKeyError> {
        if key.is_empty() {
            return Err(FixedKeyError::Empty);
        }
        if !key.bytes().all(|b| b.is_ascii_graphic() && b != b',') {
            return Err(FixedKeyError::Characters);
        }
        if !(MIN_FIXED_KEY_CHARS..=MAX_FIXED_KEY_CHARS).contains(&key.len()) {
            return Err(FixedKeyError::Length(key.len()));
        }
        Ok(FixedKey(key.to_string()))
    }

    /// Every key of a list, or which one is wrong (counted from 1) and why.
    pub fn parse_all(keys: &[String]) -> Result<Vec<FixedKey>, (usize, FixedKeyError)> {
        keys.iter()
            .enumerate()
            .map(|(n, k)| FixedKey::parse(k).map_err(|e| (n + 1, e)))
            .collect()
    }

    pub fn hash(&self) -> [u8; 32] {
        hash(&self.0)
    }
}

/// Never shows the key.
impl std::fmt::Debug for FixedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FixedKey(..)")
    }
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

/// A key just made: the only time its secret is known (and `Debug` never shows it).
pub struct NewKey {
    pub info: KeyInfo,
    pub secret: String,
}

impl std::fmt::Debug for NewKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewKey")
            .field("info", &self.info)
            .field("secret", &"<hidden>")
            .finish()
    }
}

impl NewKey {
    /// A new key with a fresh id and secret, made now; it is for the caller to store.
    pub fn generate(expires_at: Timestamp, description: Option<String>) -> NewKey {
        NewKey {
            info: KeyInfo {
                id: make_id(),
                description,
                created_at: Timestamp::now(),
                expires_at,
                revoked: false,
            },
            secret: make_secret(),
        }
    }

    /// The hash a source keeps instead of the secret.
    pub fn hash(&self) -> [u8; 32] {
        hash(&self.secret)
    }
}

/// A key's hash (SHA-256 of its text): what sources keep and what presented keys are compared by.
pub fn hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// A key of AppSync's shape: `da2-` and 26 random characters.
pub fn make_secret() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut rng = rand::rng();
    let tail: String = (0..26)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    format!("da2-{tail}")
}

/// A key's id, shown by `api-key list` and given to `api-key revoke`: `key-` and 12 hex digits.
/// Ids never contain `#`, which DynamoDB's key table keeps for its other items.
pub fn make_id() -> String {
    let n: u64 = rand::rng().random();
    format!("key-{:012x}", n & 0xffff_ffff_ffff)
}

/// When a key made now and valid for `expires_in` expires; `expires_in` must be 1 to 365 days.
pub fn expiry_after(expires_in: Duration) -> Result<Timestamp, KeyError> {
    if !(MIN_EXPIRY..=MAX_EXPIRY).contains(&expires_in) {
        return Err(KeyError::Expiry(humanize(expires_in)));
    }
    Ok(Timestamp::from_millis(
        Timestamp::now().millis() + i64::try_from(expires_in.as_millis()).unwrap_or(i64::MAX),
    ))
}

fn humanize(d: Duration) -> String {
    format!("{} hours", d.as_secs() / 3600)
}

/// Where API keys are kept. Every server on one source accepts the same keys: a server reloads
/// [`KeySource::active`] every second, so that a key made or revoked anywhere applies to all.
#[async_trait]
pub trait KeySource: Send + Sync {
    /// Makes a key that expires at `expires_at`, with no bounds (commands check them with
    /// [`expiry_after`], or call [`KeySource::create_expiring_in`]).
    async fn create(
        &self,
        expires_at: Timestamp,
        description: Option<String>,
    ) -> Result<NewKey, KeyError>;

    /// Every key, revoked and expired ones too, in creation order.
    async fn list(&self) -> Result<Vec<KeyInfo>, KeyError>;

    /// Revokes a key by id; `false` when there is no such key. Revoking twice is not an error.
    async fn revoke(&self, id: &str) -> Result<bool, KeyError>;

    /// Whether no key was ever made (revoked and expired keys count).
    async fn is_empty(&self) -> Result<bool, KeyError>;

    /// Hashes and expiry times (milliseconds since the epoch) of the keys not revoked, expired
    /// ones included: the ring checks expiry at each request.
    async fn active(&self) -> Result<Vec<([u8; 32], i64)>, KeyError>;

    /// Makes a key valid for `expires_in`, which must be 1 to 365 days, as AppSync's.
    async fn create_expiring_in(
        &self,
        expires_in: Duration,
        description: Option<String>,
    ) -> Result<NewKey, KeyError> {
        self.create(expiry_after(expires_in)?, description).await
    }

    /// Makes a key only when the source has none, for the first start of a server. Sources
    /// that several servers share make it at most once even when they start together (`None`
    /// for the others); this default, check then create, does not guard that.
    async fn create_first(
        &self,
        expires_at: Timestamp,
        description: Option<String>,
    ) -> Result<Option<NewKey>, KeyError> {
        if !self.is_empty().await? {
            return Ok(None);
        }
        self.create(expires_at, description).await.map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_key_is_never_empty_short_or_spaced() {
        assert_eq!(FixedKey::parse(""), Err(FixedKeyError::Empty));
        assert_eq!(FixedKey::parse("da2-short"), Err(FixedKeyError::Length(9)));
        for bad in [
            "da2-abcdefghijklmno ",
            "da2-abcdefghij,klmnop",
            "da2-abcdéfghijklmnop",
            "da2-abcdefghijklmnop\n",
        ] {
            assert_eq!(
                FixedKey::parse(bad),
                Err(FixedKeyError::Characters),
                "{bad:?}"
            );
        }
        assert!(FixedKey::parse("da2-conformancetestkey0000000").is_ok());
        let trailing_comma = vec!["da2-conformancetestkey0000000".to_string(), String::new()];
        assert_eq!(
            FixedKey::parse_all(&trailing_comma),
            Err((2, FixedKeyError::Empty))
        );
        let key = FixedKey::parse("da2-conformancetestkey0000000").expect("a key");
        assert!(!format!("{key:?}").contains("conformance"));
    }

    #[test]
    fn secrets_and_ids_have_their_shapes() {
        let key = NewKey::generate(Timestamp::from_millis(0), None);
        assert!(key.secret.starts_with("da2-") && key.secret.len() == 30);
        assert!(key.info.id.starts_with("key-") && key.info.id.len() == 16);
        assert!(!key.info.id.contains('#'));
        assert_eq!(key.hash(), hash(&key.secret));
        assert_ne!(make_secret(), make_secret());
    }

    #[test]
    fn expiry_is_1_to_365_days() {
        for ok in [MIN_EXPIRY, DEFAULT_EXPIRY, MAX_EXPIRY] {
            assert!(expiry_after(ok).is_ok(), "{ok:?}");
        }
        for bad in [
            Duration::ZERO,
            MIN_EXPIRY - Duration::from_secs(1),
            MAX_EXPIRY + Duration::from_secs(1),
        ] {
            let e = expiry_after(bad).err().map(|e| e.to_string());
            assert!(e.is_some_and(|e| e.contains("1 to 365 days")), "{bad:?}");
        }
    }
}
