//! Signed-in callers (contract section 11): a [`Verifier`] turns the JWT a request presents
//! (`Authorization: [Bearer ]<JWT>` over HTTP, or where each WebSocket protocol carries
//! credentials) into a verified [`User`], or a [`TokenError`] that says which check failed and
//! never holds the token. Only RS256 and ES256 signatures with a key of the issuer's JWKS count
//! (never `none`, never an HMAC: the public key can never serve as a shared secret); `iss`, the
//! app client (Cognito access tokens: `client_id`; ID tokens: `aud`; other issuers: either),
//! `exp` and `nbf` (a minute of leeway) are checked. The JWKS is fetched with bounds (time and
//! size), its keys are cached by `kid`, and a token with an unknown `kid` refetches it at most
//! once per interval, however many such tokens arrive; while the issuer is down, slow or answers
//! garbage, the keys fetched last keep working. Verified tokens are cached (bounded, keyed by
//! their SHA-256, never past their `exp`), so a signed-in request costs about what an API-key
//! request costs. Used by the HTTP router and both WebSocket protocols, and nothing else.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use quick_cache::sync::Cache;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::sync::atomic::Ordering;
use trainers_core::{error_chain, AccessPolicy, User};

/// Where a server's signed-in callers come from: `serve --auth-issuer --auth-client-id
/// [--auth-jwks-url] [--admin-group]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthSettings {
    /// The tokens' `iss`, exactly: a Cognito user pool
    /// (`https://cognito-idp.REGION.amazonaws.com/POOL_ID`) or any OpenID Connect issuer.
    pub issuer: String,
    /// The app clients tokens must be issued to (at least one).
    pub client_ids: Vec<String>,
    /// Where the signing keys are; `None`: `ISSUER/.well-known/jwks.json`.
    pub jwks_url: Option<String>,
    /// Members of this group (`cognito:groups`) may change every trainer.
    pub admin_group: Option<String>,
}

impl AuthSettings {
    /// The JWKS URL, given or the issuer's default.
    pub fn jwks_url(&self) -> String {
        match &self.jwks_url {
            Some(url) => url.clone(),
            None => format!(
                "{}/.well-known/jwks.json",
                self.issuer.trim_end_matches('/')
            ),
        }
    }

    /// The rules for mutations that these settings mean: owners, and this admin group.
    pub fn access_policy(&self) -> AccessPolicy {
        AccessPolicy::Owners {
            admin_group: self.admin_group.clone(),
        }
    }
}

/// The bounds of a [`Verifier`]; the defaults are the contract's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// A JWKS fetch, connect to last byte.
    pub fetch_timeout: Duration,
    /// A token with an unknown `kid` refetches the JWKS at most once per this interval.
    pub refetch_after: Duration,
    /// The largest JWKS body read.
    pub max_jwks_bytes: usize,
    /// The longest credential looked at (longer ones are refused before any decoding).
    pub max_token_bytes: usize,
    /// How many verified tokens are remembered.
    pub cached_tokens: usize,
    /// How far past `exp` (and before `nbf`) a token is still accepted.
    pub leeway: Duration,
    /// How many signatures are checked at once. A token not seen before costs a signature
    /// check (hundreds of µs of CPU); the others wait their turn, so a flood of forged tokens
    /// takes at most this many cores while cached tokens and the API key go on.
    pub verifications: usize,
    /// How many refused tokens are remembered (by digest): the same forged or expired token sent
    /// again is refused without another signature check.
    pub refused_tokens: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fetch_timeout: Duration::from_secs(2),
            refetch_after: Duration::from_secs(10),
            max_jwks_bytes: 64 * 1024,
            max_token_bytes: 16 * 1024,
            cached_tokens: 10_000,
            leeway: Duration::from_secs(60),
            // Half the cores (one on two): the other half serves everything else.
            verifications: std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1)),
            refused_tokens: 10_000,
        }
    }
}

/// A token that verified: who it names, and until when it is valid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub user: User,
    /// The token's `exp`. A subscription opened with this token ends then.
    pub expires_at: SystemTime,
}

/// Why a credential is not a valid token. Each message says which check failed; none holds the
/// token or any part of it. Every one is AppSync's `UnauthorizedException` (HTTP 401).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("No token was given")]
    Missing,
    #[error("The token is longer than {max} bytes")]
    TooLong { max: usize },
    /// Not three base64url parts, or a header or payload that is not the JSON it must be.
    #[error("The token is malformed: {0}")]
    Malformed(&'static str),
    #[error("The token's algorithm is not accepted: only RS256 and ES256 are")]
    Algorithm,
    #[error("The token's algorithm is not that of its key")]
    KeyAlgorithm,
    #[error("The token names no key (kid)")]
    NoKeyId,
    #[error("The token's key is not one of the issuer's keys")]
    UnknownKey,
    #[error("The token's signature is not valid")]
    Signature,
    #[error("The token has expired")]
    Expired,
    #[error("The token is not valid yet")]
    NotYetValid,
    #[error("The token was not issued by the configured issuer")]
    Issuer,
    #[error("The token was not issued to an accepted client")]
    Client,
    #[error("The token's token_use is neither access nor id")]
    TokenUse,
    #[error("The token has no {0} claim")]
    MissingClaim(&'static str),
    #[error("The token's {0} claim is not valid")]
    Claim(&'static str),
}

impl TokenError {
    /// Whether the same token would be refused again, whatever happens meanwhile: not a token
    /// whose key may yet be fetched, nor one not valid yet.
    fn stays_refused(&self) -> bool {
        !matches!(self, TokenError::UnknownKey | TokenError::NotYetValid)
    }
}

/// Why the JWKS could not be read; the keys read last stay in use.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JwksError {
    #[error("the JWKS did not answer within {0:?}")]
    Timeout(Duration),
    #[error("the JWKS request failed: {0}")]
    Request(String),
    #[error("the JWKS answered HTTP {0}")]
    Status(u16),
    #[error("the JWKS is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the JWKS is not a JSON key set: {0}")]
    Invalid(String),
    #[error("the JWKS holds no RS256 or ES256 signing key with a kid")]
    NoUsableKeys,
}

/// Settings a [`Verifier`] cannot work with.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("the issuer is empty")]
    NoIssuer,
    #[error("no client id is given")]
    NoClientId,
    #[error("the JWKS URL {0:?} is not an http:// or https:// URL")]
    JwksUrl(String),
    #[error("cannot make the JWKS client: {0}")]
    Client(String),
    #[error("the keys given are not usable: {0}")]
    Keys(JwksError),
}

/// What a server knows of its issuer's keys, for `/readyz` and the logs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeysStatus {
    /// The keys in use.
    pub keys: usize,
    /// How many fetches were made (successful or not).
    pub fetches: u64,
    /// When the keys in use were fetched.
    pub fetched_at: Option<SystemTime>,
    /// Why the last fetch failed, when it did (the keys fetched before stay in use).
    pub last_error: Option<JwksError>,
}

/// Verifies tokens of one issuer; cheap to clone (one shared state).
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

struct Inner {
    settings: AuthSettings,
    /// `None`: the keys were given, never fetched ([`Verifier::with_keys`]).
    jwks_url: Option<reqwest::Url>,
    limits: Limits,
    http: reqwest::Client,
    keys: RwLock<Arc<HashMap<String, Arc<Key>>>>,
    /// Held during a fetch (one at a time); the time of the last fetch made for an unknown kid.
    fetching: tokio::sync::Mutex<Option<Instant>>,
    status: Mutex<KeysStatus>,
    /// Verified tokens by the SHA-256 of their text.
    tokens: Cache<[u8; 32], Verified>,
    /// Tokens refused for what they are (not for a key not fetched yet, nor for being early),
    /// by the SHA-256 of their text; forgotten when the issuer's keys change.
    refused: Cache<[u8; 32], TokenError>,
    /// One permit per signature check that may run at once ([`Limits::verifications`]).
    verifying: tokio::sync::Semaphore,
    checks: CheckCounters,
}

/// Signature checks made, running, and the most that ran at once.
#[derive(Default)]
struct CheckCounters {
    total: std::sync::atomic::AtomicU64,
    running: std::sync::atomic::AtomicUsize,
    peak: std::sync::atomic::AtomicUsize,
}

/// The signature checks a [`Verifier`] has made ([`Verifier::signature_checks`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SignatureChecks {
    /// Checks made since it was built (one per token neither cached nor remembered as refused).
    pub total: u64,
    /// The most that ran at once; never more than [`Limits::verifications`].
    pub peak: usize,
}

/// One signing key of the JWKS, with the one algorithm it verifies.
struct Key {
    alg: Algorithm,
    key: DecodingKey,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("issuer", &self.inner.settings.issuer)
            .field(
                "jwks_url",
                &self.inner.jwks_url.as_ref().map(|u| u.as_str()),
            )
            .field("keys", &self.keys().len())
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// A verifier with the contract's bounds. It holds no keys until [`Verifier::refresh`] (at
    /// start) or the first token fetches them.
    pub fn new(settings: AuthSettings) -> Result<Self, SettingsError> {
        Verifier::with_limits(settings, Limits::default())
    }

    pub fn with_limits(settings: AuthSettings, limits: Limits) -> Result<Self, SettingsError> {
        check(&settings)?;
        let url = settings.jwks_url();
        let jwks_url = reqwest::Url::parse(&url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or(SettingsError::JwksUrl(url))?;
        Verifier::build(settings, limits, Some(jwks_url))
    }

    /// A verifier that trusts exactly the keys of `jwks` and never fetches any (`--auth-local`:
    /// the data directory's own key); `settings.jwks_url` is not used.
    pub fn with_keys(
        settings: AuthSettings,
        limits: Limits,
        jwks: &[u8],
    ) -> Result<Self, SettingsError> {
        let keys = parse_jwks(jwks).map_err(SettingsError::Keys)?;
        let verifier = Verifier::build(settings, limits, None)?;
        *verifier
            .inner
            .keys
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(keys);
        Ok(verifier)
    }

    fn build(
        settings: AuthSettings,
        limits: Limits,
        jwks_url: Option<reqwest::Url>,
    ) -> Result<Self, SettingsError> {
        check(&settings)?;
        let http = reqwest::Client::builder()
            .timeout(limits.fetch_timeout)
            .connect_timeout(limits.fetch_timeout)
            // The keys are at the URL given, not wherever it points.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| SettingsError::Client(e.to_string()))?;
        Ok(Verifier {
            inner: Arc::new(Inner {
                tokens: Cache::new(limits.cached_tokens.max(1)),
                refused: Cache::new(limits.refused_tokens.max(1)),
                verifying: tokio::sync::Semaphore::new(limits.verifications.max(1)),
                checks: CheckCounters::default(),
                settings,
                jwks_url,
                limits,
                http,
                keys: RwLock::new(Arc::new(HashMap::new())),
                fetching: tokio::sync::Mutex::new(None),
                status: Mutex::new(KeysStatus::default()),
            }),
        })
    }

    pub fn settings(&self) -> &AuthSettings {
        &self.inner.settings
    }

    /// Fetches the JWKS now (at start, or on a schedule); returns how many keys are in use.
    /// On failure the keys fetched before stay in use.
    pub async fn refresh(&self) -> Result<usize, JwksError> {
        let _one_at_a_time = self.inner.fetching.lock().await;
        self.fetch().await
    }

    /// Refetches the JWKS in the background (a verifier that fetches; one given its keys has
    /// nothing to refetch): every `retry` until a fetch has succeeded (an issuer unreachable at
    /// start), then every `every` (keys the issuer adds or drops). Ends when the verifier's last
    /// clone is dropped.
    pub fn spawn_refresh(&self, retry: Duration, every: Duration) {
        if self.inner.jwks_url.is_none() {
            return;
        }
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            loop {
                let fetched = match weak.upgrade() {
                    Some(inner) => lock(&inner.status).fetched_at.is_some(),
                    None => return,
                };
                tokio::time::sleep(if fetched { every } else { retry }).await;
                let Some(inner) = weak.upgrade() else { return };
                // A failure is logged and kept in the status; the keys fetched before stay.
                let _ = Verifier { inner }.refresh().await;
            }
        });
    }

    /// What is known of the issuer's keys now.
    pub fn keys_status(&self) -> KeysStatus {
        let mut status = lock(&self.inner.status).clone();
        status.keys = self.keys().len();
        status
    }

    /// The signature checks made so far, and the most that ran at once.
    pub fn signature_checks(&self) -> SignatureChecks {
        SignatureChecks {
            total: self.inner.checks.total.load(Ordering::Relaxed),
            peak: self.inner.checks.peak.load(Ordering::SeqCst),
        }
    }

    /// How many verified tokens are remembered now.
    pub fn cached_tokens(&self) -> usize {
        self.inner.tokens.len()
    }

    /// Verifies `credential`: a JWT, with or without `Bearer `.
    pub async fn verify(&self, credential: &str) -> Result<Verified, TokenError> {
        let max = self.inner.limits.max_token_bytes;
        if credential.len() > max {
            return Err(TokenError::TooLong { max });
        }
        let token = strip_bearer(credential.trim());
        if token.is_empty() {
            return Err(TokenError::Missing);
        }
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(known) = self.inner.tokens.get(&digest) {
            if SystemTime::now() < known.expires_at {
                return Ok(known);
            }
            self.inner.tokens.remove(&digest);
        }
        if let Some(refused) = self.inner.refused.get(&digest) {
            return Err(refused);
        }
        let verified = match self.verify_uncached(token).await {
            Ok(verified) => verified,
            Err(e) => {
                if e.stays_refused() {
                    self.inner.refused.insert(digest, e.clone());
                }
                return Err(e);
            }
        };
        if SystemTime::now() < verified.expires_at {
            self.inner.tokens.insert(digest, verified.clone());
        }
        Ok(verified)
    }

    async fn verify_uncached(&self, token: &str) -> Result<Verified, TokenError> {
        let header = read_header(token)?;
        let alg = match header.alg.as_str() {
            "RS256" => Algorithm::RS256,
            "ES256" => Algorithm::ES256,
            _ => return Err(TokenError::Algorithm),
        };
        let kid = header.kid.ok_or(TokenError::NoKeyId)?;
        let key = match self.keys().get(&kid) {
            Some(key) => key.clone(),
            None => self
                .key_after_fetch(&kid)
                .await
                .ok_or(TokenError::UnknownKey)?,
        };
        if key.alg != alg {
            return Err(TokenError::KeyAlgorithm);
        }
        let mut validation = Validation::new(alg);
        validation.leeway = self.inner.limits.leeway.as_secs();
        validation.validate_nbf = true;
        // The client is checked below: Cognito access tokens have no `aud`.
        validation.validate_aud = false;
        validation.set_issuer(&[&self.inner.settings.issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        // The one costly step: at most `verifications` at once (the semaphore is never closed).
        let permit = self.inner.verifying.acquire().await;
        let checks = &self.inner.checks;
        let running = checks.running.fetch_add(1, Ordering::SeqCst) + 1;
        checks.peak.fetch_max(running, Ordering::SeqCst);
        checks.total.fetch_add(1, Ordering::Relaxed);
        let decoded = jsonwebtoken::decode::<Claims>(token, &key.key, &validation);
        checks.running.fetch_sub(1, Ordering::SeqCst);
        drop(permit);
        let claims = decoded.map_err(|e| token_error(e.into_kind()))?.claims;
        self.user(claims)
    }

    /// The user a verified token's claims name, once its client is checked.
    fn user(&self, claims: Claims) -> Result<Verified, TokenError> {
        let accepted = |id: &str| self.inner.settings.client_ids.iter().any(|c| c == id);
        let audience = || claims.aud.iter().flat_map(Audience::ids).any(accepted);
        let issued_to_us = match claims.token_use.as_deref() {
            Some("access") => claims.client_id.as_deref().is_some_and(accepted),
            Some("id") => audience(),
            Some(_) => return Err(TokenError::TokenUse),
            None => audience() || claims.client_id.as_deref().is_some_and(accepted),
        };
        if !issued_to_us {
            return Err(TokenError::Client);
        }
        let sub = claims.sub.ok_or(TokenError::MissingClaim("sub"))?;
        let exp = claims.exp.ok_or(TokenError::MissingClaim("exp"))?;
        // The owner is "<sub>::<username>": a sub with a colon could pass for another's.
        if sub.is_empty() || sub.contains(':') {
            return Err(TokenError::Claim("sub"));
        }
        let username = match claims.token_use.as_deref() {
            Some("access") => claims
                .username
                .ok_or(TokenError::MissingClaim("username"))?,
            Some(_) => claims
                .cognito_username
                .ok_or(TokenError::MissingClaim("cognito:username"))?,
            None => claims
                .username
                .or(claims.cognito_username)
                .or(claims.preferred_username)
                .unwrap_or_else(|| sub.clone()),
        };
        if username.is_empty() {
            return Err(TokenError::Claim("username"));
        }
        Ok(Verified {
            user: User {
                sub,
                username,
                groups: claims.groups,
            },
            expires_at: UNIX_EPOCH + Duration::from_secs(exp),
        })
    }

    fn keys(&self) -> Arc<HashMap<String, Arc<Key>>> {
        self.inner
            .keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The key `kid` after refetching the JWKS, if no refetch for an unknown kid was made in
    /// the last [`Limits::refetch_after`]: a flood of unknown kids makes one fetch, and those
    /// that arrive during it wait for it (at most [`Limits::fetch_timeout`]).
    async fn key_after_fetch(&self, kid: &str) -> Option<Arc<Key>> {
        self.inner.jwks_url.as_ref()?;
        let mut last = self.inner.fetching.lock().await;
        if let Some(key) = self.keys().get(kid) {
            return Some(key.clone());
        }
        if last.is_some_and(|at| at.elapsed() < self.inner.limits.refetch_after) {
            return None;
        }
        *last = Some(Instant::now());
        // Failures are in the status (and logged); the token is then of an unknown key.
        let _ = self.fetch().await;
        self.keys().get(kid).cloned()
    }

    /// One fetch of the JWKS (the caller holds `fetching`): the keys are replaced only by a
    /// set that holds at least one usable key.
    async fn fetch(&self) -> Result<usize, JwksError> {
        let inner = &self.inner;
        let Some(url) = &inner.jwks_url else {
            return Ok(self.keys().len());
        };
        let result =
            match tokio::time::timeout(inner.limits.fetch_timeout, self.download(url)).await {
                Ok(body) => body.and_then(|b| parse_jwks(&b)),
                Err(_) => Err(JwksError::Timeout(inner.limits.fetch_timeout)),
            };
        let mut status = lock(&inner.status);
        status.fetches += 1;
        match result {
            Ok(keys) => {
                let n = keys.len();
                let new = Arc::new(keys);
                let old = std::mem::replace(
                    &mut *inner.keys.write().unwrap_or_else(PoisonError::into_inner),
                    new.clone(),
                );
                // A key the issuer dropped verifies nothing more, cached tokens included.
                if old.keys().any(|kid| !new.contains_key(kid)) {
                    inner.tokens.clear();
                }
                // A token refused with the old keys (one of them unusable, say) is judged again
                // by the new ones (a fetch every 15 minutes at most, or for a new kid).
                inner.refused.clear();
                status.fetched_at = Some(SystemTime::now());
                status.last_error = None;
                tracing::debug!(keys = n, %url, "fetched the issuer's keys");
                Ok(n)
            }
            Err(e) => {
                tracing::warn!(error = %e, %url, "cannot fetch the issuer's keys; the keys fetched before stay in use");
                status.last_error = Some(e.clone());
                Err(e)
            }
        }
    }

    /// The JWKS body at `url`, at most [`Limits::max_jwks_bytes`].
    async fn download(&self, url: &reqwest::Url) -> Result<Vec<u8>, JwksError> {
        let max = self.inner.limits.max_jwks_bytes;
        let mut response = self
            .inner
            .http
            .get(url.clone())
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| self.request_error(e))?;
        if !response.status().is_success() {
            return Err(JwksError::Status(response.status().as_u16()));
        }
        if response.content_length().is_some_and(|n| n > max as u64) {
            return Err(JwksError::TooLarge(max));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.request_error(e))? {
            if body.len() + chunk.len() > max {
                return Err(JwksError::TooLarge(max));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

impl Verifier {
    fn request_error(&self, e: reqwest::Error) -> JwksError {
        if e.is_timeout() {
            JwksError::Timeout(self.inner.limits.fetch_timeout)
        } else {
            JwksError::Request(error_chain(&e.without_url()))
        }
    }
}

/// An issuer and at least one client id.
fn check(settings: &AuthSettings) -> Result<(), SettingsError> {
    if settings.issuer.trim().is_empty() {
        return Err(SettingsError::NoIssuer);
    }
    if settings.client_ids.iter().all(|c| c.trim().is_empty()) {
        return Err(SettingsError::NoClientId);
    }
    Ok(())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The token of `Bearer <token>` (any case), or the credential as it is.
fn strip_bearer(credential: &str) -> &str {
    match credential.get(..7) {
        Some(prefix) if prefix.eq_ignore_ascii_case("bearer ") => credential[7..].trim_start(),
        _ => credential,
    }
}

/// The part of a JWS header read before the key is chosen.
#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
    /// Extensions the verifier must understand (RFC 7515 4.1.11): none are, so none may be.
    crit: Option<serde_json::Value>,
}

fn read_header(token: &str) -> Result<Header, TokenError> {
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed("not three parts"));
    };
    let json = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| TokenError::Malformed("the header is not base64url"))?;
    let header: Header = serde_json::from_slice(&json)
        .map_err(|_| TokenError::Malformed("the header is not a JWS header"))?;
    if header.crit.is_some() {
        return Err(TokenError::Malformed("critical header extensions"));
    }
    Ok(header)
}

/// The claims this server reads; `exp`, `nbf` and `iss` are checked by `jsonwebtoken`.
#[derive(Deserialize)]
struct Claims {
    // Both required: `jsonwebtoken` refuses a token without them, naming the claim.
    sub: Option<String>,
    exp: Option<u64>,
    token_use: Option<String>,
    client_id: Option<String>,
    aud: Option<Audience>,
    username: Option<String>,
    #[serde(rename = "cognito:username")]
    cognito_username: Option<String>,
    preferred_username: Option<String>,
    #[serde(rename = "cognito:groups", default)]
    groups: Vec<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn ids(&self) -> impl Iterator<Item = &str> {
        let (one, many) = match self {
            Audience::One(id) => (Some(id.as_str()), &[][..]),
            Audience::Many(ids) => (None, ids.as_slice()),
        };
        one.into_iter().chain(many.iter().map(String::as_str))
    }
}

fn token_error(kind: ErrorKind) -> TokenError {
    match kind {
        ErrorKind::InvalidSignature | ErrorKind::InvalidEcdsaKey | ErrorKind::InvalidRsaKey(_) => {
            TokenError::Signature
        }
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => TokenError::Algorithm,
        ErrorKind::ExpiredSignature => TokenError::Expired,
        ErrorKind::ImmatureSignature => TokenError::NotYetValid,
        ErrorKind::InvalidIssuer => TokenError::Issuer,
        ErrorKind::MissingRequiredClaim(claim) => match claim.as_str() {
            "exp" => TokenError::MissingClaim("exp"),
            "iss" => TokenError::MissingClaim("iss"),
            _ => TokenError::MissingClaim("sub"),
        },
        ErrorKind::InvalidClaimFormat(claim) => match claim.as_str() {
            "exp" => TokenError::Claim("exp"),
            "nbf" => TokenError::Claim("nbf"),
            "iss" => TokenError::Claim("iss"),
            _ => TokenError::Claim("sub"),
        },
        ErrorKind::Json(_) => TokenError::Malformed("the payload is not the claims expected"),
        ErrorKind::Base64(_) => TokenError::Malformed("a part is not base64url"),
        ErrorKind::Utf8(_) => TokenError::Malformed("the payload is not UTF-8"),
        _ => TokenError::Malformed("it does not decode"),
    }
}

/// One key of a JWKS as published (RFC 7517): only what RSA and P-256 keys have.
#[derive(Deserialize)]
struct Jwk {
    kty: String,
    kid: Option<String>,
    alg: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    n: Option<String>,
    e: Option<String>,
    crv: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

#[derive(Deserialize)]
struct Jwks {
    keys: Vec<serde_json::Value>,
}

/// The usable keys of a JWKS by `kid`: RSA keys of 2048 to 8192 bits (RS256) and P-256 keys
/// (ES256), for signatures; any other key is left out.
fn parse_jwks(body: &[u8]) -> Result<HashMap<String, Arc<Key>>, JwksError> {
    let jwks: Jwks = serde_json::from_slice(body).map_err(|e| JwksError::Invalid(e.to_string()))?;
    let mut keys = HashMap::new();
    let mut seen = HashSet::new();
    let mut twice = HashSet::new();
    for value in jwks.keys {
        let Ok(jwk) = serde_json::from_value::<Jwk>(value) else {
            continue;
        };
        let Some(kid) = jwk.kid.clone() else {
            continue;
        };
        if !seen.insert(kid.clone()) {
            // Two keys of one kid: which one signed is unknowable, so neither is used.
            twice.insert(kid);
            continue;
        }
        if let Some(key) = usable(&jwk) {
            keys.insert(kid, Arc::new(key));
        }
    }
    keys.retain(|kid, _| !twice.contains(kid));
    if keys.is_empty() {
        return Err(JwksError::NoUsableKeys);
    }
    Ok(keys)
}

fn usable(jwk: &Jwk) -> Option<Key> {
    if jwk.use_.as_deref().is_some_and(|u| u != "sig") {
        return None;
    }
    let decode = |s: &Option<String>| s.as_deref().and_then(|s| URL_SAFE_NO_PAD.decode(s).ok());
    match (jwk.kty.as_str(), jwk.alg.as_deref()) {
        ("RSA", None | Some("RS256")) => {
            let n = decode(&jwk.n)?;
            let e = decode(&jwk.e)?;
            let bits = n.iter().skip_while(|b| **b == 0).count() * 8;
            if !(2048..=8192).contains(&bits) || e.is_empty() || e.len() > 8 {
                return None;
            }
            Some(Key {
                alg: Algorithm::RS256,
                key: DecodingKey::from_rsa_raw_components(&n, &e),
            })
        }
        ("EC", None | Some("ES256")) if jwk.crv.as_deref() == Some("P-256") => {
            let (x, y) = (jwk.x.as_deref()?, jwk.y.as_deref()?);
            if decode(&jwk.x)?.len() != 32 || decode(&jwk.y)?.len() != 32 {
                return None;
            }
            Some(Key {
                alg: Algorithm::ES256,
                key: DecodingKey::from_ec_components(x, y).ok()?,
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bearer_prefix_is_optional_in_any_case() {
        assert_eq!(strip_bearer("Bearer a.b.c"), "a.b.c");
        assert_eq!(strip_bearer("bearer  a.b.c"), "a.b.c");
        assert_eq!(strip_bearer("a.b.c"), "a.b.c");
        assert_eq!(strip_bearer("Bearé"), "Bearé");
    }

    #[test]
    fn the_jwks_url_defaults_to_the_issuers_well_known_one() {
        let mut s = AuthSettings {
            issuer: "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc/".into(),
            client_ids: vec!["client".into()],
            jwks_url: None,
            admin_group: Some("Admins".into()),
        };
        assert_eq!(
            s.jwks_url(),
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc/.well-known/jwks.json"
        );
        s.jwks_url = Some("http://127.0.0.1:1/keys".into());
        assert_eq!(s.jwks_url(), "http://127.0.0.1:1/keys");
        assert_eq!(
            s.access_policy(),
            AccessPolicy::Owners {
                admin_group: Some("Admins".into())
            }
        );
    }

    #[test]
    fn settings_without_issuer_client_or_http_url_are_refused() {
        let good = AuthSettings {
            issuer: "https://issuer.example".into(),
            client_ids: vec!["c".into()],
            jwks_url: None,
            admin_group: None,
        };
        assert!(Verifier::new(good.clone()).is_ok());
        let no_issuer = AuthSettings {
            issuer: " ".into(),
            ..good.clone()
        };
        assert_eq!(
            Verifier::new(no_issuer).err(),
            Some(SettingsError::NoIssuer)
        );
        let no_client = AuthSettings {
            client_ids: vec![],
            ..good.clone()
        };
        assert_eq!(
            Verifier::new(no_client).err(),
            Some(SettingsError::NoClientId)
        );
        let file = AuthSettings {
            jwks_url: Some("file:///etc/passwd".into()),
            ..good
        };
        assert!(matches!(
            Verifier::new(file).err(),
            Some(SettingsError::JwksUrl(_))
        ));
    }

    #[test]
    fn only_signing_keys_of_rsa_2048_and_p256_are_used() {
        let n = URL_SAFE_NO_PAD.encode([0xC5u8; 256]);
        let short_n = URL_SAFE_NO_PAD.encode([0xC5u8; 128]);
        let xy = URL_SAFE_NO_PAD.encode([7u8; 32]);
        let body = serde_json::json!({"keys": [
            {"kty": "RSA", "kid": "rsa", "n": n, "e": "AQAB", "use": "sig"},
            {"kty": "RSA", "kid": "rsa-1024", "n": short_n, "e": "AQAB"},
            {"kty": "RSA", "kid": "rsa-enc", "n": n, "e": "AQAB", "use": "enc"},
            {"kty": "RSA", "kid": "rsa-hs", "n": n, "e": "AQAB", "alg": "HS256"},
            {"kty": "EC", "kid": "ec", "crv": "P-256", "x": xy, "y": xy, "alg": "ES256"},
            {"kty": "EC", "kid": "ec-384", "crv": "P-384", "x": xy, "y": xy},
            {"kty": "oct", "kid": "secret", "k": "c2VjcmV0"},
            {"kty": "RSA", "n": n, "e": "AQAB"},
            {"kty": "RSA", "kid": "twice", "n": n, "e": "AQAB"},
            {"kty": "EC", "kid": "twice", "crv": "P-256", "x": xy, "y": xy},
            "not a key"
        ]});
        let keys = parse_jwks(body.to_string().as_bytes()).expect("a key set");
        let mut kids: Vec<_> = keys.keys().cloned().collect();
        kids.sort();
        assert_eq!(kids, ["ec", "rsa"]);
        assert!(keys["rsa"].alg == Algorithm::RS256 && keys["ec"].alg == Algorithm::ES256);
        assert_eq!(
            parse_jwks(br#"{"keys": []}"#).err(),
            Some(JwksError::NoUsableKeys)
        );
        assert!(matches!(parse_jwks(b"<html>"), Err(JwksError::Invalid(_))));
    }

    #[test]
    fn headers_are_read_strictly() {
        let enc = |v: serde_json::Value| URL_SAFE_NO_PAD.encode(v.to_string());
        let token = |h: serde_json::Value| format!("{}.e30.sig", enc(h));
        assert!(read_header(&token(serde_json::json!({"alg": "RS256", "kid": "k"}))).is_ok());
        assert_eq!(
            read_header("a.b").err(),
            Some(TokenError::Malformed("not three parts"))
        );
        assert_eq!(
            read_header("a.b.c.d.e").err(),
            Some(TokenError::Malformed("not three parts"))
        );
        assert!(read_header("!!.b.c").is_err());
        let crit = token(serde_json::json!({"alg": "RS256", "kid": "k", "crit": ["b64"]}));
        assert_eq!(
            read_header(&crit).err(),
            Some(TokenError::Malformed("critical header extensions"))
        );
    }
}
