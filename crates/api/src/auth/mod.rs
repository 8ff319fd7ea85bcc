//! Who is calling: the credentials a request presents, decided once at the edge (HTTP, and each
//! WebSocket protocol's handshake and messages): an API key ([`keys`]) or a signed-in user's
//! token ([`tokens`]; [`local`]: the data directory's own issuer, for development); where they
//! are presented is named here once.

pub mod keys;
pub mod local;
pub mod tokens;

use std::sync::Arc;
use std::time::SystemTime;

use trainers_core::Caller;

pub use keys::{KeyRing, KeySource};
pub use tokens::{TokenError, Verifier};

/// The header (HTTP), or key of a header object (AppSync's real-time handshake and `start`,
/// `graphql-transport-ws`'s `connection_init`), that carries an API key. Matched in any case.
pub const API_KEY_HEADER: &str = "x-api-key";

/// The header (HTTP), or key of a header object (as for [`API_KEY_HEADER`]), that carries a
/// signed-in user's token, with or without `Bearer `. Matched in any case.
pub const AUTHORIZATION_HEADER: &str = "authorization";

/// Who may call a server: its API keys, and with accounts, the tokens its [`Verifier`] accepts.
/// Each edge (HTTP, both WebSocket protocols) asks it once per request or connection.
#[derive(Clone)]
pub struct Authenticator {
    keys: Arc<KeyRing>,
    verifier: Option<Verifier>,
}

/// A caller whose credentials are valid, and until when (a token's `exp`; an API key: no end).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authenticated {
    pub caller: Caller,
    pub expires_at: Option<SystemTime>,
}

/// Credentials refused: HTTP 401, `UnauthorizedException` (over WebSockets, `errorCode` 401).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Neither a valid-looking API key nor a token (with accounts) was presented.
    #[error("no credentials")]
    Missing,
    /// The API key is not one of the server's.
    #[error("the API key is not valid")]
    BadKey,
    /// The token is not valid; the message says which check failed (never the token).
    #[error(transparent)]
    Token(#[from] TokenError),
}

impl Authenticator {
    /// `verifier`: `Some` when accounts are on.
    pub fn new(keys: Arc<KeyRing>, verifier: Option<Verifier>) -> Self {
        Authenticator { keys, verifier }
    }

    pub fn verifier(&self) -> Option<&Verifier> {
        self.verifier.as_ref()
    }

    /// Whether these credentials present anything this server reads: an API key, or with
    /// accounts a token. (Without accounts an `Authorization` alone presents nothing, as before
    /// accounts existed: an AppSync connection may then still show its key in a `start`.)
    pub fn presented(&self, api_key: Option<&str>, authorization: Option<&str>) -> bool {
        api_key.is_some()
            || (self.verifier.is_some() && authorization.is_some_and(|t| !t.trim().is_empty()))
    }

    /// Who presents `api_key` (the [`API_KEY_HEADER`]) and `authorization` (the
    /// [`AUTHORIZATION_HEADER`]). With accounts, a token decides when one is presented (an
    /// invalid one is refused whatever the key); otherwise the API key does. Without accounts
    /// the `Authorization` header is not read at all, as before accounts existed.
    pub async fn caller(
        &self,
        api_key: Option<&str>,
        authorization: Option<&str>,
    ) -> Result<Authenticated, AuthError> {
        let token = authorization.filter(|t| !t.trim().is_empty());
        if let (Some(verifier), Some(token)) = (&self.verifier, token) {
            let verified = verifier.verify(token).await?;
            return Ok(Authenticated {
                caller: Caller::User(verified.user),
                expires_at: Some(verified.expires_at),
            });
        }
        match api_key {
            None => Err(AuthError::Missing),
            Some(key) if self.keys.accepts(key) => Ok(Authenticated {
                caller: Caller::ApiKey,
                expires_at: None,
            }),
            Some(_) => Err(AuthError::BadKey),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::auth::keys::FixedKey;
    use crate::auth::local::LocalIssuer;

    const KEY: &str = "da2-abcdefghijklmnopqrstuvwxyz";

    async fn ring() -> Arc<KeyRing> {
        let key = FixedKey::parse(KEY).expect("a key");
        Arc::new(KeyRing::new(None, &[key]).await.expect("ring"))
    }

    #[tokio::test]
    async fn without_accounts_only_the_api_key_counts() {
        let auth = Authenticator::new(ring().await, None);
        let key = auth.caller(Some(KEY), Some("Bearer junk")).await;
        assert_eq!(key.map(|a| a.caller), Ok(Caller::ApiKey));
        assert_eq!(
            auth.caller(Some("nope"), None).await,
            Err(AuthError::BadKey)
        );
        assert_eq!(
            auth.caller(None, Some("Bearer junk")).await,
            Err(AuthError::Missing)
        );
    }

    #[tokio::test]
    async fn with_accounts_a_token_decides_when_there_is_one() {
        let dir = tempfile::tempdir().expect("dir");
        let issuer = LocalIssuer::load_or_create(dir.path()).expect("issuer");
        let verifier = issuer.verifier(Some("Admins".into())).expect("verifier");
        let auth = Authenticator::new(ring().await, Some(verifier));
        let token = issuer
            .token("jane", &[], Duration::from_secs(600))
            .expect("token");
        let jane = auth
            .caller(None, Some(&format!("Bearer {token}")))
            .await
            .expect("jane");
        assert!(matches!(&jane.caller, Caller::User(u) if u.username == "jane"));
        assert!(jane.expires_at.is_some());
        // A bad token is refused even beside a good key.
        assert!(matches!(
            auth.caller(Some(KEY), Some("a.b.c")).await,
            Err(AuthError::Token(_))
        ));
        // The API key alone is still a caller (reads; the service refuses its mutations).
        let key = auth.caller(Some(KEY), Some("  ")).await.expect("key");
        assert_eq!((key.caller, key.expires_at), (Caller::ApiKey, None));
        assert_eq!(auth.caller(None, None).await, Err(AuthError::Missing));
    }
}
