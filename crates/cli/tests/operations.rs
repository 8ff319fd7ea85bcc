//! Running the server as an operator does (docs/contract.md, operations): probes and metrics
//! without a key, a stop on SIGTERM under load that loses nothing and waits for no one, one
//! server per data directory, and a backup of a running store.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{serve, serve_captured, trainers, KEY};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use trainers_core::{TrainerId, TrainerStore};
use trainers_store_embedded::EmbeddedStore;

const WRITERS: usize = 16;

fn base(url: &str) -> String {
    url.trim_end_matches("/graphql").to_string()
}

#[tokio::test]
async fn probes_and_metrics_answer_without_a_key_and_say_nothing_internal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = serve(dir.path(), &["--api-key", KEY]).await;
    let root = base(&server.url);
    let (status, _) = server
        .graphql(
            KEY,
            "{ getTrainer(id: \"0190f2a4-5b6c-7d8e-9f00-112233445566\") { id } }",
            json!({}),
        )
        .await
        .expect("an answer");
    assert_eq!(status, 200);
    // A count is a long read: the store's scan gauges say one ran, none runs now (they are
    // read once a second).
    let (status, _) = server
        .graphql(KEY, "{ countTrainers }", json!({}))
        .await
        .expect("an answer");
    assert_eq!(status, 200);
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    for (path, status, body) in [
        ("/healthz", 200, json!({"status": "ok"})),
        ("/readyz", 200, json!({"status": "ready"})),
    ] {
        let response = server
            .client
            .get(format!("{root}{path}"))
            .send()
            .await
            .expect("an answer");
        assert_eq!(response.status().as_u16(), status, "{path}");
        assert_eq!(response.json::<Value>().await.expect("JSON"), body);
    }
    let metrics = server
        .client
        .get(format!("{root}/metrics"))
        .send()
        .await
        .expect("an answer")
        .text()
        .await
        .expect("text");
    for expected in [
        "trainers_requests_total{operation=\"getTrainer\",error_type=\"-\"} 1",
        "trainers_request_duration_seconds_bucket{operation=\"getTrainer\"",
        "trainers_store_duration_seconds_bucket{operation=\"get\"",
        "trainers_store_scans_running 0",
        "trainers_store_scans_peak 1",
    ] {
        assert!(metrics.contains(expected), "{expected} in:\n{metrics}");
    }
    assert!(!metrics.contains(KEY));
}

#[tokio::test]
async fn a_second_server_on_one_data_directory_exits_at_once_with_a_clear_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let _first = serve(dir.path(), &["--api-key", KEY]).await;
    let out = trainers()
        .arg("--data-dir")
        .arg(dir.path())
        .args(["serve", "--addr", "127.0.0.1:0", "--api-key", KEY])
        .output()
        .await
        .expect("trainers runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("in use by another trainers process"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_backup_of_a_running_store_holds_every_acknowledged_trainer_and_restores() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = serve(dir.path(), &["--api-key", KEY]).await;
    let mut ids = Vec::new();
    for n in 0..50 {
        let (_, body) = server
            .graphql(
                KEY,
                "mutation($f: String!) { createTrainer(firstName: $f, lastName: \"B\", age: 30) { id } }",
                json!({ "f": format!("T{n}") }),
            )
            .await
            .expect("an answer");
        ids.push(
            body["data"]["createTrainer"]["id"]
                .as_str()
                .expect("an id")
                .to_string(),
        );
    }
    let backup = dir.path().join("backup.sqlite3");
    let out = run_with(&dir.path().join("data-not-here"), "backup", &backup).await;
    assert!(!out.status.success(), "no store there");
    let out = run_with(dir.path(), "backup", &backup).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The restore is refused while the server runs, then fills a fresh directory.
    let refused = run_with(dir.path(), "restore", &backup).await;
    assert!(!refused.status.success());
    let restored = tempfile::tempdir().expect("tempdir");
    let out = run_with(restored.path(), "restore", &backup).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let store = EmbeddedStore::open(restored.path()).expect("the restored store opens");
    for id in &ids {
        let id = TrainerId::parse(id).expect("an id");
        assert!(store.get(&id).await.expect("a read").is_some(), "{id:?}");
    }
}

/// SIGTERM under 16 writers, a subscriber and a client holding half a request: every
/// acknowledged write is stored, every accepted request is answered, the subscriber gets close
/// 1001, and the process exits 0 before the deadline.
/// `trainers --data-dir DIR COMMAND FILE`, run to its end.
async fn run_with(
    data_dir: &std::path::Path,
    command: &str,
    file: &std::path::Path,
) -> std::process::Output {
    trainers()
        .arg("--data-dir")
        .arg(data_dir)
        .arg(command)
        .arg(file)
        .output()
        .await
        .expect("trainers runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_answers_what_it_accepted_and_exits_in_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = serve(dir.path(), &["--api-key", KEY, "--shutdown-timeout", "3s"]).await;
    let addr = server
        .url
        .trim_start_matches("http://")
        .trim_end_matches("/graphql")
        .to_string();

    let header = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        json!({"host": addr, "x-api-key": KEY}).to_string(),
    );
    let mut request = format!("ws://{addr}/graphql/realtime?header={header}&payload=e30=")
        .into_client_request()
        .expect("a WebSocket URL");
    request.headers_mut().insert(
        "sec-websocket-protocol",
        HeaderValue::from_static("graphql-ws"),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("the WebSocket handshake succeeds");
    ws.send(Message::text(
        json!({"type": "connection_init"}).to_string(),
    ))
    .await
    .expect("sent");

    let mut half = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("a connection");
    half.write_all(b"POST /graphql HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n")
        .await
        .expect("sent");

    let acknowledged: Arc<Mutex<Vec<String>>> = Arc::default();
    let unanswered = Arc::new(AtomicUsize::new(0));
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (api, acknowledged, unanswered) =
            (server.api.clone(), acknowledged.clone(), unanswered.clone());
        writers.push(tokio::spawn(async move {
            for i in 0.. {
                let sent = api
                    .graphql(
                        KEY,
                        "mutation($f: String!) { createTrainer(firstName: $f, lastName: \"Stop\", age: 30) { id } }",
                        json!({ "f": format!("W{w}N{i}") }),
                    )
                    .await;
                match sent {
                    Ok((200, body)) => {
                        if let Some(id) = body["data"]["createTrainer"]["id"].as_str() {
                            if let Ok(mut a) = acknowledged.lock() {
                                a.push(id.to_string());
                            }
                        }
                    }
                    // A request whose connection was accepted but which got no answer.
                    Err(e) if !e.is_connect() => {
                        unanswered.fetch_add(1, Ordering::SeqCst);
                        return;
                    }
                    // Refused connections (the listener closed) or another status: the writer
                    // stops.
                    _ => return,
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    let pid = server.child.id().expect("a pid");
    let stopped = Instant::now();
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill runs");
    let status = tokio::time::timeout(Duration::from_secs(10), server.child.wait())
        .await
        .expect("the server exits")
        .expect("a status");
    let took = stopped.elapsed();
    assert!(status.success(), "exit status {status:?}");
    assert!(
        took < Duration::from_secs(5),
        "exit took {took:?} (deadline 3 s)"
    );
    for w in writers {
        w.await.expect("a writer ends");
    }
    assert_eq!(
        unanswered.load(Ordering::SeqCst),
        0,
        "every accepted request is answered"
    );

    let close = loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
            Ok(Some(Ok(Message::Close(frame)))) => break frame,
            Ok(Some(Ok(_))) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(close.map(|f| f.code), Some(CloseCode::Away));

    let acknowledged = acknowledged.lock().map(|a| a.clone()).unwrap_or_default();
    assert!(
        acknowledged.len() > 50,
        "load ran: {} writes",
        acknowledged.len()
    );
    // The store was closed cleanly: the database file alone holds every write.
    let copy = tempfile::tempdir().expect("tempdir");
    std::fs::copy(
        dir.path().join("trainers.sqlite3"),
        copy.path().join("trainers.sqlite3"),
    )
    .expect("a copy of the database file alone");
    let store = EmbeddedStore::open(copy.path()).expect("the copy opens");
    for id in &acknowledged {
        let id = TrainerId::parse(id).expect("an id");
        assert!(
            store.get(&id).await.expect("a read").is_some(),
            "{id:?} was lost"
        );
    }
}

/// `TRAINERS_UNSAFE_NO_SYNC=1`, the load benchmark's reference for what durability costs, is
/// said in the log when the server starts; without it, nothing of the kind is said. Writes work
/// either way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syncs_off_is_said_in_the_log_and_only_when_asked_for() {
    const SAID: &str = "writes are not synced";
    let create = r#"mutation { createTrainer(firstName: "Ann", lastName: "Lee", age: 30) { id } }"#;
    for (env, said) in [(Some("1"), true), (None, false)] {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let vars: Vec<(&str, &str)> = env
            .map(|v| vec![("TRAINERS_UNSAFE_NO_SYNC", v)])
            .unwrap_or_default();
        let (mut server, output) = serve_captured(dir.path(), &["--api-key", KEY], &vars).await;
        let (status, body) = server
            .graphql(KEY, create, json!({}))
            .await
            .expect("an answer");
        assert_eq!(status, 200, "{body}");
        assert!(body.get("errors").is_none(), "{body}");
        // The log is written by its own thread: give it a moment to arrive.
        let deadline = Instant::now() + Duration::from_secs(5);
        while said && !output.text().contains(SAID) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = server.child.kill().await;
        assert_eq!(output.text().contains(SAID), said, "{}", output.text());
    }
}
