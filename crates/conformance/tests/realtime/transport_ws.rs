//! The GraphQL over WebSocket protocol (`graphql-transport-ws`).

#![allow(unused_imports)]
use super::*;

pub(crate) async fn transport_ws(addr: SocketAddr, key: &str) -> Client {
    let url = format!("ws://{addr}/graphql");
    let mut client = Client::connect(&url, &["graphql-transport-ws"]).await;
    assert_eq!(client.protocol.as_deref(), Some("graphql-transport-ws"));
    client
        .send(json!({"type": "connection_init", "payload": {"x-api-key": key}}))
        .await;
    client
}

/// Subscribes, then makes sure the server has set the subscription up: it handles one
/// connection's messages in order, so when a query sent after it is answered, it listens.
pub(crate) async fn subscribe(client: &mut Client, id: &str, query: &str, variables: Value) {
    let payload = json!({"query": query, "variables": variables});
    client
        .send(json!({"id": id, "type": "subscribe", "payload": payload}))
        .await;
    let barrier = format!("{id}-barrier");
    client
        .send(json!({"id": barrier, "type": "subscribe", "payload": {"query": "{ __typename }"}}))
        .await;
    let answer = client.expect("next").await;
    assert_eq!(answer["id"], barrier.as_str(), "{answer}");
    assert_eq!(client.expect("complete").await["id"], barrier.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transport_ws_subscriber_gets_events_filtered_and_as_selected() {
    let server = spawn_embedded().await;
    let mut client = transport_ws(server.addr, TEST_API_KEY).await;
    client.expect("connection_ack").await;

    let query = "subscription ($s: Specialty) { onCreateTrainer(specialty: $s) { id firstName specialty lastName } }";
    subscribe(&mut client, "s1", query, json!({"s": "YOUTHFITNESS"})).await;

    create(&server, "Bob", "BODYBUILDING", ALL_FIELDS).await;
    let created = create(&server, "Ada", "YOUTHFITNESS", ALL_FIELDS).await;
    let next = client.expect("next").await;
    assert_eq!(next["id"], "s1");
    assert_eq!(
        next["payload"],
        json!({"data": {"onCreateTrainer": {"id": created["id"], "firstName": "Ada", "specialty": "YOUTHFITNESS", "lastName": "Lovelace"}}})
    );

    // The mutation did not select lastName (non-null): an error, and a null trainer.
    create(&server, "Cy", "YOUTHFITNESS", "id specialty").await;
    let next = client.expect("next").await;
    assert_eq!(next["payload"]["data"], json!({"onCreateTrainer": null}));
    assert_eq!(
        next["payload"]["errors"][0]["path"],
        json!(["onCreateTrainer", "firstName"])
    );

    // The client completes: nothing more.
    client.send(json!({"id": "s1", "type": "complete"})).await;
    client.send(json!({"type": "ping"})).await;
    client.expect("pong").await;
    create(&server, "Di", "YOUTHFITNESS", ALL_FIELDS).await;
    client.expect_silence().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transport_ws_runs_queries_and_reports_validation_errors() {
    let server = spawn_embedded().await;
    let mut client = transport_ws(server.addr, TEST_API_KEY).await;
    client.expect("connection_ack").await;
    let payload = json!({"query": "{ allTrainers { items { id } nextToken } }"});
    client
        .send(json!({"id": "q", "type": "subscribe", "payload": payload}))
        .await;
    let next = client.expect("next").await;
    assert_eq!(
        next["payload"],
        json!({"data": {"allTrainers": {"items": [], "nextToken": null}}})
    );
    client.expect("complete").await;

    let payload = json!({"query": "subscription { onCreateTrainer { nope } }"});
    client
        .send(json!({"id": "bad", "type": "subscribe", "payload": payload}))
        .await;
    let error = client.expect("error").await;
    assert_eq!(error["id"], "bad");
    assert_eq!(error["payload"][0]["errorType"], "ValidationError");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transport_ws_refuses_a_bad_key_with_4403() {
    let server = spawn_embedded().await;
    let mut client = transport_ws(server.addr, "da2-wrong").await;
    assert_eq!(
        client.expect_close().await,
        (Some(4403), "Forbidden".into())
    );

    // No connection_init: a subscribe is unauthorised.
    let url = format!("ws://{}/graphql", server.addr);
    let mut client = Client::connect(&url, &["graphql-transport-ws"]).await;
    let payload = json!({"query": "subscription { onCreateTrainer { id } }"});
    client
        .send(json!({"id": "1", "type": "subscribe", "payload": payload}))
        .await;
    assert_eq!(client.expect_close().await.0, Some(4401));
}
