//! Accounts through the real binary: `trainers token create` and `serve --auth-local`, an
//! issuer that does not answer (`--auth-issuer`, from the environment), and settings refused
//! before anything starts.

mod common;

use std::time::Duration;

use common::appsync::{addr_of, Subscriber};
use common::{serve, serve_captured, trainers, KEY};
use serde_json::{json, Value};

/// `trainers --data-dir DIR token create ARGS`: its stdout, trimmed.
async fn token(dir: &std::path::Path, args: &[&str]) -> String {
    let out = trainers()
        .arg("--data-dir")
        .arg(dir)
        .args(["token", "create"])
        .args(args)
        .output()
        .await
        .expect("trainers runs");
    assert!(
        out.status.success(),
        "token create failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("text")
        .trim()
        .to_string()
}

async fn post(url: &str, key: Option<&str>, token: Option<&str>, query: &str) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(url)
        .json(&json!({ "query": query }));
    if let Some(key) = key {
        request = request.header("x-api-key", key);
    }
    if let Some(token) = token {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    let response = request.send().await.expect("an answer");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_create_and_serve_auth_local_apply_owner_rules() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    // Made before the server ever ran: the directory and its key are made by `token create`.
    let jane = token(&data, &["--username", "jane"]).await;
    let joe = token(&data, &["--username", "joe", "--expires-in", "10m"]).await;
    let ann = token(&data, &["--username", "ann", "--group", "Admins"]).await;
    assert_eq!(jane.split('.').count(), 3, "a JWT: {jane}");

    let (mut server, output) = serve_captured(
        &data,
        &["--api-key", KEY, "--auth-local", "--admin-group", "Admins"],
        &[("RUST_LOG", "trace")],
    )
    .await;
    let url = server.url.clone();
    let base = url.trim_end_matches("/graphql").to_string();

    let create =
        r#"mutation { createTrainer(firstName: "Ada", lastName: "L", age: 36) { id owner } }"#;
    let (status, body) = post(&url, None, Some(&jane), create).await;
    assert_eq!(status, 200, "{body}");
    let owner = body["data"]["createTrainer"]["owner"]
        .as_str()
        .expect("an owner")
        .to_string();
    assert!(owner.ends_with("::jane"), "{owner}");
    let id = body["data"]["createTrainer"]["id"]
        .as_str()
        .expect("an id")
        .to_string();

    let update = |age: i32| {
        format!(r#"mutation {{ updateTrainers(id: "{id}", age: {age}) {{ age owner }} }}"#)
    };
    // Jane listens, signed in over AppSync's protocol (her token in the handshake and the start).
    let mut listener = Subscriber::start_with(
        &addr_of(&url),
        ("Authorization", &jane),
        "subscription { onUpdateTrainer { age owner } }",
    )
    .await;
    let (_, refused) = post(&url, None, Some(&joe), &update(50)).await;
    assert_eq!(refused["data"]["updateTrainers"], Value::Null, "{refused}");
    assert_eq!(
        refused["errors"][0]["errorType"], "Unauthorized",
        "{refused}"
    );
    let (_, by_key) = post(&url, Some(KEY), None, &update(51)).await;
    assert_eq!(by_key["errors"][0]["errorType"], "Unauthorized", "{by_key}");
    let (_, by_admin) = post(&url, None, Some(&ann), &update(40)).await;
    assert_eq!(by_admin["data"]["updateTrainers"]["age"], 40, "{by_admin}");
    assert_eq!(by_admin["data"]["updateTrainers"]["owner"], owner.as_str());
    // She heard the admin's update only: the refused ones fired nothing.
    let heard = listener.data().await;
    assert_eq!(heard["onUpdateTrainer"]["age"], 40, "{heard}");
    assert!(
        listener
            .next_within(Duration::from_millis(300))
            .await
            .is_none(),
        "a refused update was heard"
    );
    listener.stop().await;
    // The key still reads.
    let (status, read) = post(&url, Some(KEY), None, "{ countTrainers }").await;
    assert_eq!(
        (status, read["data"]["countTrainers"].clone()),
        (200, json!(1))
    );
    // No credentials, and a token of another directory's issuer: 401.
    let (status, _) = post(&url, None, None, "{ countTrainers }").await;
    assert_eq!(status, 401);
    let other = tempfile::tempdir().expect("tempdir");
    let foreign = token(other.path(), &["--username", "jane"]).await;
    let (status, body) = post(&url, Some(KEY), Some(&foreign), "{ countTrainers }").await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["errors"][0]["errorType"], "UnauthorizedException");

    // The issuer's public keys, and readiness that counts them.
    let client = reqwest::Client::new();
    let jwks: Value = client
        .get(format!("{base}/.well-known/jwks.json"))
        .send()
        .await
        .expect("an answer")
        .json()
        .await
        .expect("JSON");
    assert_eq!(jwks["keys"][0]["alg"], "ES256", "{jwks}");
    assert!(jwks["keys"][0].get("d").is_none(), "no private part");
    let ready: Value = client
        .get(format!("{base}/readyz"))
        .send()
        .await
        .expect("an answer")
        .json()
        .await
        .expect("JSON");
    assert_eq!(ready, json!({"status": "ready", "issuer": {"keys": 1}}));

    tokio::time::sleep(Duration::from_millis(300)).await;
    let _ = server.child.kill().await;
    let _ = server.child.wait().await;
    let logs = output.text();
    assert!(logs.contains("DEBUG"), "trace logging was on: {logs}");
    for token in [&jane, &joe, &ann, &foreign] {
        let signature = token.rsplit('.').next().unwrap_or_default();
        assert!(!logs.contains(signature), "a token is in the logs:\n{logs}");
    }
    // Nor the handshake's header, which carried Jane's token in base64.
    let header = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        json!({"host": addr_of(&url), "Authorization": jane}).to_string(),
    );
    assert!(
        !logs.contains(&header[..40]),
        "the handshake header is in the logs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issuer_that_does_not_answer_starts_the_server_unready() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut server, output) = serve_captured(
        dir.path(),
        &["--api-key", KEY],
        &[
            ("TRAINERS_AUTH_ISSUER", "https://issuer.invalid/pool"),
            ("TRAINERS_AUTH_CLIENT_ID", "app-1,app-2"),
            ("TRAINERS_AUTH_JWKS_URL", "http://127.0.0.1:9/jwks.json"),
        ],
    )
    .await;
    let base = server.url.trim_end_matches("/graphql").to_string();
    let answer = reqwest::Client::new()
        .get(format!("{base}/readyz"))
        .send()
        .await
        .expect("an answer");
    assert_eq!(answer.status(), 503);
    let body: Value = answer.json().await.expect("JSON");
    assert_eq!(
        body["status"], "the issuer's keys were never fetched",
        "{body}"
    );
    // Accounts are on: the API key may no longer create.
    let (status, body) = server
        .graphql(
            KEY,
            r#"mutation { createTrainer(firstName: "A", lastName: "B", age: 30) { id } }"#,
            json!({}),
        )
        .await
        .expect("an answer");
    assert_eq!(status, 200);
    assert_eq!(body["errors"][0]["errorType"], "Unauthorized", "{body}");
    let _ = server.child.kill().await;
    let _ = server.child.wait().await;
    assert!(
        output.text().contains("cannot be fetched yet"),
        "{}",
        output.text()
    );
}

#[tokio::test]
async fn settings_that_cannot_work_stop_the_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (args, says) in [
        (
            vec!["--admin-group", "Admins"],
            "--admin-group needs accounts",
        ),
        (
            vec!["--auth-issuer", "https://i.example"],
            "--auth-client-id",
        ),
        (
            vec![
                "--auth-local",
                "--auth-issuer",
                "https://i",
                "--auth-client-id",
                "c",
            ],
            "cannot be used with",
        ),
        (vec!["--auth-client-id", "c"], "--auth-issuer"),
        (
            vec![
                "--auth-issuer",
                "https://i",
                "--auth-client-id",
                "c",
                "--auth-jwks-url",
                "file:///etc/passwd",
            ],
            "not an http:// or https:// URL",
        ),
    ] {
        let out = trainers()
            .arg("--data-dir")
            .arg(dir.path())
            .args(["serve", "--addr", "127.0.0.1:0", "--api-key", KEY])
            .args(&args)
            .output()
            .await
            .expect("trainers runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} started");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    for args in [
        vec!["--username", "jane", "--expires-in", "31d"],
        vec!["--username", ""],
        vec!["--username", "jane", "--group", "a\nb"],
    ] {
        let out = trainers()
            .arg("--data-dir")
            .arg(dir.path())
            .args(["token", "create"])
            .args(&args)
            .output()
            .await
            .expect("trainers runs");
        assert!(!out.status.success(), "{args:?} made a token");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[tokio::test]
async fn without_auth_options_a_token_is_not_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let jane = token(dir.path(), &["--username", "jane"]).await;
    let server = serve(dir.path(), &["--api-key", KEY]).await;
    let (status, _) = post(&server.url, None, Some(&jane), "{ countTrainers }").await;
    assert_eq!(status, 401);
    let create =
        r#"mutation { createTrainer(firstName: "Ada", lastName: "L", age: 36) { owner } }"#;
    let (status, body) = post(&server.url, Some(KEY), Some(&jane), create).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["data"]["createTrainer"]["owner"],
        Value::Null,
        "{body}"
    );
}

/// A JWKS endpoint on loopback serving `jwks`, answering 500 while `down` is set.
async fn jwks_server(
    jwks: String,
    down: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::net::SocketAddr {
    use std::sync::atomic::Ordering;
    let app = axum::Router::new().route(
        "/jwks.json",
        axum::routing::get(move || {
            let (jwks, down) = (jwks.clone(), down.clone());
            async move {
                if down.load(Ordering::SeqCst) {
                    (axum::http::StatusCode::INTERNAL_SERVER_ERROR, String::new())
                } else {
                    (axum::http::StatusCode::OK, jwks)
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let addr = listener.local_addr().expect("an address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issuer_down_at_start_is_used_once_it_answers() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use trainers_api::auth::local::{LocalIssuer, LOCAL_CLIENT, LOCAL_ISSUER};

    // The issuer: another data directory's key, its JWKS served over HTTP (down at first).
    let issuer_dir = tempfile::tempdir().expect("tempdir");
    let issuer = LocalIssuer::load_or_create(issuer_dir.path()).expect("an issuer");
    let down = Arc::new(AtomicBool::new(true));
    let jwks = jwks_server(issuer.jwks(), down.clone()).await;
    let jwks_url = format!("http://{jwks}/jwks.json");
    let dir = tempfile::tempdir().expect("tempdir");
    let server = serve(
        dir.path(),
        &[
            "--api-key",
            KEY,
            "--auth-issuer",
            LOCAL_ISSUER,
            "--auth-client-id",
            LOCAL_CLIENT,
            "--auth-jwks-url",
            &jwks_url,
        ],
    )
    .await;
    let readyz = format!("{}/readyz", server.url.trim_end_matches("/graphql"));
    let status = || async {
        reqwest::get(&readyz)
            .await
            .expect("an answer")
            .status()
            .as_u16()
    };
    assert_eq!(status().await, 503);

    // The issuer answers now: the first token fetches its keys (an unknown kid refetches), and
    // the server is ready.
    down.store(false, Ordering::SeqCst);
    let jane = token(issuer_dir.path(), &["--username", "jane"]).await;
    let create =
        r#"mutation { createTrainer(firstName: "Ada", lastName: "L", age: 36) { owner } }"#;
    let (status_code, body) = post(&server.url, None, Some(&jane), create).await;
    assert_eq!(status_code, 200, "{body}");
    let owner = format!("{}::jane", issuer.sub("jane"));
    assert_eq!(
        body["data"]["createTrainer"]["owner"],
        owner.as_str(),
        "{body}"
    );
    assert_eq!(status().await, 200);
}
