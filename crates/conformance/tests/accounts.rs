//! Accounts (contract section 11) on a real server: tokens of a local issuer over HTTP, AppSync's
//! real-time protocol and `graphql-transport-ws`; owner rules, refusals, readiness, and
//! subscriptions that end when their token expires.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use trainers_api::auth::local::{LocalIssuer, KEY_FILE, LOCAL_CLIENT, LOCAL_ISSUER};
use trainers_api::auth::tokens::{AuthSettings, Verifier};
use trainers_conformance::server::{embedded_store, TEST_API_KEY};
use trainers_conformance::TestServer;

const PATIENCE: Duration = Duration::from_secs(10);
const QUIET: Duration = Duration::from_millis(500);
const ADMINS: &str = "Admins";

/// A server with accounts on, trusting the issuer of `issuer_dir` (as `serve --auth-local
/// --admin-group Admins` does).
async fn server_with_accounts(issuer_dir: &Path) -> (TestServer, LocalIssuer) {
    let issuer = LocalIssuer::load_or_create(issuer_dir).expect("an issuer");
    let verifier = issuer.verifier(Some(ADMINS.into())).expect("a verifier");
    let jwks = issuer.jwks();
    let (store, dir) = embedded_store();
    let server = TestServer::start_with(store, Some(Box::new(dir)), |s| {
        s.accounts(verifier).jwks(jwks)
    })
    .await;
    (server, issuer)
}

fn token(issuer: &LocalIssuer, username: &str, groups: &[&str], secs: u64) -> String {
    let groups: Vec<String> = groups.iter().map(|g| g.to_string()).collect();
    issuer
        .token(username, &groups, Duration::from_secs(secs))
        .expect("a token")
}

/// A token for `username` signed with the issuer's own key, expired `ago` ago.
fn expired_token(issuer_dir: &Path, issuer: &LocalIssuer, username: &str, ago: u64) -> String {
    let pem = std::fs::read_to_string(issuer_dir.join(KEY_FILE)).expect("the key file");
    let pair = rcgen::KeyPair::from_pem(&pem).expect("a key");
    let key = jsonwebtoken::EncodingKey::from_ec_der(&pair.serialize_der());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let claims = json!({
        "iss": LOCAL_ISSUER, "sub": issuer.sub(username), "token_use": "access",
        "client_id": LOCAL_CLIENT, "username": username, "cognito:groups": [],
        "iat": now - ago - 3600, "exp": now - ago,
    });
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(issuer.kid().to_string());
    jsonwebtoken::encode(&header, &claims, &key).expect("signed")
}

/// POST /graphql with an API key and/or an Authorization header: status, `x-amzn-ErrorType`,
/// body.
async fn post(
    server: &TestServer,
    key: Option<&str>,
    authorization: Option<&str>,
    query: &str,
) -> (u16, Option<String>, Value) {
    let mut request = server
        .client
        .post(server.url())
        .json(&json!({ "query": query }));
    if let Some(key) = key {
        request = request.header("x-api-key", key);
    }
    if let Some(authorization) = authorization {
        request = request.header("Authorization", authorization);
    }
    let response = request.send().await.expect("an answer");
    let status = response.status().as_u16();
    let error_type = response
        .headers()
        .get("x-amzn-ErrorType")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = response.json().await.expect("JSON");
    (status, error_type, body)
}

const FIELDS: &str = "id firstName lastName age specialty owner version";

fn create_query(first_name: &str) -> String {
    format!(
        r#"mutation {{ createTrainer(firstName: "{first_name}", lastName: "Lovelace", age: 36, specialty: YOUTHFITNESS) {{ {FIELDS} }} }}"#
    )
}

fn update_query(id: &str, age: i32) -> String {
    format!(r#"mutation {{ updateTrainers(id: "{id}", age: {age}) {{ {FIELDS} }} }}"#)
}

fn delete_query(id: &str) -> String {
    format!(r#"mutation {{ deleteTrainer(id: "{id}") {{ {FIELDS} }} }}"#)
}

fn get_query(id: &str) -> String {
    format!(r#"{{ getTrainer(id: "{id}") {{ {FIELDS} }} }}"#)
}

/// A mutation refused as AppSync refuses a field: 200, the field null, `Unauthorized`.
fn assert_refused(answer: &(u16, Option<String>, Value), field: &str) {
    let (status, _, body) = answer;
    assert_eq!(*status, 200, "{body}");
    assert_eq!(body["data"][field], Value::Null, "{body}");
    assert_eq!(body["errors"][0]["errorType"], "Unauthorized", "{body}");
    assert_eq!(
        body["errors"][0]["message"],
        format!("Not Authorized to access {field} on type Mutation"),
        "{body}"
    );
}

/// Credentials refused: 401 `UnauthorizedException`, in the header and the body, the message
/// `says` (and never the token).
fn assert_401(answer: &(u16, Option<String>, Value), says: &str, token: Option<&str>) {
    let (status, error_type, body) = answer;
    assert_eq!(*status, 401, "{body}");
    assert_eq!(error_type.as_deref(), Some("UnauthorizedException"));
    assert_eq!(body["errors"][0]["errorType"], "UnauthorizedException");
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains(says), "{message:?} should say {says:?}");
    if let Some(token) = token {
        for part in token.split('.') {
            assert!(!body.to_string().contains(part), "the token leaked: {body}");
        }
    }
}

#[tokio::test]
async fn owners_change_their_trainers_and_only_admins_change_others() {
    let dir = tempfile::tempdir().expect("a directory");
    let (server, issuer) = server_with_accounts(dir.path()).await;
    let jane = token(&issuer, "jane", &[], 600);
    let joe = token(&issuer, "joe", &[], 600);
    let admin = token(&issuer, "ann", &[ADMINS], 600);
    let bearer = |t: &str| format!("Bearer {t}");

    // No credentials at all.
    let none = post(&server, None, None, "{ countTrainers }").await;
    assert_401(&none, "You are not authorized", None);

    // Jane creates: she owns it, as "<sub>::<username>".
    let created = post(&server, None, Some(&bearer(&jane)), &create_query("Ada")).await;
    assert_eq!(created.0, 200, "{}", created.2);
    let trainer = created.2["data"]["createTrainer"].clone();
    let owner = format!("{}::jane", issuer.sub("jane"));
    assert_eq!(trainer["owner"], owner.as_str(), "{trainer}");
    let id = trainer["id"].as_str().expect("an id").to_string();

    // The API key reads (owner included) but may not mutate.
    let read = post(&server, Some(TEST_API_KEY), None, &get_query(&id)).await;
    assert_eq!(read.2["data"]["getTrainer"], trainer);
    let by_key = post(&server, Some(TEST_API_KEY), None, &create_query("Key")).await;
    assert_refused(&by_key, "createTrainer");
    assert_refused(
        &post(&server, Some(TEST_API_KEY), None, &update_query(&id, 40)).await,
        "updateTrainers",
    );
    assert_refused(
        &post(&server, Some(TEST_API_KEY), None, &delete_query(&id)).await,
        "deleteTrainer",
    );

    // Joe may neither update nor delete Jane's trainer (with or without `Bearer `).
    assert_refused(
        &post(&server, None, Some(&joe), &update_query(&id, 41)).await,
        "updateTrainers",
    );
    assert_refused(
        &post(&server, None, Some(&bearer(&joe)), &delete_query(&id)).await,
        "deleteTrainer",
    );
    let unchanged = post(&server, None, Some(&joe), &get_query(&id)).await;
    assert_eq!(
        unchanged.2["data"]["getTrainer"], trainer,
        "nothing changed"
    );
    let count = post(&server, Some(TEST_API_KEY), None, "{ countTrainers }").await;
    assert_eq!(
        count.2["data"]["countTrainers"], 1,
        "the key's create wrote nothing"
    );

    // Jane updates hers; an admin updates it too; Jane deletes it.
    let updated = post(&server, None, Some(&jane), &update_query(&id, 37)).await;
    assert_eq!(
        updated.2["data"]["updateTrainers"]["age"], 37,
        "{}",
        updated.2
    );
    let by_admin = post(&server, None, Some(&bearer(&admin)), &update_query(&id, 38)).await;
    assert_eq!(
        by_admin.2["data"]["updateTrainers"]["age"], 38,
        "{}",
        by_admin.2
    );
    assert_eq!(
        by_admin.2["data"]["updateTrainers"]["owner"],
        owner.as_str(),
        "an admin's update keeps the owner"
    );
    let deleted = post(&server, None, Some(&jane), &delete_query(&id)).await;
    assert_eq!(
        deleted.2["data"]["deleteTrainer"]["id"],
        id.as_str(),
        "{}",
        deleted.2
    );
}

#[tokio::test]
async fn invalid_tokens_are_refused_with_401_whatever_the_key() {
    let dir = tempfile::tempdir().expect("a directory");
    let (server, issuer) = server_with_accounts(dir.path()).await;
    let expired = expired_token(dir.path(), &issuer, "jane", 120);
    let jane = token(&issuer, "jane", &[], 600);
    // The payload changed (another username): the signature no longer matches.
    let mut parts: Vec<String> = jane.split('.').map(str::to_string).collect();
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&parts[1])
        .expect("base64url");
    let forged_payload = String::from_utf8(payload)
        .expect("JSON text")
        .replace("\"jane\"", "\"joe\"");
    parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(forged_payload);
    let forged = parts.join(".");
    let other_dir = tempfile::tempdir().expect("a directory");
    let other_issuer = LocalIssuer::load_or_create(other_dir.path()).expect("an issuer");
    let foreign = token(&other_issuer, "jane", &[], 600);

    for (token, says) in [
        (expired.as_str(), "expired"),
        (forged.as_str(), "signature"),
        (foreign.as_str(), "key"),
        ("not-a-token", "malformed"),
    ] {
        for key in [None, Some(TEST_API_KEY)] {
            let answer = post(&server, key, Some(token), "{ countTrainers }").await;
            assert_401(&answer, says, Some(token));
            let answer = post(&server, key, Some(token), &create_query("Eve")).await;
            assert_401(&answer, says, Some(token));
        }
    }
    // An Authorization header that is not text is a token presented, and malformed: not none,
    // even beside a valid key.
    let response = server
        .client
        .post(server.url())
        .header("x-api-key", TEST_API_KEY)
        .header(
            "Authorization",
            reqwest::header::HeaderValue::from_bytes(b"Bearer \xff\xfe").expect("obs-text"),
        )
        .json(&json!({ "query": "{ countTrainers }" }))
        .send()
        .await
        .expect("an answer");
    assert_eq!(response.status(), 401);
    let count = post(&server, Some(TEST_API_KEY), None, "{ countTrainers }").await;
    assert_eq!(count.2["data"]["countTrainers"], 0);
}

#[tokio::test]
async fn readiness_reports_the_issuers_keys_and_the_local_issuer_serves_its_jwks() {
    let dir = tempfile::tempdir().expect("a directory");
    let (server, issuer) = server_with_accounts(dir.path()).await;
    let base = format!("http://{}", server.addr);
    let ready = server
        .client
        .get(format!("{base}/readyz"))
        .send()
        .await
        .expect("an answer");
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.expect("JSON");
    assert_eq!(body, json!({"status": "ready", "issuer": {"keys": 1}}));
    let jwks: Value = server
        .client
        .get(format!("{base}/.well-known/jwks.json"))
        .send()
        .await
        .expect("an answer")
        .json()
        .await
        .expect("JSON");
    let expected: Value = serde_json::from_str(&issuer.jwks()).expect("JSON");
    assert_eq!(jwks, expected);
    assert!(jwks["keys"][0].get("d").is_none(), "no private part");

    // An issuer that never answered: not ready, and why.
    let settings = AuthSettings {
        issuer: "https://issuer.invalid".into(),
        client_ids: vec!["app".into()],
        jwks_url: Some("http://127.0.0.1:9/jwks.json".into()),
        admin_group: None,
    };
    let verifier = Verifier::new(settings).expect("a verifier");
    let _ = verifier.refresh().await;
    let (store, store_dir) = embedded_store();
    let unready =
        TestServer::start_with(store, Some(Box::new(store_dir)), |s| s.accounts(verifier)).await;
    let answer = unready
        .client
        .get(format!("http://{}/readyz", unready.addr))
        .send()
        .await
        .expect("an answer");
    assert_eq!(answer.status(), 503);
    let body: Value = answer.json().await.expect("JSON");
    assert_eq!(
        body["status"], "the issuer's keys were never fetched",
        "{body}"
    );
    assert!(body["issuer"]["error"].as_str().is_some(), "{body}");
    // No JWKS served by a server that is not the issuer.
    let none = unready
        .client
        .get(format!("http://{}/.well-known/jwks.json", unready.addr))
        .send()
        .await
        .expect("an answer");
    assert_eq!(none.status(), 404);
}

#[tokio::test]
async fn without_accounts_a_token_is_not_read_and_the_key_does_everything() {
    let dir = tempfile::tempdir().expect("a directory");
    let issuer = LocalIssuer::load_or_create(dir.path()).expect("an issuer");
    let jane = token(&issuer, "jane", &[], 600);
    let server = trainers_conformance::spawn_embedded().await;
    let alone = post(&server, None, Some(&jane), "{ countTrainers }").await;
    assert_401(&alone, "You are not authorized", Some(&jane));
    let created = post(
        &server,
        Some(TEST_API_KEY),
        Some(&jane),
        &create_query("Ada"),
    )
    .await;
    assert_eq!(
        created.2["data"]["createTrainer"]["owner"],
        Value::Null,
        "{}",
        created.2
    );
    let ready: Value = server
        .client
        .get(format!("http://{}/readyz", server.addr))
        .send()
        .await
        .expect("an answer")
        .json()
        .await
        .expect("JSON");
    assert_eq!(ready, json!({"status": "ready"}));
}

// ---------------------------------------------------------------------------------------------
// WebSockets.

struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Client {
    async fn connect(url: &str, protocol: &'static str) -> Client {
        let mut request = url.into_client_request().expect("a WebSocket URL");
        request
            .headers_mut()
            .insert("sec-websocket-protocol", HeaderValue::from_static(protocol));
        let (ws, _) = tokio_tungstenite::connect_async(request)
            .await
            .expect("the WebSocket handshake succeeds");
        Client { ws }
    }

    async fn send(&mut self, message: Value) {
        self.ws
            .send(Message::text(message.to_string()))
            .await
            .expect("sent");
    }

    /// The next message other than `ka`; `Err((code, reason))` if the connection closed, and
    /// `Err((None, "silent"))` if nothing came within `wait`.
    async fn next_within(&mut self, wait: Duration) -> Result<Value, (Option<u16>, String)> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let message = match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => return Err((None, "silent".into())),
                Ok(None) | Ok(Some(Err(_))) => return Err((None, "closed".into())),
                Ok(Some(Ok(message))) => message,
            };
            match message {
                Message::Text(text) => {
                    let value: Value = serde_json::from_str(&text).expect("JSON");
                    if value["type"] != "ka" {
                        return Ok(value);
                    }
                }
                Message::Close(frame) => {
                    return Err(frame
                        .map(|f| (Some(u16::from(f.code)), f.reason.to_string()))
                        .unwrap_or_default())
                }
                _ => {}
            }
        }
    }

    async fn expect(&mut self, kind: &str) -> Value {
        let message = self.next_within(PATIENCE).await;
        let message = message.unwrap_or_else(|e| panic!("expected {kind}, got {e:?}"));
        assert_eq!(message["type"], kind, "expected {kind}, got {message}");
        message
    }

    async fn expect_silence(&mut self) {
        let next = self.next_within(QUIET).await;
        assert!(
            matches!(&next, Err((None, s)) if s == "silent"),
            "expected silence, got {next:?}"
        );
    }
}

/// An AppSync connection whose handshake header carries `header`, initialised (or refused).
async fn appsync(addr: SocketAddr, header: Value) -> Client {
    let header = STANDARD.encode(header.to_string());
    let url = format!("ws://{addr}/graphql/realtime?header={header}&payload=e30=");
    let mut client = Client::connect(&url, "graphql-ws").await;
    client.send(json!({"type": "connection_init"})).await;
    client
}

fn start(id: &str, query: &str, authorization: Option<Value>) -> Value {
    let data = json!({"query": query, "variables": {}}).to_string();
    let mut payload = json!({ "data": data });
    if let Some(authorization) = authorization {
        payload["extensions"] = json!({ "authorization": authorization });
    }
    json!({"id": id, "type": "start", "payload": payload})
}

const ON_UPDATE: &str = "subscription { onUpdateTrainer { id age owner } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appsync_subscribers_sign_in_with_tokens_and_hear_only_allowed_changes() {
    let dir = tempfile::tempdir().expect("a directory");
    let (server, issuer) = server_with_accounts(dir.path()).await;
    let jane = token(&issuer, "jane", &[], 600);
    let joe = token(&issuer, "joe", &[], 600);
    let host = server.addr.to_string();

    // A token in the handshake.
    let mut by_header = appsync(server.addr, json!({"host": host, "Authorization": jane})).await;
    by_header.expect("connection_ack").await;
    by_header.send(start("h", ON_UPDATE, None)).await;
    assert_eq!(by_header.expect("start_ack").await["id"], "h");
    // No credentials in the handshake; a token in the start (in time).
    let mut by_start = appsync(server.addr, json!({"host": host})).await;
    by_start.expect("connection_ack").await;
    let authorization = json!({"host": host, "Authorization": format!("Bearer {joe}")});
    by_start
        .send(start("s", ON_UPDATE, Some(authorization)))
        .await;
    assert_eq!(by_start.expect("start_ack").await["id"], "s");

    let created = post(&server, None, Some(&jane), &create_query("Ada")).await;
    let id = created.2["data"]["createTrainer"]["id"]
        .as_str()
        .expect("an id")
        .to_string();
    // Joe's update is refused: nobody hears it.
    assert_refused(
        &post(&server, None, Some(&joe), &update_query(&id, 50)).await,
        "updateTrainers",
    );
    by_header.expect_silence().await;
    by_start.expect_silence().await;
    // Jane's is heard by both.
    post(&server, None, Some(&jane), &update_query(&id, 40)).await;
    for (client, sid) in [(&mut by_header, "h"), (&mut by_start, "s")] {
        let data = client.expect("data").await;
        assert_eq!(data["id"], sid);
        assert_eq!(
            data["payload"]["data"]["onUpdateTrainer"]["age"], 40,
            "{data}"
        );
    }

    // A bad token in the handshake: connection_error, 401, saying why.
    let expired = expired_token(dir.path(), &issuer, "jane", 120);
    let mut refused = appsync(server.addr, json!({"host": host, "Authorization": expired})).await;
    let error = refused.expect("connection_error").await;
    let entry = &error["payload"]["errors"][0];
    assert_eq!(entry["errorType"], "UnauthorizedException", "{error}");
    assert_eq!(entry["errorCode"], 401, "{error}");
    assert_eq!(entry["message"], "The token has expired", "{error}");
    // A bad token in a start: an error for that start, and the connection lives on.
    let forged = format!("{jane}x");
    by_start
        .send(start(
            "bad",
            ON_UPDATE,
            Some(json!({"Authorization": forged})),
        ))
        .await;
    let error = by_start.expect("error").await;
    assert_eq!(error["id"], "bad");
    assert_eq!(
        error["payload"]["errors"][0]["errorType"],
        "UnauthorizedException"
    );
    assert_eq!(error["payload"]["errors"][0]["errorCode"], 401);
    assert!(!error.to_string().contains(&jane), "the token leaked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appsync_subscriptions_end_when_their_token_expires() {
    let dir = tempfile::tempdir().expect("a directory");
    let (server, issuer) = server_with_accounts(dir.path()).await;
    let short = token(&issuer, "jane", &[], 2);
    let long = token(&issuer, "joe", &[], 600);
    let host = server.addr.to_string();
    let mut client = appsync(server.addr, json!({"host": host, "Authorization": long})).await;
    client.expect("connection_ack").await;
    let started = std::time::Instant::now();
    client
        .send(start(
            "short",
            ON_UPDATE,
            Some(json!({"Authorization": short})),
        ))
        .await;
    client.expect("start_ack").await;
    client.send(start("long", ON_UPDATE, None)).await;
    client.expect("start_ack").await;
    let error = client.expect("error").await;
    assert_eq!(error["id"], "short", "{error}");
    let entry = &error["payload"]["errors"][0];
    assert_eq!(entry["errorType"], "UnauthorizedException", "{error}");
    assert_eq!(entry["errorCode"], 401);
    assert_eq!(entry["message"], "The token has expired");
    let after = started.elapsed();
    assert!(
        after >= Duration::from_millis(900) && after < Duration::from_secs(5),
        "{after:?}"
    );
    // The other subscription (another token) still hears events.
    let created = post(&server, None, Some(&long), &create_query("Ada")).await;
    let id = created.2["data"]["createTrainer"]["id"]
        .as_str()
        .expect("an id")
        .to_string();
    post(&server, None, Some(&long), &update_query(&id, 40)).await;
    let data = client.expect("data").await;
    assert_eq!(data["id"], "long", "{data}");
    client.expect_silence().await;
}

/// A `graphql-transport-ws` connection, `connection_init` sent with `payload`.
async fn transport_ws(addr: SocketAddr, payload: Value) -> Client {
    let mut client = Client::connect(&format!("ws://{addr}/graphql"), "graphql-transport-ws").await;
    client
        .send(json!({"type": "connection_init", "payload": payload}))
        .await;
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transport_ws_signs_in_with_a_token_runs_its_caller_and_ends_at_expiry() {
    let dir = tempfile::tempdir().expect("a directory");
    let (server, issuer) = server_with_accounts(dir.path()).await;
    let jane = token(&issuer, "jane", &[], 600);
    let short = token(&issuer, "joe", &[], 2);

    // A bad token: closed 4403, saying why.
    let mut refused = transport_ws(server.addr, json!({"Authorization": format!("{jane}x")})).await;
    let closed = refused.next_within(PATIENCE).await;
    match closed {
        Err((Some(4403), reason)) => {
            assert!(reason.starts_with("Forbidden: The token"), "{reason}")
        }
        other => panic!("expected a close with 4403, got {other:?}"),
    }

    // Jane: her mutation over the socket records her as the owner.
    let mut client = transport_ws(server.addr, json!({"Authorization": jane})).await;
    client.expect("connection_ack").await;
    client
        .send(json!({"id": "m", "type": "subscribe", "payload": {"query": create_query("Ada")}}))
        .await;
    let next = client.expect("next").await;
    let owner = format!("{}::jane", issuer.sub("jane"));
    assert_eq!(
        next["payload"]["data"]["createTrainer"]["owner"],
        owner.as_str(),
        "{next}"
    );
    client.expect("complete").await;

    // The API key alone: reads, but its mutation is refused.
    let mut by_key = transport_ws(server.addr, json!({"x-api-key": TEST_API_KEY})).await;
    by_key.expect("connection_ack").await;
    by_key
        .send(json!({"id": "k", "type": "subscribe", "payload": {"query": create_query("Key")}}))
        .await;
    let next = by_key.expect("next").await;
    assert_eq!(
        next["payload"]["errors"][0]["errorType"], "Unauthorized",
        "{next}"
    );

    // A short-lived token: its subscription ends with an error when it expires.
    let started = std::time::Instant::now();
    let mut expiring = transport_ws(server.addr, json!({"Authorization": short})).await;
    expiring.expect("connection_ack").await;
    expiring
        .send(json!({"id": "s", "type": "subscribe", "payload": {"query": ON_UPDATE}}))
        .await;
    let error = expiring.expect("error").await;
    assert_eq!(error["id"], "s", "{error}");
    assert_eq!(
        error["payload"][0]["errorType"], "UnauthorizedException",
        "{error}"
    );
    assert_eq!(error["payload"][0]["errorCode"], 401, "{error}");
    let after = started.elapsed();
    assert!(
        after >= Duration::from_millis(900) && after < Duration::from_secs(5),
        "{after:?}"
    );
    // Later operations of that connection are refused so too.
    expiring
        .send(json!({"id": "t", "type": "subscribe", "payload": {"query": ON_UPDATE}}))
        .await;
    let error = expiring.expect("error").await;
    assert_eq!(error["id"], "t", "{error}");
    assert_eq!(error["payload"][0]["message"], "The token has expired");
}
