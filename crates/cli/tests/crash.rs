//! Durability: every mutation that answered success survives `kill -9` of the server.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{serve, KEY};
use serde_json::json;
use trainers_core::TrainerId;
use trainers_store_embedded::EmbeddedStore;

const WRITERS: usize = 16;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = serve(dir.path(), &["--api-key", KEY]).await;
    // id -> the highest version the server acknowledged for it.
    let acked: Arc<Mutex<HashMap<String, i64>>> = Arc::default();
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (server, acked) = (server.api.clone(), acked.clone());
        writers.push(tokio::spawn(async move {
            let mut mine: Vec<String> = Vec::new();
            for i in 0.. {
                let result = if i % 3 == 2 && !mine.is_empty() {
                    let id = &mine[i % mine.len()];
                    let version = acked.lock().map(|a| a.get(id).copied().unwrap_or(1)).unwrap_or(1);
                    server
                        .graphql(
                            KEY,
                            "mutation($id: ID!, $v: Int) { updateTrainers(id: $id, age: 40, expectedVersion: $v) { id version } }",
                            json!({ "id": id, "v": version }),
                        )
                        .await
                        .map(|(_, body)| body["data"]["updateTrainers"].clone())
                } else {
                    server
                        .graphql(
                            KEY,
                            "mutation($f: String!) { createTrainer(firstName: $f, lastName: \"Crash\", age: 30) { id version } }",
                            json!({ "f": format!("W{w}N{i}") }),
                        )
                        .await
                        .map(|(_, body)| body["data"]["createTrainer"].clone())
                };
                match result {
                    Ok(t) if t["id"].is_string() => {
                        let id = t["id"].as_str().unwrap_or_default().to_string();
                        let version = t["version"].as_i64().unwrap_or(0);
                        if let Ok(mut a) = acked.lock() {
                            a.insert(id.clone(), version);
                        }
                        if version == 1 {
                            mine.push(id);
                        }
                    }
                    Ok(_) => {}
                    Err(_) => return,
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // SIGKILL while the writers are still writing.
    server.child.start_kill().expect("kill -9");
    let _ = server.child.wait().await;
    for w in writers {
        let _ = w.await;
    }
    let acked = acked.lock().expect("acked").clone();
    assert!(acked.len() > 50, "the load made writes: {}", acked.len());

    // The store is consistent after the crash.
    let store = EmbeddedStore::open(dir.path()).expect("the store reopens");
    store
        .check_integrity()
        .await
        .expect("integrity check passes");
    let stored = store.count().await.expect("count");
    drop(store);

    let server = serve(dir.path(), &["--api-key", KEY]).await;
    let mut found = 0;
    for (id, version) in &acked {
        let (_, body) = server
            .graphql(
                KEY,
                "query($id: ID!) { getTrainer(id: $id) { version } }",
                json!({ "id": id }),
            )
            .await
            .expect("answers");
        let stored_version = body["data"]["getTrainer"]["version"].as_i64();
        assert!(
            stored_version.is_some_and(|v| v >= *version),
            "{id} acknowledged at version {version}, found {stored_version:?}"
        );
        assert!(TrainerId::parse(id).is_some());
        found += 1;
    }
    let updates = acked.values().filter(|v| **v > 1).count();
    println!(
        "crash test: {} trainers acknowledged ({} of them updated) before SIGKILL; {} found after restart at their acknowledged version or later; store holds {}",
        acked.len(),
        updates,
        found,
        stored
    );
    assert!(stored as usize >= acked.len());
}
