//! `auth::tokens` against an issuer run in the test: its JWKS served by axum on loopback (which
//! counts its fetches and can be made down, slow or garbled), its keys made here (RSA by the
//! rsa crate, P-256 by rcgen), and every attack of the contract's section 11 as a test.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs1::{EncodeRsaPrivateKey, EncodeRsaPublicKey};
use rsa::traits::PublicKeyParts;
use rsa::{Generate, PrivateKey};
use serde_json::{json, Value};
use tokio::task::JoinHandle;
use trainers_api::auth::tokens::{AuthSettings, JwksError, Limits, TokenError, Verified, Verifier};

const CLIENT: &str = "app-client-1";

/// A key the test issuer signs with, and its public JWK.
struct SigningKey {
    kid: String,
    alg: Algorithm,
    encoding: EncodingKey,
    jwk: Value,
    /// The public key's DER (PKCS#1 for RSA, SEC1 point for P-256): an attacker's HMAC secret.
    public_der: Vec<u8>,
}

fn rsa_key(kid: &str) -> SigningKey {
    let private = PrivateKey::generate();
    let public = private.to_public_key();
    let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    let n = public.n().as_ref().to_be_bytes_trimmed_vartime();
    let e = public.e().to_be_bytes_trimmed_vartime();
    let der = private.to_pkcs1_der().expect("PKCS#1 DER");
    SigningKey {
        kid: kid.into(),
        alg: Algorithm::RS256,
        encoding: EncodingKey::from_rsa_der(der.as_bytes()),
        jwk: json!({"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": b64(&n), "e": b64(&e)}),
        public_der: public
            .to_pkcs1_der()
            .expect("public DER")
            .as_bytes()
            .to_vec(),
    }
}

fn ec_key(kid: &str) -> SigningKey {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("P-256 key");
    let point = pair.public_key_raw().to_vec();
    assert_eq!((point.len(), point[0]), (65, 4), "an uncompressed point");
    let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    SigningKey {
        kid: kid.into(),
        alg: Algorithm::ES256,
        encoding: EncodingKey::from_ec_der(&pair.serialize_der()),
        jwk: json!({"kty": "EC", "kid": kid, "use": "sig", "crv": "P-256",
                    "x": b64(&point[1..33]), "y": b64(&point[33..])}),
        public_der: point,
    }
}

/// The issuer's keys, and a stranger's key under the issuer's RSA kid (RSA keys are slow to
/// make: once per test binary).
static ISSUER_RSA: LazyLock<SigningKey> = LazyLock::new(|| rsa_key("issuer-rsa"));
static STRANGER_RSA: LazyLock<SigningKey> = LazyLock::new(|| rsa_key("issuer-rsa"));
static ISSUER_EC: LazyLock<SigningKey> = LazyLock::new(|| ec_key("issuer-ec"));

fn jwks(keys: &[&SigningKey]) -> String {
    json!({"keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>()}).to_string()
}

/// What the issuer's JWKS endpoint does.
#[derive(Clone)]
enum Mode {
    Serve(String),
    Status(StatusCode),
    /// Answers after this long.
    Slow(Duration, String),
    Body(Vec<u8>),
}

struct IssuerState {
    mode: Mutex<Mode>,
    fetches: AtomicUsize,
}

/// The test's identity provider.
struct Issuer {
    addr: SocketAddr,
    state: Arc<IssuerState>,
    server: JoinHandle<()>,
}

impl Issuer {
    async fn start(keys: &[&SigningKey]) -> Issuer {
        let state = Arc::new(IssuerState {
            mode: Mutex::new(Mode::Serve(jwks(keys))),
            fetches: AtomicUsize::new(0),
        });
        let app = Router::new()
            .route("/jwks", get(serve_jwks))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Issuer {
            addr,
            state,
            server,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn set(&self, mode: Mode) {
        *self.state.mode.lock().expect("mode") = mode;
    }

    fn fetches(&self) -> usize {
        self.state.fetches.load(Ordering::SeqCst)
    }

    fn settings(&self) -> AuthSettings {
        AuthSettings {
            issuer: self.url(),
            client_ids: vec!["another-client".into(), CLIENT.into()],
            jwks_url: Some(format!("{}/jwks", self.url())),
            admin_group: Some("Admins".into()),
        }
    }

    async fn verifier(&self, limits: Limits) -> Verifier {
        let v = Verifier::with_limits(self.settings(), limits).expect("verifier");
        v.refresh().await.expect("the first fetch");
        v
    }
}

async fn serve_jwks(State(state): State<Arc<IssuerState>>) -> Response {
    state.fetches.fetch_add(1, Ordering::SeqCst);
    let mode = state.mode.lock().expect("mode").clone();
    match mode {
        Mode::Serve(body) => body.into_response(),
        Mode::Status(status) => status.into_response(),
        Mode::Slow(wait, body) => {
            tokio::time::sleep(wait).await;
            body.into_response()
        }
        Mode::Body(bytes) => bytes.into_response(),
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// A Cognito access token's claims.
fn access(issuer: &Issuer, username: &str, groups: &[&str]) -> Value {
    json!({
        "iss": issuer.url(), "sub": format!("sub-{username}"), "token_use": "access",
        "client_id": CLIENT, "username": username, "cognito:groups": groups,
        "scope": "aws.cognito.signin.user.admin", "iat": now(), "exp": now() + 3600,
    })
}

/// A Cognito ID token's claims.
fn id_token(issuer: &Issuer, username: &str) -> Value {
    json!({
        "iss": issuer.url(), "sub": format!("sub-{username}"), "token_use": "id",
        "aud": CLIENT, "cognito:username": username, "email": "x@example.com",
        "iat": now(), "exp": now() + 3600,
    })
}

fn sign(key: &SigningKey, claims: &Value) -> String {
    let mut header = Header::new(key.alg);
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&header, claims, &key.encoding).expect("sign")
}

fn with(mut claims: Value, field: &str, value: Value) -> Value {
    claims[field] = value;
    claims
}

fn without(mut claims: Value, field: &str) -> Value {
    if let Some(o) = claims.as_object_mut() {
        o.remove(field);
    }
    claims
}

fn b64json(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

/// Verifies, and checks that a refusal's message and Debug hold no part of the token.
async fn refused(v: &Verifier, token: &str) -> TokenError {
    let e = match v.verify(token).await {
        Ok(user) => panic!("a bad token was accepted: {user:?}"),
        Err(e) => e,
    };
    for part in token.split('.').filter(|p| p.len() > 8) {
        assert!(!e.to_string().contains(part), "{e} holds the token");
        assert!(!format!("{e:?}").contains(part), "{e:?} holds the token");
    }
    e
}

async fn accepted(v: &Verifier, token: &str) -> Verified {
    match v.verify(token).await {
        Ok(verified) => verified,
        Err(e) => panic!("a good token was refused: {e}"),
    }
}

#[tokio::test]
async fn access_and_id_tokens_are_accepted_with_user_groups_and_expiry() {
    let issuer = Issuer::start(&[&ISSUER_RSA, &ISSUER_EC]).await;
    let v = issuer.verifier(Limits::default()).await;
    assert_eq!(v.keys_status().keys, 2);

    let claims = access(&issuer, "jane", &["Admins", "Staff"]);
    let token = sign(&ISSUER_RSA, &claims);
    let got = accepted(&v, &token).await;
    assert_eq!(got.user.sub, "sub-jane");
    assert_eq!(got.user.username, "jane");
    assert_eq!(got.user.groups, ["Admins", "Staff"]);
    assert_eq!(got.user.owner().as_str(), "sub-jane::jane");
    let exp = claims["exp"].as_u64().expect("exp");
    assert_eq!(got.expires_at, UNIX_EPOCH + Duration::from_secs(exp));
    // With `Bearer ` too, and signed with the P-256 key.
    assert_eq!(accepted(&v, &format!("Bearer {token}")).await, got);
    let es = sign(&ISSUER_EC, &access(&issuer, "joe", &[]));
    assert_eq!(accepted(&v, &es).await.user.username, "joe");

    let id = accepted(&v, &sign(&ISSUER_RSA, &id_token(&issuer, "ann"))).await;
    assert_eq!(
        (id.user.sub.as_str(), id.user.username.as_str()),
        ("sub-ann", "ann")
    );
    assert!(id.user.groups.is_empty());
    // An ID token whose aud lists our client among others.
    let listed = with(id_token(&issuer, "ann"), "aud", json!(["other", CLIENT]));
    accepted(&v, &sign(&ISSUER_EC, &listed)).await;

    // Another OpenID Connect issuer: no token_use; aud or client_id; the username it has.
    let oidc = json!({"iss": issuer.url(), "sub": "u-1", "aud": CLIENT,
                      "preferred_username": "pat", "exp": now() + 60});
    assert_eq!(
        accepted(&v, &sign(&ISSUER_RSA, &oidc)).await.user.username,
        "pat"
    );
    let bare = json!({"iss": issuer.url(), "sub": "u-2", "client_id": CLIENT, "exp": now() + 60});
    assert_eq!(
        accepted(&v, &sign(&ISSUER_RSA, &bare)).await.user.username,
        "u-2"
    );
    assert_eq!(issuer.fetches(), 1, "known keys need no fetch");
}

#[tokio::test]
async fn alg_none_is_refused_in_every_spelling() {
    let issuer = Issuer::start(&[&ISSUER_RSA]).await;
    let v = issuer.verifier(Limits::default()).await;
    let claims = b64json(&access(&issuer, "eve", &["Admins"]));
    for alg in ["none", "None", "NONE", "nOnE", ""] {
        let header = b64json(&json!({"alg": alg, "kid": ISSUER_RSA.kid, "typ": "JWT"}));
        for signature in ["", "e30"] {
            let token = format!("{header}.{claims}.{signature}");
            assert_eq!(refused(&v, &token).await, TokenError::Algorithm, "{alg}");
        }
    }
    let no_alg = b64json(&json!({"kid": ISSUER_RSA.kid}));
    assert!(matches!(
        refused(&v, &format!("{no_alg}.{claims}.")).await,
        TokenError::Malformed(_)
    ));
}

#[tokio::test]
async fn hmac_signed_with_the_issuers_public_key_is_refused() {
    let issuer = Issuer::start(&[&ISSUER_RSA, &ISSUER_EC]).await;
    let v = issuer.verifier(Limits::default()).await;
    let claims = access(&issuer, "eve", &["Admins"]);
    for key in [&*ISSUER_RSA, &*ISSUER_EC] {
        // Every form of the public key an attacker might use as the HMAC secret.
        let secrets = [
            key.public_der.clone(),
            key.jwk.to_string().into_bytes(),
            jwks(&[key]).into_bytes(),
        ];
        for secret in &secrets {
            for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
                let mut header = Header::new(alg);
                header.kid = Some(key.kid.clone());
                let hmac = EncodingKey::from_secret(secret).expect("an HMAC key");
                let token = jsonwebtoken::encode(&header, &claims, &hmac).expect("sign");
                assert_eq!(refused(&v, &token).await, TokenError::Algorithm);
            }
        }
    }
    // Nor may a token claim the other asymmetric algorithm of a key.
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(ISSUER_RSA.kid.clone());
    let token = jsonwebtoken::encode(&header, &claims, &ISSUER_EC.encoding).expect("sign");
    assert_eq!(refused(&v, &token).await, TokenError::KeyAlgorithm);
    // Other algorithms of a family that is accepted are not.
    let mut header = Header::new(Algorithm::RS512);
    header.kid = Some(ISSUER_RSA.kid.clone());
    let token = jsonwebtoken::encode(&header, &claims, &ISSUER_RSA.encoding).expect("sign");
    assert_eq!(refused(&v, &token).await, TokenError::Algorithm);
}

#[tokio::test]
async fn expired_and_not_yet_valid_tokens_are_refused_within_a_minutes_leeway() {
    let issuer = Issuer::start(&[&ISSUER_RSA]).await;
    let v = issuer.verifier(Limits::default()).await;
    let claims = access(&issuer, "jane", &[]);
    let expired = with(claims.clone(), "exp", json!(now() - 120));
    assert_eq!(
        refused(&v, &sign(&ISSUER_RSA, &expired)).await,
        TokenError::Expired
    );
    let just = with(claims.clone(), "exp", json!(now() - 20));
    accepted(&v, &sign(&ISSUER_RSA, &just)).await;
    let early = with(claims.clone(), "nbf", json!(now() + 120));
    assert_eq!(
        refused(&v, &sign(&ISSUER_RSA, &early)).await,
        TokenError::NotYetValid
    );
    let almost = with(claims.clone(), "nbf", json!(now() + 20));
    accepted(&v, &sign(&ISSUER_RSA, &almost)).await;
    assert_eq!(
        refused(&v, &sign(&ISSUER_RSA, &without(claims.clone(), "exp"))).await,
        TokenError::MissingClaim("exp")
    );
    let text_exp = with(claims, "exp", json!("tomorrow"));
    assert!(matches!(
        refused(&v, &sign(&ISSUER_RSA, &text_exp)).await,
        TokenError::Claim("exp") | TokenError::Malformed(_)
    ));
}

#[tokio::test]
async fn a_token_of_another_issuer_or_client_is_refused() {
    let issuer = Issuer::start(&[&ISSUER_RSA]).await;
    let v = issuer.verifier(Limits::default()).await;
    let claims = access(&issuer, "jane", &[]);
    let cases = [
        (
            with(claims.clone(), "iss", json!("https://evil.example")),
            TokenError::Issuer,
        ),
        (
            with(claims.clone(), "iss", json!(format!("{}/", issuer.url()))),
            TokenError::Issuer,
        ),
        (
            without(claims.clone(), "iss"),
            TokenError::MissingClaim("iss"),
        ),
        (
            without(claims.clone(), "sub"),
            TokenError::MissingClaim("sub"),
        ),
        (
            with(claims.clone(), "client_id", json!("someone-elses-app")),
            TokenError::Client,
        ),
        (without(claims.clone(), "client_id"), TokenError::Client),
        // An access token is for its client_id, whatever its aud says.
        (
            with(
                with(claims.clone(), "client_id", json!("x")),
                "aud",
                json!(CLIENT),
            ),
            TokenError::Client,
        ),
        (
            with(id_token(&issuer, "ann"), "aud", json!("someone-elses-app")),
            TokenError::Client,
        ),
        (
            with(id_token(&issuer, "ann"), "aud", json!(["a", "b"])),
            TokenError::Client,
        ),
        (
            with(claims.clone(), "token_use", json!("refresh")),
            TokenError::TokenUse,
        ),
        (
            without(claims.clone(), "username"),
            TokenError::MissingClaim("username"),
        ),
        (
            without(id_token(&issuer, "ann"), "cognito:username"),
            TokenError::MissingClaim("cognito:username"),
        ),
        // A sub that could make another user's owner ("<sub>::<username>").
        (
            with(claims.clone(), "sub", json!("sub-joe::joe")),
            TokenError::Claim("sub"),
        ),
        (with(claims, "sub", json!("")), TokenError::Claim("sub")),
    ];
    for (claims, error) in cases {
        assert_eq!(
            refused(&v, &sign(&ISSUER_RSA, &claims)).await,
            error,
            "{claims}"
        );
    }
}

#[tokio::test]
async fn a_token_signed_by_another_key_or_tampered_with_is_refused() {
    let issuer = Issuer::start(&[&ISSUER_RSA]).await;
    let v = issuer.verifier(Limits::default()).await;
    let claims = access(&issuer, "jane", &[]);
    // Another key set's key, under the issuer's kid.
    assert_eq!(
        refused(&v, &sign(&STRANGER_RSA, &claims)).await,
        TokenError::Signature
    );
    // A valid token whose payload is changed (another user, the admin group).
    let token = sign(&ISSUER_RSA, &claims);
    let parts: Vec<&str> = token.split('.').collect();
    let forged = with(
        with(claims.clone(), "username", json!("ann")),
        "cognito:groups",
        json!(["Admins"]),
    );
    let tampered = format!("{}.{}.{}", parts[0], b64json(&forged), parts[2]);
    assert_eq!(refused(&v, &tampered).await, TokenError::Signature);
    // Its header changed to another kid of the issuer.
    let header = b64json(&json!({"alg": "RS256", "kid": "issuer-rsa", "typ": "at+jwt"}));
    let reheaded = format!("{header}.{}.{}", parts[1], parts[2]);
    assert_eq!(refused(&v, &reheaded).await, TokenError::Signature);
    // Its signature cut or garbled.
    let cut = format!("{}.{}.{}", parts[0], parts[1], &parts[2][..20]);
    assert!(matches!(
        refused(&v, &cut).await,
        TokenError::Signature | TokenError::Malformed(_)
    ));
    let unsigned = format!("{}.{}.", parts[0], parts[1]);
    assert!(matches!(
        refused(&v, &unsigned).await,
        TokenError::Signature | TokenError::Malformed(_)
    ));
    for junk in ["", "Bearer ", "x", "a.b.c", "...", "Bearer a.b"] {
        assert!(v.verify(junk).await.is_err(), "{junk:?}");
    }
    assert_eq!(v.verify("  ").await, Err(TokenError::Missing));
    // A token without a kid.
    let no_kid = jsonwebtoken::encode(
        &Header::new(Algorithm::RS256),
        &claims,
        &ISSUER_RSA.encoding,
    )
    .expect("sign");
    assert_eq!(refused(&v, &no_kid).await, TokenError::NoKeyId);
    accepted(&v, &token).await;
}

#[tokio::test]
async fn a_64_kib_token_is_refused_before_any_decoding_or_fetch() {
    let issuer = Issuer::start(&[&ISSUER_RSA]).await;
    let v = issuer.verifier(Limits::default()).await;
    let header = b64json(&json!({"alg": "RS256", "kid": "unknown"}));
    let huge = format!("{header}.{}.{}", "A".repeat(64 * 1024), "B".repeat(100));
    let started = Instant::now();
    assert_eq!(
        refused(&v, &huge).await,
        TokenError::TooLong { max: 16 * 1024 }
    );
    assert_eq!(
        v.verify(&format!("Bearer {}", "x".repeat(64 * 1024))).await,
        Err(TokenError::TooLong { max: 16 * 1024 })
    );
    assert!(started.elapsed() < Duration::from_millis(500));
    assert_eq!(issuer.fetches(), 1, "an oversized token fetches nothing");
}

#[tokio::test]
async fn a_flood_of_unknown_kids_makes_at_most_one_fetch() {
    let issuer = Issuer::start(&[&ISSUER_RSA]).await;
    let v = issuer.verifier(Limits::default()).await;
    assert_eq!(issuer.fetches(), 1);
    let claims = access(&issuer, "eve", &[]);
    let signed = sign(&ISSUER_RSA, &claims);
    let rest = signed.split_once('.').map(|(_, r)| r).unwrap_or_default();
    let tokens: Vec<String> = (0..1000)
        .map(|i| {
            let header = b64json(&json!({"alg": "RS256", "kid": format!("kid-{i}")}));
            format!("{header}.{rest}")
        })
        .collect();
    let started = Instant::now();
    let results = futures::future::join_all(tokens.iter().map(|t| v.verify(t))).await;
    assert!(results.iter().all(|r| *r == Err(TokenError::UnknownKey)));
    assert!(
        issuer.fetches() <= 2,
        "{} fetches for 1000 unknown kids",
        issuer.fetches()
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    // And again: still within 10 s of the last fetch, no more.
    for t in tokens.iter().take(100) {
        assert_eq!(v.verify(t).await, Err(TokenError::UnknownKey));
    }
    assert!(issuer.fetches() <= 2);
    // A known key keeps working.
    accepted(&v, &sign(&ISSUER_RSA, &claims)).await;
}

#[tokio::test]
async fn a_new_key_is_fetched_once_the_interval_has_passed_and_a_dropped_one_stops() {
    let issuer = Issuer::start(&[&ISSUER_RSA]).await;
    let limits = Limits {
        refetch_after: Duration::from_millis(400),
        ..Limits::default()
    };
    let v = issuer.verifier(limits).await;
    let claims = access(&issuer, "jane", &[]);
    let old = sign(&ISSUER_RSA, &claims);
    accepted(&v, &old).await;
    assert_eq!(v.cached_tokens(), 1);

    // The issuer rotates to a new key: its first token refetches.
    let rotated = ec_key("rotated-1");
    issuer.set(Mode::Serve(jwks(&[&ISSUER_RSA, &rotated])));
    accepted(&v, &sign(&rotated, &claims)).await;
    assert_eq!(issuer.fetches(), 2);

    // Another rotation right after: not before the interval.
    let next = ec_key("rotated-2");
    issuer.set(Mode::Serve(jwks(&[&rotated, &next])));
    assert_eq!(
        v.verify(&sign(&next, &claims)).await,
        Err(TokenError::UnknownKey)
    );
    assert_eq!(issuer.fetches(), 2);
    tokio::time::sleep(Duration::from_millis(450)).await;
    accepted(&v, &sign(&next, &claims)).await;
    assert_eq!(issuer.fetches(), 3);
    // The issuer dropped the RSA key: its tokens, cached ones included, are refused.
    assert_eq!(v.verify(&old).await, Err(TokenError::UnknownKey));
}

#[tokio::test]
async fn cached_keys_keep_working_while_the_issuer_is_down() {
    let issuer = Issuer::start(&[&ISSUER_RSA]).await;
    let v = issuer.verifier(Limits::default()).await;
    assert_eq!(v.keys_status().last_error, None);
    issuer.set(Mode::Status(StatusCode::INTERNAL_SERVER_ERROR));
    assert_eq!(v.refresh().await, Err(JwksError::Status(500)));
    // A token never seen (not cached) verifies with the keys fetched before.
    accepted(&v, &sign(&ISSUER_RSA, &access(&issuer, "jane", &[]))).await;
    let status = v.keys_status();
    assert_eq!(status.keys, 1);
    assert_eq!(status.last_error, Some(JwksError::Status(500)));
    assert!(status.fetched_at.is_some());

    // The issuer's host stops answering at all.
    issuer.server.abort();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    assert!(matches!(v.refresh().await, Err(JwksError::Request(_))));
    assert!(started.elapsed() < Duration::from_secs(3));
    accepted(&v, &sign(&ISSUER_RSA, &access(&issuer, "joe", &[]))).await;
    assert_eq!(v.keys_status().keys, 1);
}

#[tokio::test]
async fn a_slow_issuer_is_given_up_on_after_two_seconds_and_blocks_no_known_key() {
    let issuer = Issuer::start(&[&ISSUER_RSA]).await;
    let v = issuer.verifier(Limits::default()).await;
    issuer.set(Mode::Slow(
        Duration::from_secs(30),
        jwks(&[&ISSUER_RSA, &ISSUER_EC]),
    ));
    let claims = access(&issuer, "jane", &[]);
    // A token of a kid the issuer has not published yet starts a fetch that hangs...
    let pending = {
        let v = v.clone();
        let token = sign(&ISSUER_EC, &claims);
        tokio::spawn(async move {
            let started = Instant::now();
            (v.verify(&token).await, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    // ...while tokens of known keys verify at once.
    let started = Instant::now();
    accepted(&v, &sign(&ISSUER_RSA, &claims)).await;
    assert!(started.elapsed() < Duration::from_millis(500));
    let (result, took) = pending.await.expect("join");
    assert_eq!(result, Err(TokenError::UnknownKey));
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(4),
        "{took:?}"
    );
    assert_eq!(
        v.keys_status().last_error,
        Some(JwksError::Timeout(Duration::from_secs(2)))
    );
    let started = Instant::now();
    assert_eq!(
        v.refresh().await,
        Err(JwksError::Timeout(Duration::from_secs(2)))
    );
    assert!(started.elapsed() < Duration::from_secs(4));
    accepted(&v, &sign(&ISSUER_RSA, &access(&issuer, "joe", &[]))).await;
}

#[tokio::test]
async fn garbage_from_the_issuer_keeps_the_cached_keys() {
    let issuer = Issuer::start(&[&ISSUER_RSA]).await;
    let v = issuer.verifier(Limits::default()).await;
    let answers = [
        Mode::Body(b"<html>Service Unavailable</html>".to_vec()),
        Mode::Body(Vec::new()),
        Mode::Serve(r#"{"keys": []}"#.into()),
        Mode::Serve(r#"{"keys": [{"kty": "oct", "kid": "issuer-rsa", "k": "c2VjcmV0"}]}"#.into()),
        Mode::Serve(r#"{"keys": "all of them"}"#.into()),
        // More than 64 KiB, however well formed.
        Mode::Serve(format!(
            r#"{{"keys": [{}], "padding": "{}"}}"#,
            ISSUER_RSA.jwk,
            " ".repeat(70 * 1024)
        )),
        Mode::Status(StatusCode::NOT_FOUND),
        Mode::Status(StatusCode::FOUND),
    ];
    for (n, answer) in answers.into_iter().enumerate() {
        issuer.set(answer);
        let started = Instant::now();
        let e = v.refresh().await.expect_err("garbage is no key set");
        assert!(started.elapsed() < Duration::from_secs(3));
        if n == 5 {
            assert_eq!(e, JwksError::TooLarge(64 * 1024));
        }
        // A fresh token each time, so that the token cache does not answer.
        let claims = access(&issuer, &format!("user{n}"), &[]);
        accepted(&v, &sign(&ISSUER_RSA, &claims)).await;
        assert_eq!(v.keys_status().keys, 1);
    }
}

#[tokio::test]
async fn verified_tokens_are_cached_bounded_and_never_past_their_expiry() {
    let issuer = Issuer::start(&[&ISSUER_RSA]).await;
    let limits = Limits {
        cached_tokens: 16,
        leeway: Duration::ZERO,
        ..Limits::default()
    };
    let v = issuer.verifier(limits).await;
    for n in 0..100 {
        accepted(
            &v,
            &sign(&ISSUER_RSA, &access(&issuer, &format!("u{n}"), &[])),
        )
        .await;
    }
    assert!(v.cached_tokens() <= 32, "{} cached", v.cached_tokens());

    // A cached token costs a hash and a lookup.
    let token = sign(&ISSUER_RSA, &access(&issuer, "jane", &[]));
    let first = Instant::now();
    accepted(&v, &token).await;
    let uncached = first.elapsed();
    let started = Instant::now();
    for _ in 0..1000 {
        accepted(&v, &token).await;
    }
    let cached = started.elapsed() / 1000;
    assert!(
        cached < uncached,
        "cached {cached:?}, uncached {uncached:?}"
    );

    // A token that expires in a moment: cached, then refused once expired.
    let soon = with(access(&issuer, "brief", &[]), "exp", json!(now() + 2));
    let soon = sign(&ISSUER_RSA, &soon);
    accepted(&v, &soon).await;
    accepted(&v, &soon).await;
    tokio::time::sleep(Duration::from_millis(3100)).await;
    assert_eq!(v.verify(&soon).await, Err(TokenError::Expired));
}

#[tokio::test]
async fn debug_output_holds_no_token() {
    let issuer = Issuer::start(&[&ISSUER_RSA]).await;
    let v = issuer.verifier(Limits::default()).await;
    let token = sign(&ISSUER_RSA, &access(&issuer, "jane", &[]));
    let verified = accepted(&v, &token).await;
    for text in [format!("{v:?}"), format!("{verified:?}")] {
        for part in token.split('.') {
            assert!(!text.contains(part), "{text}");
        }
    }
}

/// The CPU a flood of forged tokens may take is bounded: signatures are checked at most
/// `verifications` at once (the others wait their turn, costing no CPU), and a forged token sent
/// again is refused from memory, without another check. A good token still verifies after.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forged_tokens_are_checked_one_at_a_time_and_once_each() {
    let issuer = Issuer::start(&[&ISSUER_RSA]).await;
    let limits = Limits {
        verifications: 1,
        ..Limits::default()
    };
    let v = issuer.verifier(limits).await;
    // Signed by a stranger's key under the issuer's kid: a signature check each, then refused.
    let forged: Vec<String> = (0..64)
        .map(|i| {
            sign(
                &STRANGER_RSA,
                &access(&issuer, &format!("mallory{i}"), &["Admins"]),
            )
        })
        .collect();
    let flood = |tokens: Vec<String>| {
        let v = v.clone();
        futures::future::join_all(tokens.into_iter().map(move |t| {
            let v = v.clone();
            tokio::spawn(async move { v.verify(&t).await })
        }))
    };
    for result in flood(forged.clone()).await {
        assert_eq!(result.expect("a task"), Err(TokenError::Signature));
    }
    let checks = v.signature_checks();
    assert_eq!(checks.total, 64, "one check per forged token");
    assert_eq!(checks.peak, 1, "never two at once");

    // The same forged tokens again, twice over: refused without any check.
    let again: Vec<String> = forged.iter().chain(forged.iter()).cloned().collect();
    for result in flood(again).await {
        assert_eq!(result.expect("a task"), Err(TokenError::Signature));
    }
    assert_eq!(v.signature_checks().total, 64);

    accepted(&v, &sign(&ISSUER_RSA, &access(&issuer, "jane", &[]))).await;
    assert_eq!(v.signature_checks().total, 65);
}
