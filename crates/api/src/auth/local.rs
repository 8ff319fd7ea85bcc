//! Accounts with nothing to install (contract section 11, "Development"): the data directory
//! keeps one P-256 signing key, made on first use (mode 0600, never overwritten); `trainers
//! token create` signs Cognito-shaped access tokens with it, and `trainers serve --auth-local`
//! trusts exactly that key ([`LocalIssuer::verifier`]), whose JWKS ([`LocalIssuer::jwks`]) it
//! serves at `/.well-known/jwks.json`. Tokens carry [`LOCAL_ISSUER`] and [`LOCAL_CLIENT`], and a
//! `sub` derived from the key and the username, so one username is one owner for as long as
//! the key is kept.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::tokens::{AuthSettings, Limits, SettingsError, Verifier};

/// The `iss` of local tokens.
pub const LOCAL_ISSUER: &str = "urn:trainers:local";
/// The `client_id` of local tokens.
pub const LOCAL_CLIENT: &str = "trainers-local";
/// The signing key's file in the data directory (PKCS#8 PEM).
pub const KEY_FILE: &str = "auth-signing-key.pem";
/// The longest a local token may live.
pub const MAX_EXPIRY: Duration = Duration::from_secs(30 * 24 * 3600);
/// The most groups a local token may carry.
pub const MAX_GROUPS: usize = 50;
/// The longest username or group name.
pub const MAX_NAME: usize = 128;

#[derive(Debug, thiserror::Error)]
pub enum LocalIssuerError {
    #[error("cannot read the signing key {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write the signing key {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the signing key {path} is not a P-256 key")]
    NotAKey { path: PathBuf },
    #[error("cannot make a signing key: {0}")]
    Make(String),
    #[error("{0}")]
    Invalid(String),
    #[error("cannot sign the token: {0}")]
    Sign(String),
}

/// The data directory's signing key. Its Debug output shows the key id only.
pub struct LocalIssuer {
    kid: String,
    encoding: EncodingKey,
    jwk: serde_json::Value,
}

impl std::fmt::Debug for LocalIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalIssuer")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl LocalIssuer {
    /// The key of `data_dir`, made (and kept) if there is none yet.
    pub fn load_or_create(data_dir: &Path) -> Result<Self, LocalIssuerError> {
        let path = data_dir.join(KEY_FILE);
        let pem = match std::fs::read_to_string(&path) {
            Ok(pem) => pem,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
                    .map_err(|e| LocalIssuerError::Make(e.to_string()))?;
                match write_new_secret(&path, &pair.serialize_pem()) {
                    Ok(()) => pair.serialize_pem(),
                    // Another process made it first: use that one.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        std::fs::read_to_string(&path).map_err(|source| LocalIssuerError::Read {
                            path: path.clone(),
                            source,
                        })?
                    }
                    Err(source) => return Err(LocalIssuerError::Write { path, source }),
                }
            }
            Err(source) => return Err(LocalIssuerError::Read { path, source }),
        };
        let not_a_key = || LocalIssuerError::NotAKey { path: path.clone() };
        let pair = rcgen::KeyPair::from_pem(&pem).map_err(|_| not_a_key())?;
        if !pair.is_compatible(&rcgen::PKCS_ECDSA_P256_SHA256) {
            return Err(not_a_key());
        }
        let point = pair.public_key_raw();
        if point.len() != 65 || point[0] != 4 {
            return Err(not_a_key());
        }
        let digest = Sha256::digest(point);
        let kid = format!("local-{}", hex(&digest[..8]));
        let jwk = json!({
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..]),
        });
        Ok(LocalIssuer {
            encoding: EncodingKey::from_ec_der(&pair.serialize_der()),
            kid,
            jwk,
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The JWKS of this key, as `/.well-known/jwks.json` serves it.
    pub fn jwks(&self) -> String {
        json!({ "keys": [self.jwk] }).to_string()
    }

    /// The settings of a server that trusts this key.
    pub fn settings(&self, admin_group: Option<String>) -> AuthSettings {
        AuthSettings {
            issuer: LOCAL_ISSUER.to_string(),
            client_ids: vec![LOCAL_CLIENT.to_string()],
            jwks_url: None,
            admin_group,
        }
    }

    /// A verifier that trusts this key only, and never fetches.
    pub fn verifier(&self, admin_group: Option<String>) -> Result<Verifier, SettingsError> {
        Verifier::with_keys(
            self.settings(admin_group),
            Limits::default(),
            self.jwks().as_bytes(),
        )
    }

    /// The `sub` of `username`'s tokens: the same for as long as this key is kept.
    pub fn sub(&self, username: &str) -> String {
        let d = Sha256::digest(format!("{}\n{username}", self.kid));
        let h = hex(&d[..16]);
        format!(
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        )
    }

    /// A Cognito-shaped access token for `username` in `groups`, valid for `expires_in` (at
    /// most [`MAX_EXPIRY`]).
    pub fn token(
        &self,
        username: &str,
        groups: &[String],
        expires_in: Duration,
    ) -> Result<String, LocalIssuerError> {
        name("username", username)?;
        if groups.len() > MAX_GROUPS {
            return Err(LocalIssuerError::Invalid(format!(
                "at most {MAX_GROUPS} groups"
            )));
        }
        for g in groups {
            name("group", g)?;
        }
        if expires_in.is_zero() || expires_in > MAX_EXPIRY {
            return Err(LocalIssuerError::Invalid(
                "a token expires after more than 0 seconds and at most 30 days".into(),
            ));
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let claims = json!({
            "iss": LOCAL_ISSUER, "sub": self.sub(username), "token_use": "access",
            "client_id": LOCAL_CLIENT, "username": username, "cognito:groups": groups,
            "iat": now, "exp": now + expires_in.as_secs(),
        });
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.encoding)
            .map_err(|e| LocalIssuerError::Sign(e.to_string()))
    }
}

/// A username or group: 1 to [`MAX_NAME`] characters, no control characters.
fn name(what: &str, value: &str) -> Result<(), LocalIssuerError> {
    let n = value.chars().count();
    if n == 0 || n > MAX_NAME || value.chars().any(char::is_control) {
        return Err(LocalIssuerError::Invalid(format!(
            "a {what} has 1 to {MAX_NAME} characters and no control characters"
        )));
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes a new file, mode 0600 whatever the umask (never through a symbolic link:
/// `create_new` is `O_CREAT|O_EXCL`), and syncs it.
fn write_new_secret(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups(names: &[&str]) -> Vec<String> {
        names.iter().map(|g| g.to_string()).collect()
    }

    #[tokio::test]
    async fn a_local_token_verifies_on_a_server_that_trusts_the_data_directorys_key() {
        let dir = tempfile::tempdir().expect("dir");
        let issuer = LocalIssuer::load_or_create(dir.path()).expect("a key");
        let verifier = issuer.verifier(Some("Admins".into())).expect("verifier");
        let token = issuer
            .token("jane", &groups(&["Admins"]), Duration::from_secs(3600))
            .expect("token");
        let got = verifier.verify(&token).await.expect("verified");
        assert_eq!(got.user.username, "jane");
        assert_eq!(got.user.groups, ["Admins"]);
        assert_eq!(got.user.sub, issuer.sub("jane"));
        assert_eq!(got.user.sub.len(), 36);
        assert_ne!(issuer.sub("jane"), issuer.sub("joe"));
        assert_eq!(verifier.keys_status().fetches, 0);
        assert!(!format!("{issuer:?}").contains("PRIVATE"));

        // The same directory: the same key, the same owners.
        let again = LocalIssuer::load_or_create(dir.path()).expect("the key again");
        assert_eq!(again.kid(), issuer.kid());
        assert_eq!(again.sub("jane"), issuer.sub("jane"));
        // Another directory's key is another issuer's: its tokens are refused.
        let other_dir = tempfile::tempdir().expect("dir");
        let other = LocalIssuer::load_or_create(other_dir.path()).expect("another key");
        let foreign = other
            .token("jane", &[], Duration::from_secs(60))
            .expect("token");
        assert!(verifier.verify(&foreign).await.is_err());
        assert_eq!(
            verifier.keys_status().fetches,
            0,
            "a static verifier never fetches"
        );
    }

    #[cfg(unix)]
    #[test]
    fn the_key_file_is_private_and_never_replaced() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("dir");
        let issuer = LocalIssuer::load_or_create(dir.path()).expect("a key");
        let path = dir.path().join(KEY_FILE);
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let pem = std::fs::read_to_string(&path).expect("pem");
        LocalIssuer::load_or_create(dir.path()).expect("again");
        assert_eq!(std::fs::read_to_string(&path).expect("pem"), pem);
        assert!(issuer.jwks().contains(issuer.kid()));
        assert!(
            !issuer.jwks().contains("\"d\""),
            "no private part in the JWKS"
        );
        std::fs::write(&path, "not a key").expect("garble");
        assert!(matches!(
            LocalIssuer::load_or_create(dir.path()),
            Err(LocalIssuerError::NotAKey { .. })
        ));
    }

    #[test]
    fn names_groups_and_expiry_are_bounded() {
        let dir = tempfile::tempdir().expect("dir");
        let issuer = LocalIssuer::load_or_create(dir.path()).expect("a key");
        let hour = Duration::from_secs(3600);
        assert!(issuer.token("", &[], hour).is_err());
        assert!(issuer.token(&"x".repeat(129), &[], hour).is_err());
        assert!(issuer.token("ja\nne", &[], hour).is_err());
        assert!(issuer.token("jane", &groups(&[""]), hour).is_err());
        assert!(issuer.token("jane", &vec!["g".into(); 51], hour).is_err());
        assert!(issuer.token("jane", &[], Duration::ZERO).is_err());
        assert!(issuer
            .token("jane", &[], MAX_EXPIRY + Duration::from_secs(1))
            .is_err());
        assert!(issuer.token("jane", &[], MAX_EXPIRY).is_ok());
    }
}
