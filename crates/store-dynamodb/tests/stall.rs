//! A DynamoDB that stalls or is gone: each request is cut off by the client's timeouts and fails
//! with an error, instead of waiting forever. Needs no DynamoDB-compatible server.

use std::time::Duration;

use trainers_core::{TrainerId, TrainerStore};
use trainers_store_dynamodb::{local_client, DynamoStore};

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
