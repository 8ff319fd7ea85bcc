//! The API keys a server accepts: fixed ones given at start and those of a [`KeySource`]
//! (SQLite in the data directory, or a DynamoDB table), reloaded every second so that a key
//! made or revoked by `trainers api-key` applies to every running server. Keys are compared by
//! their SHA-256 hash, in constant time.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use subtle::ConstantTimeEq;
use trainers_core::Timestamp;

pub use trainers_core::keys::{
    expiry_after, hash, FixedKey, KeyError, KeyInfo, KeySource, NewKey, DEFAULT_EXPIRY, MAX_EXPIRY,
    MIN_EXPIRY,
};

/// The keys a server accepts: those given at start (never expiring) and the source's, reloaded
/// from it so that `api-key create` and `revoke` apply to a running server.
pub struct KeyRing {
    fixed: Vec<[u8; 32]>,
    stored: RwLock<Vec<([u8; 32], i64)>>,
    source: Option<Arc<dyn KeySource>>,
}

impl KeyRing {
    /// A ring of `fixed` and the active keys of `source`, read once now.
    pub async fn new(
        source: Option<Arc<dyn KeySource>>,
        fixed: &[FixedKey],
    ) -> Result<Self, KeyError> {
        let ring = KeyRing {
            fixed: fixed.iter().map(FixedKey::hash).collect(),
            stored: RwLock::new(Vec::new()),
            source,
        };
        ring.reload().await?;
        Ok(ring)
    }

    /// Reads the source's active keys again; on error the keys read last stay.
    pub async fn reload(&self) -> Result<(), KeyError> {
        if let Some(source) = &self.source {
            let active = source.active().await?;
            // A panic elsewhere cannot leave the list half-written: recover it, as every lock
            // of the crate does.
            *self.stored.write().unwrap_or_else(PoisonError::into_inner) = active;
        }
        Ok(())
    }

    /// Reloads the source's keys every `every`, for as long as the ring lives. A reload that
    /// fails is logged and the last keys read stay in force.
    pub fn spawn_refresh(self: &Arc<Self>, every: Duration) {
        let ring = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(ring) = ring.upgrade() else { break };
                if let Err(e) = ring.reload().await {
                    tracing::warn!(
                        error = %trainers_core::error_chain(&e),
                        "could not reload API keys; the last ones read stay"
                    );
                }
            }
        });
    }

    /// Whether a presented key is valid now. Every candidate is compared in constant time. An
    /// empty key is never one (no key can be empty: see [`FixedKey`]).
    pub fn accepts(&self, presented: &str) -> bool {
        if presented.is_empty() {
            return false;
        }
        let h = hash(presented);
        let now = Timestamp::now().millis();
        let mut ok = self
            .fixed
            .iter()
            .fold(false, |acc, k| acc | bool::from(k.ct_eq(&h)));
        let stored = self.stored.read().unwrap_or_else(PoisonError::into_inner);
        for (k, expires_at) in stored.iter() {
            ok |= bool::from(k.ct_eq(&h)) && *expires_at > now;
        }
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Mutex;

    /// A source whose keys are set by the test, and that fails on demand.
    #[derive(Default)]
    struct Fake {
        keys: Mutex<Vec<([u8; 32], i64)>>,
        failing: AtomicBool,
    }

    #[async_trait::async_trait]
    impl KeySource for Fake {
        async fn create(&self, _: Timestamp, _: Option<String>) -> Result<NewKey, KeyError> {
            Err(KeyError::backend_msg("not here"))
        }
        async fn list(&self) -> Result<Vec<KeyInfo>, KeyError> {
            Ok(Vec::new())
        }
        async fn revoke(&self, _: &str) -> Result<bool, KeyError> {
            Ok(false)
        }
        async fn is_empty(&self) -> Result<bool, KeyError> {
            Ok(true)
        }
        async fn active(&self) -> Result<Vec<([u8; 32], i64)>, KeyError> {
            if self.failing.load(Ordering::SeqCst) {
                return Err(KeyError::backend_msg("down"));
            }
            Ok(self.keys.lock().map(|k| k.clone()).unwrap_or_default())
        }
    }

    const FIXED: &str = "da2-fixedkeyofthetests0000000";

    fn fixed_key() -> FixedKey {
        FixedKey::parse(FIXED).expect("a well-formed key")
    }

    /// Even a source that hands back the hash of an empty key (a hand-edited key table, say)
    /// does not make an empty header a key.
    #[tokio::test]
    async fn an_empty_key_is_never_accepted() {
        let fake = Arc::new(Fake::default());
        let later = Timestamp::now().millis() + 60_000;
        if let Ok(mut keys) = fake.keys.lock() {
            keys.push((hash(""), later));
        }
        let ring = KeyRing::new(Some(fake), &[fixed_key()])
            .await
            .expect("a ring");
        assert!(!ring.accepts(""));
        assert!(ring.accepts(FIXED));
    }

    #[tokio::test]
    async fn a_failed_reload_keeps_the_last_keys() {
        let fake = Arc::new(Fake::default());
        let later = Timestamp::now().millis() + 60_000;
        if let Ok(mut keys) = fake.keys.lock() {
            keys.push((hash("da2-a"), later));
        }
        let ring = KeyRing::new(Some(fake.clone()), &[fixed_key()])
            .await
            .expect("a ring");
        assert!(ring.accepts("da2-a") && ring.accepts(FIXED));
        assert!(!ring.accepts("da2-b"));
        fake.failing.store(true, Ordering::SeqCst);
        if let Ok(mut keys) = fake.keys.lock() {
            keys.clear();
        }
        assert!(ring.reload().await.is_err());
        assert!(ring.accepts("da2-a"), "kept after a failed reload");
        fake.failing.store(false, Ordering::SeqCst);
        ring.reload().await.expect("reload");
        assert!(!ring.accepts("da2-a") && ring.accepts(FIXED));
    }
}
