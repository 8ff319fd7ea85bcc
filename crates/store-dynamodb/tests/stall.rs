//! A DynamoDB that stalls or is gone: each request is cut off by the client's timeouts and fails
//! with an error, instead of waiting forever. Needs no DynamoDB-compatible server.

use std::sync::Arc;
use std::time::{Duration, Instant};

use trainers_core::{Field, Filter, ListQuery, Op, Scalar, StoreError, TrainerId, TrainerStore};
use trainers_store_dynamodb::{local_client, DynamoStore, ScanLimits};

/// Longer than the operation timeout, retries included: a request must end before.
const NO_LONGER_THAN: Duration = Duration::from_secs(15);

#[tokio::test]
async fn a_dynamodb_that_accepts_and_never_answers_is_cut_off() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    // Accepts connections and holds them, never answering.
    let held = tokio::spawn(async move {
        let mut connections = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            connections.push(stream);
        }
    });
    let store = DynamoStore::new(local_client(&url), "trainers", None);
    let id = TrainerId::parse("0190f2a4-5b6c-7d8e-9f00-112233445566").expect("an id");
    let got = tokio::time::timeout(NO_LONGER_THAN, store.get(&id))
        .await
        .expect("the request is cut off by the client's timeouts");
    assert!(got.is_err(), "a stalled DynamoDB is an error, not {got:?}");
    let pinged = tokio::time::timeout(NO_LONGER_THAN, store.ping()).await;
    assert!(
        matches!(pinged, Ok(Err(_))),
        "readiness sees it: {pinged:?}"
    );
    held.abort();
}

#[tokio::test]
async fn a_dynamodb_that_is_gone_fails_the_request() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    drop(listener);
    let store = DynamoStore::new(local_client(&url), "trainers", None);
    let id = TrainerId::parse("0190f2a4-5b6c-7d8e-9f00-112233445566").expect("an id");
    let got = tokio::time::timeout(NO_LONGER_THAN, store.get(&id))
        .await
        .expect("the request ends");
    assert!(got.is_err());
}

/// A DynamoDB that accepts connections and holds them, never answering, at the URL returned.
async fn never_answering() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    let held = tokio::spawn(async move {
        let mut connections = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            connections.push(stream);
        }
    });
    (url, held)
}

/// Scans (counts, filtered pages) take turns: at most `concurrent` run at once; the next waits
/// `wait`, then fails saying the server is busy with scans; a turn is the scanning future's own,
/// so dropping the request (a client gone, a deadline) frees it at once.
#[tokio::test]
async fn scans_take_turns_and_a_dropped_scan_frees_its_turn() {
    let (url, held) = never_answering().await;
    let limits = ScanLimits {
        concurrent: 4,
        wait: Duration::from_millis(200),
        requests_per_read: 1_000,
    };
    let store =
        Arc::new(DynamoStore::new(local_client(&url), "trainers", None).with_scan_limits(limits));
    let all = ListQuery {
        specialty: None,
        filter: None,
    };
    // Four counts stall on the silent DynamoDB, each holding a turn.
    let stalled: Vec<_> = (0..4)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let all = ListQuery {
                    specialty: None,
                    filter: None,
                };
                store.count(&all).await
            })
        })
        .collect();
    while store.scan_stats().running < 4 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // A fifth waits its turn for 200 ms, then is refused.
    let started = Instant::now();
    let refused = store.count(&all).await;
    let waited = started.elapsed();
    match refused {
        Err(StoreError::Backend { context, .. }) => {
            assert!(context.contains("busy with scans"), "{context}")
        }
        other => panic!("a fifth scan is refused, not {other:?}"),
    }
    assert!(
        waited >= Duration::from_millis(200) && waited < Duration::from_secs(2),
        "{waited:?}"
    );
    // So is a filtered page; an unfiltered page takes no turn (it reaches the silent DynamoDB,
    // and is cut off here).
    let f = Filter::Cond(Field::Age, Op::Gt(Scalar::Int(3)));
    let filtered = ListQuery {
        specialty: None,
        filter: Some(&f),
    };
    assert!(matches!(
        store.list(&filtered, None, 10).await,
        Err(StoreError::Backend { context, .. }) if context.contains("busy with scans")
    ));
    let unfiltered =
        tokio::time::timeout(Duration::from_millis(300), store.list(&all, None, 10)).await;
    assert!(
        unfiltered.is_err(),
        "an unfiltered page waits for DynamoDB, not a turn"
    );
    let stats = store.scan_stats();
    assert_eq!(
        (stats.running, stats.peak, stats.busy),
        (4, 4, 2),
        "{stats:?}"
    );
    // The requests are dropped: their turns are free at once, and the next scan runs (until it
    // is dropped in turn).
    for task in stalled {
        task.abort();
        let _ = task.await;
    }
    assert_eq!(store.scan_stats().running, 0);
    let next = tokio::time::timeout(Duration::from_millis(300), store.count(&all)).await;
    assert!(
        next.is_err(),
        "the next scan got a turn and waits for DynamoDB"
    );
    assert_eq!(store.scan_stats().running, 0, "its turn ended with it");
    assert_eq!(store.scan_stats().busy, 2);
    held.abort();
}
