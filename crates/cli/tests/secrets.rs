//! Secrets never reach diagnostics: `--help` does not show the values of secret variables, and
//! a server logging at RUST_LOG=trace, which serves an AppSync subscription (the key in the
//! handshake's header and in `start`'s authorization), never writes the key.

mod common;

use std::time::Duration;

use common::appsync::{addr_of, Subscriber};
use common::{serve_captured, trainers, KEY};
use serde_json::json;

#[tokio::test]
async fn serve_help_shows_no_secret_variable() {
    let secrets = [
        ("TRAINERS_API_KEY", "da2-helpsecretkey0000000000000"),
        ("TRAINERS_EVENTS", "redis://:helpsecretpw@127.0.0.1:6379"),
        ("TRAINERS_TOKEN_SECRET", "helpsecrettokensecret"),
    ];
    let out = trainers()
        .args(["serve", "--help"])
        .envs(secrets)
        .output()
        .await
        .expect("trainers runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    for (name, value) in secrets {
        assert!(text.contains(name), "the help names {name}: {text}");
        assert!(
            !text.contains(value),
            "the help shows {name}'s value: {text}"
        );
        assert!(!text.contains("helpsecret"), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_logs_of_an_appsync_subscription_never_show_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut server, output) =
        serve_captured(dir.path(), &["--api-key", KEY], &[("RUST_LOG", "trace")]).await;
    let addr = addr_of(&server.url);
    let mut subscriber = Subscriber::start(
        &addr,
        KEY,
        "subscription { onCreateTrainer { id firstName } }",
    )
    .await;
    let (status, body) = server
        .graphql(
            KEY,
            r#"mutation { createTrainer(firstName: "Ada", lastName: "Trace", age: 36) { id firstName } }"#,
            json!({}),
        )
        .await
        .expect("the mutation is answered");
    assert_eq!(status, 200, "{body}");
    let heard = subscriber.data().await;
    assert_eq!(heard["onCreateTrainer"]["firstName"], "Ada");
    subscriber.stop().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _ = server.child.kill().await;
    let _ = server.child.wait().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let logs = output.text();
    // Trace logging was on (the project's own lines and other crates' up to debug).
    assert!(logs.lines().count() > 5, "few logs at trace: {logs}");
    assert!(logs.contains("DEBUG"), "{logs}");
    assert!(!logs.contains(KEY), "the key is in the logs:\n{logs}");
    // The handshake's header carries the key in base64.
    let header = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        json!({"host": addr, "x-api-key": KEY}).to_string(),
    );
    assert!(
        !logs.contains(&header),
        "the handshake header is in the logs"
    );
}
