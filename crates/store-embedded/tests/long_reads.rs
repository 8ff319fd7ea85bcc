//! Long reads (filtered scans, counts) run at most `MAX_LONG_READS` at once, even when their
//! clients leave: the attack is clients that start a long filtered read and disconnect before it
//! ends, again and again. A read's turn went back when its caller left while SQLite scanned on,
//! so every new client started one more full scan beside the abandoned ones.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use trainers_core::{Filter, FilterKind, ListQuery, Timestamp, Trainer, TrainerId, TrainerStore};
use trainers_store_embedded::{EmbeddedStore, MAX_LONG_READS};

/// Enough trainers that a scan of them all takes a noticeable time (tens of milliseconds).
const TRAINERS: usize = 100_000;
const CLIENTS: usize = 12;
const ROUNDS: usize = 4;

async fn seeded(dir: &std::path::Path) -> EmbeddedStore {
    let store = EmbeddedStore::open(dir).expect("a store");
    let now = Timestamp::now();
    for chunk in (0..TRAINERS).collect::<Vec<_>>().chunks(10_000) {
        let trainers: Vec<Trainer> = chunk
            .iter()
            .map(|n| Trainer {
                id: TrainerId::generate(),
                first_name: format!("First{n}"),
                last_name: format!("Last{n}"),
                age: 16 + (n % 80) as i32,
                specialty: None,
                created_at: now,
                updated_at: now,
                version: 1,
                owner: None,
            })
            .collect();
        store.insert_many(&trainers).await.expect("seeded");
    }
    store
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_leave_never_run_more_than_the_long_reads_allowed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = seeded(dir.path()).await;
    // Matches nobody: every read scans the whole table.
    let filter = Filter::parse(
        FilterKind::List,
        &json!({"firstName": {"contains": "nobody has this name"}}),
    )
    .expect("a filter")
    .expect("not empty");
    let filter = Arc::new(filter);

    let started = Instant::now();
    let query = ListQuery {
        specialty: None,
        filter: Some(&filter),
    };
    let page = store.list(&query, None, 10).await.expect("a full scan");
    assert!(page.items.is_empty());
    let scan = started.elapsed();
    assert_eq!(store.long_reads().running, 0);

    // Each client starts a long read and leaves after a fifth of a scan, ROUNDS times.
    let leave_after = (scan / 5).max(Duration::from_millis(5));
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let (store, filter) = (store.clone(), Arc::clone(&filter));
        clients.push(tokio::spawn(async move {
            for _ in 0..ROUNDS {
                let query = ListQuery {
                    specialty: None,
                    filter: Some(&filter),
                };
                let _ = tokio::time::timeout(leave_after, store.list(&query, None, 10)).await;
            }
        }));
    }
    for client in clients {
        client.await.expect("a client");
    }
    let left = Instant::now();
    let peak = store.long_reads().peak;
    // The abandoned scans stop soon after their clients left (a scan runs `scan` at most).
    let mut stopped_after = None;
    while left.elapsed() < scan * 4 + Duration::from_secs(2) {
        if store.long_reads().running == 0 {
            stopped_after = Some(left.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    eprintln!(
        "{TRAINERS} trainers, one scan {scan:?}; {CLIENTS} clients x {ROUNDS} leaving after \
         {leave_after:?}: at most {peak} scans at once, none running {stopped_after:?} after \
         the last left"
    );
    assert!(
        peak <= MAX_LONG_READS,
        "{peak} scans ran at once (at most {MAX_LONG_READS})"
    );
    let stopped_after = stopped_after.expect("the abandoned scans stop");
    assert!(
        stopped_after < scan,
        "the abandoned scans ran on for {stopped_after:?} (a whole scan is {scan:?})"
    );

    // The turns came back: a read that stays gets its answer.
    let page = store
        .list(&query, None, 10)
        .await
        .expect("a read after them");
    assert!(page.items.is_empty());
}
