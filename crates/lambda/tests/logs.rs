//! `bootstrap` at RUST_LOG=trace never logs the caller's API key, which AppSync passes in each
//! event's `request.headers` (lambda_runtime logs every raw event at trace level). The Lambda
//! Runtime API is a stand-in here; the store is never reached.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use serde_json::{json, Value};
use tokio::sync::mpsc;

const KEY: &str = "da2-lambdalogsecret00000000000";

#[derive(Clone)]
struct Runtime {
    given: Arc<AtomicBool>,
    answers: mpsc::UnboundedSender<String>,
}

async fn next(State(runtime): State<Runtime>) -> (HeaderMap, String) {
    if runtime.given.swap(true, Ordering::SeqCst) {
        // One event only: the next poll waits for ever.
        std::future::pending::<()>().await;
    }
    let deadline = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() + 60_000)
        .unwrap_or_default();
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("lambda-runtime-aws-request-id", "request-1".to_string()),
        ("lambda-runtime-deadline-ms", deadline.to_string()),
        (
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:us-east-1:123456789012:function:trainers".to_string(),
        ),
    ] {
        if let Ok(value) = value.parse() {
            headers.insert(name, value);
        }
    }
    let event = json!({
        "arguments": {},
        "identity": null,
        "source": null,
        "request": {"headers": {"x-api-key": KEY, "host": "example.appsync-api.us-east-1.amazonaws.com"}},
        "info": {
            "fieldName": "noSuchField",
            "parentTypeName": "Query",
            "variables": {},
            "selectionSetList": [],
            "selectionSetGraphQL": "",
        },
        "stash": {},
    });
    (headers, event.to_string())
}

async fn answer(State(runtime): State<Runtime>, body: String) -> axum::http::StatusCode {
    let _ = runtime.answers.send(body);
    axum::http::StatusCode::ACCEPTED
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_logs_never_show_the_callers_api_key() {
    let (answers, mut answered) = mpsc::unbounded_channel();
    let runtime = Runtime {
        given: Arc::default(),
        answers,
    };
    let app = axum::Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route("/2018-06-01/runtime/invocation/{id}/response", post(answer))
        .route("/2018-06-01/runtime/invocation/{id}/error", post(answer))
        .route("/2018-06-01/runtime/init/error", post(answer))
        .with_state(runtime);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let addr = listener.local_addr().expect("an address");
    tokio::spawn(async move { axum::serve(listener, app).await });

    let mut bootstrap = tokio::process::Command::new(env!("CARGO_BIN_EXE_bootstrap"))
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "trainers")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("TABLE_NAME", "trainers")
        .env(
            "TRAINERS_TOKEN_SECRET",
            "a-token-secret-for-this-test-of-the-logs",
        )
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
        .env("RUST_LOG", "trace")
        .env_remove("AWS_LAMBDA_LOG_LEVEL")
        .env_remove("AWS_LAMBDA_LOG_FORMAT")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("bootstrap starts");
    let answer = tokio::time::timeout(Duration::from_secs(30), answered.recv())
        .await
        .expect("bootstrap answers the event within 30 s")
        .expect("an answer");
    let answer: Value = serde_json::from_str(&answer).unwrap_or(Value::Null);
    assert!(answer.get("errorMessage").is_some(), "{answer}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _ = bootstrap.start_kill();
    let out = bootstrap
        .wait_with_output()
        .await
        .expect("bootstrap's output");
    let logs = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(logs.contains("DEBUG"), "trace logging was on:\n{logs}");
    assert!(!logs.contains(KEY), "the key is in the logs:\n{logs}");
    assert!(
        !logs.contains("a-token-secret"),
        "the token secret is in the logs:\n{logs}"
    );
}
