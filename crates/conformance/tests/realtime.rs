//! Real-time (docs/contract.md, real-time) on the local server: AppSync's real-time
//! protocol and `graphql-transport-ws`, over real WebSockets, with mutations over HTTP.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use trainers_api::realtime::Limits;
use trainers_conformance::server::{embedded_store, TEST_API_KEY};
use trainers_conformance::{spawn_embedded, Target, TestServer};

/// How long a test waits for a message it expects.
const PATIENCE: Duration = Duration::from_secs(10);
/// How long a test listens to be sure that nothing comes.
const QUIET: Duration = Duration::from_millis(500);

const ALL_FIELDS: &str = "id firstName lastName age specialty createdAt updatedAt version";

// ---------------------------------------------------------------------------------------------
// A WebSocket client, enough for both protocols.

struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// The subprotocol the server chose.
    protocol: Option<String>,
}

/// What came instead of the message a test waited for.
#[derive(Debug)]
enum Ended {
    Closed(Option<u16>, String),
    Silent,
}

impl Client {
    async fn connect(url: &str, protocols: &[&str]) -> Client {
        let mut request = url.into_client_request().expect("a WebSocket URL");
        if !protocols.is_empty() {
            let value = HeaderValue::from_str(&protocols.join(", ")).expect("a header value");
            request
                .headers_mut()
                .insert("sec-websocket-protocol", value);
        }
        let (ws, response) = tokio_tungstenite::connect_async(request)
            .await
            .expect("the WebSocket handshake succeeds");
        let protocol = response
            .headers()
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        Client { ws, protocol }
    }

    /// Over a socket with a tiny receive buffer, so that a client that stops reading blocks the
    /// server's writes soon.
    async fn connect_small_buffer(url: &str, addr: SocketAddr) -> Client {
        let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
        socket
            .set_recv_buffer_size(4096)
            .expect("a receive buffer size");
        let stream = socket.connect(addr).await.expect("a TCP connection");
        let mut request = url.into_client_request().expect("a WebSocket URL");
        request.headers_mut().insert(
            "sec-websocket-protocol",
            HeaderValue::from_static("graphql-ws"),
        );
        let (ws, _) = tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(stream))
            .await
            .expect("the WebSocket handshake succeeds");
        Client { ws, protocol: None }
    }

    async fn send(&mut self, message: Value) {
        self.ws
            .send(Message::text(message.to_string()))
            .await
            .expect("the message is sent");
    }

    /// The next JSON message other than AppSync's `ka`, or how the connection ended.
    async fn next_within(&mut self, wait: Duration) -> Result<Value, Ended> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let next = tokio::time::timeout_at(deadline, self.ws.next()).await;
            let message = match next {
                Err(_) => return Err(Ended::Silent),
                Ok(None) | Ok(Some(Err(_))) => return Err(Ended::Closed(None, String::new())),
                Ok(Some(Ok(message))) => message,
            };
            match message {
                Message::Text(text) => {
                    let value: Value = serde_json::from_str(&text).expect("a JSON message");
                    if value["type"] != "ka" {
                        return Ok(value);
                    }
                }
                Message::Close(frame) => {
                    let (code, reason) = frame
                        .map(|f| (Some(u16::from(f.code)), f.reason.to_string()))
                        .unwrap_or_default();
                    return Err(Ended::Closed(code, reason));
                }
                _ => {}
            }
        }
    }

    async fn next(&mut self) -> Value {
        match self.next_within(PATIENCE).await {
            Ok(value) => value,
            Err(ended) => panic!("expected a message, got {ended:?}"),
        }
    }

    /// The next message, which must be of this type.
    async fn expect(&mut self, kind: &str) -> Value {
        let message = self.next().await;
        assert_eq!(message["type"], kind, "expected {kind}, got {message}");
        message
    }

    /// Asserts that no message (other than `ka`) comes for a while.
    async fn expect_silence(&mut self) {
        match self.next_within(QUIET).await {
            Err(Ended::Silent) => {}
            other => panic!("expected no message, got {other:?}"),
        }
    }

    /// Waits for the server to close the connection; its close code.
    async fn expect_close(&mut self) -> (Option<u16>, String) {
        match self.next_within(PATIENCE).await {
            Err(Ended::Closed(code, reason)) => (code, reason),
            other => panic!("expected the connection to close, got {other:?}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// AppSync's protocol.

fn host(addr: SocketAddr) -> String {
    addr.to_string()
}

fn appsync_header(addr: SocketAddr, key: &str) -> Value {
    json!({"host": host(addr), "x-api-key": key})
}

/// `/graphql/realtime?header=...&payload=e30=`, as gql and AppSync's docs build it.
fn realtime_url(addr: SocketAddr, key: Option<&str>) -> String {
    match key {
        Some(key) => {
            let header = STANDARD.encode(appsync_header(addr, key).to_string());
            format!("ws://{addr}/graphql/realtime?header={header}&payload=e30=")
        }
        None => format!("ws://{addr}/graphql/realtime"),
    }
}

/// An AppSync connection, initialised.
async fn appsync(server: &TestServer) -> Client {
    appsync_at(server.addr, Some(TEST_API_KEY)).await
}

async fn appsync_at(addr: SocketAddr, key: Option<&str>) -> Client {
    let mut client = Client::connect(&realtime_url(addr, key), &["graphql-ws"]).await;
    client.send(json!({"type": "connection_init"})).await;
    let ack = client.expect("connection_ack").await;
    assert_eq!(ack["payload"]["connectionTimeoutMs"], 300_000);
    client
}

fn start_message(id: &str, query: &str, variables: Value, key: Option<&str>) -> Value {
    let data = json!({"query": query, "variables": variables}).to_string();
    let mut payload = json!({"data": data});
    if let Some(key) = key {
        payload["extensions"] = json!({"authorization": {"x-api-key": key, "host": "localhost"}});
    }
    json!({"id": id, "type": "start", "payload": payload})
}

/// Starts a subscription and waits for its `start_ack`.
async fn start(client: &mut Client, id: &str, query: &str, variables: Value) {
    client
        .send(start_message(id, query, variables, Some(TEST_API_KEY)))
        .await;
    let ack = client.expect("start_ack").await;
    assert_eq!(ack["id"], id);
}

/// The next `data` message for `id`: its `payload`.
async fn data(client: &mut Client, id: &str) -> Value {
    let message = client.expect("data").await;
    assert_eq!(message["id"], id, "in {message}");
    message["payload"].clone()
}

async fn create(server: &impl Target, first_name: &str, specialty: &str, selection: &str) -> Value {
    let query = format!(
        r#"mutation {{ createTrainer(firstName: "{first_name}", lastName: "Lovelace", age: 36, specialty: {specialty}) {{ {selection} }} }}"#
    );
    server.graphql(&query, json!({})).await.ok()["createTrainer"].clone()
}

async fn update_age(server: &impl Target, id: &str, age: i32) -> Value {
    let query =
        format!(r#"mutation {{ updateTrainers(id: "{id}", age: {age}) {{ {ALL_FIELDS} }} }}"#);
    server.graphql(&query, json!({})).await.ok()["updateTrainers"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appsync_subscriber_gets_the_created_trainer_as_the_mutation_selected_it() {
    let server = spawn_embedded().await;
    let mut client = Client::connect(
        &realtime_url(server.addr, Some(TEST_API_KEY)),
        &["graphql-ws"],
    )
    .await;
    assert_eq!(client.protocol.as_deref(), Some("graphql-ws"));
    client.send(json!({"type": "connection_init"})).await;
    client.expect("connection_ack").await;
    // A keep-alive follows the acknowledgement at once.
    let ka = tokio::time::timeout(PATIENCE, client.ws.next()).await;
    assert!(
        matches!(&ka, Ok(Some(Ok(Message::Text(t)))) if t.as_str() == r#"{"type":"ka"}"#),
        "expected ka, got {ka:?}"
    );

    let query = format!("subscription {{ onCreateTrainer {{ {ALL_FIELDS} }} }}");
    start(&mut client, "1", &query, json!({})).await;
    let created = create(&server, "Ada", "YOUTHFITNESS", ALL_FIELDS).await;
    let payload = data(&mut client, "1").await;
    assert_eq!(payload, json!({"data": {"onCreateTrainer": created}}));

    // stop → complete, and nothing after.
    client.send(json!({"type": "stop", "id": "1"})).await;
    assert_eq!(client.expect("complete").await["id"], "1");
    create(&server, "Grace", "YOUTHFITNESS", ALL_FIELDS).await;
    client.expect_silence().await;
}

/// Subscribers of the same subscription share one execution of it: each still gets every event,
/// one leaving stops nothing for the others, one joining later gets what follows, and one with
/// other variables gets its own results.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_subscriptions_share_an_execution_and_each_gets_every_event() {
    let server = spawn_embedded().await;
    let query =
        "subscription($s: Specialty) { onCreateTrainer(specialty: $s) { firstName specialty } }";
    let youth = json!({"s": "YOUTHFITNESS"});
    let (mut a, mut b) = (appsync(&server).await, appsync(&server).await);
    start(&mut a, "a", query, youth.clone()).await;
    start(&mut b, "b", query, youth.clone()).await;
    let mut other = appsync(&server).await;
    start(&mut other, "o", query, json!({"s": "BODYBUILDING"})).await;

    create(&server, "Ada", "YOUTHFITNESS", "firstName specialty").await;
    let ada =
        json!({"data": {"onCreateTrainer": {"firstName": "Ada", "specialty": "YOUTHFITNESS"}}});
    assert_eq!(data(&mut a, "a").await, ada);
    assert_eq!(data(&mut b, "b").await, ada);
    other.expect_silence().await;

    a.send(json!({"type": "stop", "id": "a"})).await;
    a.expect("complete").await;
    let mut late = appsync(&server).await;
    start(&mut late, "l", query, youth).await;
    create(&server, "Grace", "YOUTHFITNESS", "firstName specialty").await;
    create(&server, "Bo", "BODYBUILDING", "firstName specialty").await;
    let grace =
        json!({"data": {"onCreateTrainer": {"firstName": "Grace", "specialty": "YOUTHFITNESS"}}});
    assert_eq!(data(&mut b, "b").await, grace);
    assert_eq!(data(&mut late, "l").await, grace);
    assert_eq!(
        data(&mut other, "o").await["data"]["onCreateTrainer"]["firstName"],
        "Bo"
    );
    a.expect_silence().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appsync_header_as_subprotocol_at_slash_graphql() {
    let server = spawn_embedded().await;
    let header = URL_SAFE_NO_PAD.encode(appsync_header(server.addr, TEST_API_KEY).to_string());
    let header_protocol = format!("header-{header}");
    let url = format!("ws://{}/graphql", server.addr);
    let mut client = Client::connect(&url, &["graphql-ws", &header_protocol]).await;
    assert_eq!(client.protocol.as_deref(), Some("graphql-ws"));
    client.send(json!({"type": "connection_init"})).await;
    client.expect("connection_ack").await;
    // The key came with the handshake: a start without authorization is fine.
    let query = "subscription { onCreateTrainer { id firstName } }";
    client
        .send(start_message("a", query, json!({}), None))
        .await;
    client.expect("start_ack").await;
    let created = create(&server, "Ada", "BODYBUILDING", "id firstName").await;
    let payload = data(&mut client, "a").await;
    assert_eq!(payload["data"]["onCreateTrainer"], created);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appsync_key_in_start_extensions_only() {
    let server = spawn_embedded().await;
    // No header at all, and no connection_init: both are optional.
    let mut client = Client::connect(&realtime_url(server.addr, None), &["graphql-ws"]).await;
    let query = "subscription { onCreateTrainer { id } }";
    client
        .send(start_message("no-key", query, json!({}), None))
        .await;
    let refused = client.expect("error").await;
    assert_eq!(refused["id"], "no-key");
    assert_eq!(
        refused["payload"]["errors"][0]["errorType"],
        "UnauthorizedException"
    );
    client
        .send(start_message(
            "bad-key",
            query,
            json!({}),
            Some("da2-wrong"),
        ))
        .await;
    let refused = client.expect("error").await;
    assert_eq!(refused["id"], "bad-key");
    assert_eq!(
        refused["payload"]["errors"][0]["errorType"],
        "UnauthorizedException"
    );
    assert_eq!(refused["payload"]["errors"][0]["errorCode"], 401);

    start(&mut client, "good", query, json!({})).await;
    let created = create(&server, "Ada", "BODYBUILDING", "id").await;
    assert_eq!(
        data(&mut client, "good").await["data"]["onCreateTrainer"],
        created
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appsync_bad_key_in_handshake_gets_connection_error() {
    let server = spawn_embedded().await;
    for key in ["da2-wrong", ""] {
        let url = realtime_url(server.addr, Some(key));
        let mut client = Client::connect(&url, &["graphql-ws"]).await;
        client.send(json!({"type": "connection_init"})).await;
        let refused = client.expect("connection_error").await;
        assert_eq!(
            refused["payload"]["errors"][0],
            json!({
                "errorType": "UnauthorizedException",
                "message": "You are not authorized to make this call.",
                "errorCode": 401
            }),
            "as AppSync writes it: clients give up at once on errorCode 401"
        );
        client.expect_close().await;
    }
    // A header that is not base64 JSON is refused too.
    let url = format!(
        "ws://{}/graphql/realtime?header=not-json&payload=e30=",
        server.addr
    );
    let mut client = Client::connect(&url, &["graphql-ws"]).await;
    client.send(json!({"type": "connection_init"})).await;
    let refused = client.expect("connection_error").await;
    assert_eq!(
        refused["payload"]["errors"][0]["errorType"],
        "UnauthorizedException"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appsync_arguments_filter_on_the_payload() {
    let server = spawn_embedded().await;
    let mut client = appsync(&server).await;
    let a = create(&server, "Ada", "YOUTHFITNESS", "id").await;
    let b = create(&server, "Bob", "BODYBUILDING", "id").await;
    let (a, b) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());

    let by_id = "subscription ($id: ID) { onUpdateTrainer(id: $id) { id age } }";
    start(&mut client, "by-id", by_id, json!({"id": a})).await;
    let by_specialty =
        "subscription { onCreateTrainer(specialty: SENIORFITNESS) { id specialty } }";
    start(&mut client, "by-specialty", by_specialty, json!({})).await;

    update_age(&server, b, 50).await;
    update_age(&server, a, 51).await;
    let payload = data(&mut client, "by-id").await;
    assert_eq!(
        payload["data"]["onUpdateTrainer"],
        json!({"id": a, "age": 51})
    );

    create(&server, "Cy", "BODYBUILDING", ALL_FIELDS).await;
    let senior = create(&server, "Di", "SENIORFITNESS", ALL_FIELDS).await;
    let payload = data(&mut client, "by-specialty").await;
    assert_eq!(
        payload["data"]["onCreateTrainer"],
        json!({"id": senior["id"], "specialty": "SENIORFITNESS"})
    );

    // The filter reads the payload as the mutation selected it: a mutation that did not select
    // `specialty` matches no subscriber filtering on it.
    create(&server, "Ed", "SENIORFITNESS", "id").await;
    client.expect_silence().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appsync_unselected_fields_are_null_and_non_null_ones_an_error() {
    let server = spawn_embedded().await;
    let mut client = appsync(&server).await;
    let nullable = "subscription { onCreateTrainer { id firstName specialty } }";
    start(&mut client, "nullable", nullable, json!({})).await;
    let non_null = "subscription { onCreateTrainer { id lastName } }";
    start(&mut client, "non-null", non_null, json!({})).await;

    // The mutation selects neither specialty nor lastName.
    let created = create(&server, "Ada", "YOUTHFITNESS", "id firstName").await;
    let mut messages = [client.next().await, client.next().await];
    messages.sort_by_key(|m| m["id"].as_str().map(str::to_string));
    let [non_null_message, nullable_message] = &messages;
    assert_eq!(nullable_message["type"], "data");
    assert_eq!(
        nullable_message["payload"],
        json!({"data": {"onCreateTrainer": {"id": created["id"], "firstName": "Ada", "specialty": null}}})
    );
    assert_eq!(non_null_message["type"], "data", "{non_null_message}");
    let payload = &non_null_message["payload"];
    assert_eq!(payload["data"], json!({"onCreateTrainer": null}));
    let error = &payload["errors"][0];
    assert!(
        error["message"]
            .as_str()
            .unwrap_or_default()
            .contains("lastName"),
        "{error}"
    );
    assert_eq!(error["path"], json!(["onCreateTrainer", "lastName"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appsync_failed_mutation_fires_nothing() {
    let server = spawn_embedded().await;
    let mut client = appsync(&server).await;
    let created = create(&server, "Ada", "YOUTHFITNESS", "id").await;
    let id = created["id"].as_str().unwrap();
    for kind in ["onCreateTrainer", "onUpdateTrainer", "onDeleteTrainer"] {
        let query = format!("subscription {{ {kind} {{ id version }} }}");
        start(&mut client, kind, &query, json!({})).await;
    }

    let failures = [
        // Invalid arguments.
        r#"mutation { createTrainer(firstName: "", lastName: "X", age: 30) { id } }"#.to_string(),
        r#"mutation { createTrainer(firstName: "A", lastName: "X", age: 12) { id } }"#.to_string(),
        // Version conflicts.
        format!(r#"mutation {{ updateTrainers(id: "{id}", age: 40, expectedVersion: 7) {{ id }} }}"#),
        format!(r#"mutation {{ deleteTrainer(id: "{id}", expectedVersion: 7) {{ id }} }}"#),
        // No such trainer.
        r#"mutation { updateTrainers(id: "00000000-0000-7000-8000-000000000000", age: 40) { id } }"#.to_string(),
        r#"mutation { deleteTrainer(id: "00000000-0000-7000-8000-000000000000") { id } }"#.to_string(),
    ];
    for failure in &failures {
        let response = server.graphql(failure, json!({})).await;
        assert!(!response.errors().is_empty(), "{failure} should fail");
    }
    client.expect_silence().await;

    // The next successful mutation is the first event.
    update_age(&server, id, 41).await;
    let message = client.expect("data").await;
    assert_eq!(message["id"], "onUpdateTrainer");
    assert_eq!(
        message["payload"]["data"]["onUpdateTrainer"],
        json!({"id": id, "version": 2})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appsync_refuses_what_is_not_a_subscription() {
    let server = spawn_embedded().await;
    let mut client = appsync(&server).await;
    let mutation = r#"mutation { createTrainer(firstName: "A", lastName: "B", age: 30) { id } }"#;
    client
        .send(start_message("m", mutation, json!({}), Some(TEST_API_KEY)))
        .await;
    let refused = client.expect("error").await;
    assert_eq!(refused["id"], "m");
    assert_eq!(
        refused["payload"]["errors"][0]["errorType"],
        "ValidationError"
    );
    let page = server
        .graphql("{ allTrainers { items { id } } }", json!({}))
        .await;
    assert_eq!(
        page.ok()["allTrainers"]["items"],
        json!([]),
        "nothing was created"
    );

    // A subscription that does not validate gets an error, not start_ack.
    let invalid = "subscription { onCreateTrainer { nope } }";
    client
        .send(start_message("v", invalid, json!({}), Some(TEST_API_KEY)))
        .await;
    let refused = client.expect("error").await;
    assert_eq!(refused["id"], "v");
    assert_eq!(
        refused["payload"]["errors"][0]["errorType"],
        "ValidationError"
    );

    // data that is not a JSON string of {query, variables}.
    let bad = json!({"id": "d", "type": "start", "payload": {"data": 42}});
    client.send(bad).await;
    let refused = client.expect("error").await;
    assert_eq!(
        refused["payload"]["errors"][0]["errorType"],
        "MalformedHttpRequestException"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appsync_caps_subscriptions_per_connection() {
    let server = spawn_embedded().await;
    let mut client = appsync(&server).await;
    let query = "subscription { onCreateTrainer { id } }";
    for n in 0..100 {
        start(&mut client, &n.to_string(), query, json!({})).await;
    }
    client
        .send(start_message("101st", query, json!({}), Some(TEST_API_KEY)))
        .await;
    let refused = client.expect("error").await;
    assert_eq!(
        refused["payload"]["errors"][0],
        json!({"errorType": "MaxSubscriptionsReachedError", "message": "Max number of 100 subscriptions reached"})
    );
    // Stopping one makes room.
    client.send(json!({"type": "stop", "id": "7"})).await;
    client.expect("complete").await;
    start(&mut client, "101st", query, json!({})).await;
}

// ---------------------------------------------------------------------------------------------
// graphql-transport-ws.

async fn transport_ws(addr: SocketAddr, key: &str) -> Client {
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
async fn subscribe(client: &mut Client, id: &str, query: &str, variables: Value) {
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

// ---------------------------------------------------------------------------------------------
// Bounded resources.

/// A server on a fresh embedded store with the given limits on WebSocket clients.
async fn limited_server(limits: Limits) -> TestServer {
    limited_server_with_send_buffer(limits, None).await
}

/// With a fixed send buffer on each accepted socket (which turns off the kernel's growing it),
/// so that a client that stops reading blocks the server's writes soon.
async fn limited_server_with_send_buffer(limits: Limits, send_buffer: Option<usize>) -> TestServer {
    let (store, dir) = embedded_store();
    TestServer::start_with(store, Some(Box::new(dir)), |server| {
        server.realtime_limits(limits).on_accept(move |tcp| {
            if let Some(size) = send_buffer {
                socket2::SockRef::from(tcp)
                    .set_send_buffer_size(size)
                    .expect("a send buffer size");
            }
        })
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_cap_are_refused_clearly() {
    let server = limited_server(Limits {
        max_connections: 2,
        ..Limits::default()
    })
    .await;
    let _first = appsync_at(server.addr, Some(TEST_API_KEY)).await;
    let mut second = transport_ws(server.addr, TEST_API_KEY).await;
    second.expect("connection_ack").await;

    let url = realtime_url(server.addr, Some(TEST_API_KEY));
    let mut third = Client::connect(&url, &["graphql-ws"]).await;
    third.send(json!({"type": "connection_init"})).await;
    let refused = third.expect("connection_error").await;
    let error = &refused["payload"]["errors"][0];
    assert_eq!(error["errorType"], "LimitExceededError");
    assert!(error["message"]
        .as_str()
        .unwrap_or_default()
        .contains("limit of 2"));
    assert_eq!(third.expect_close().await.0, Some(1013));

    let mut fourth = transport_ws(server.addr, TEST_API_KEY).await;
    let (code, reason) = fourth.expect_close().await;
    assert_eq!(code, Some(1013));
    assert!(reason.contains("limit of 2"), "{reason}");

    // A connection that ends makes room.
    drop(second);
    let deadline = Instant::now() + PATIENCE;
    loop {
        let mut client = Client::connect(&url, &["graphql-ws"]).await;
        client.send(json!({"type": "connection_init"})).await;
        if client.next().await["type"] == "connection_ack" {
            break;
        }
        assert!(Instant::now() < deadline, "a place never freed up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A subscriber that stops reading: mutations stay fast, another subscriber gets every event,
/// and the slow one is told it fell behind and is disconnected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_stops_reading_slows_no_one_and_is_dropped() {
    let limits = Limits {
        outgoing_queue: 16,
        queue_wait: Duration::from_millis(200),
        farewell_timeout: Duration::from_secs(60),
        ..Limits::default()
    };
    let server = limited_server_with_send_buffer(limits, Some(4096)).await;
    let query = format!("subscription {{ onCreateTrainer {{ {ALL_FIELDS} }} }}");

    let url = realtime_url(server.addr, Some(TEST_API_KEY));
    let mut slow = Client::connect_small_buffer(&url, server.addr).await;
    slow.send(json!({"type": "connection_init"})).await;
    slow.expect("connection_ack").await;
    for n in 0..10 {
        start(&mut slow, &format!("slow-{n}"), &query, json!({})).await;
    }
    let mut healthy = appsync_at(server.addr, Some(TEST_API_KEY)).await;
    start(&mut healthy, "healthy", &query, json!({})).await;

    // The slow client reads nothing from here on.
    let mutations = 200;
    let reader = tokio::spawn(async move {
        let mut names = Vec::new();
        while names.len() < mutations {
            let payload = data(&mut healthy, "healthy").await;
            names.push(payload["data"]["onCreateTrainer"]["firstName"].clone());
        }
        names
    });
    let mut slowest = Duration::ZERO;
    for n in 0..mutations {
        let started = Instant::now();
        create(&server, &format!("T{n}"), "YOUTHFITNESS", ALL_FIELDS).await;
        slowest = slowest.max(started.elapsed());
    }
    assert!(
        slowest < Duration::from_secs(2),
        "a mutation took {slowest:?}"
    );
    let names = tokio::time::timeout(PATIENCE, reader)
        .await
        .expect("the healthy subscriber gets every event in time")
        .expect("the reader ends well");
    let expected: Vec<Value> = (0..mutations).map(|n| json!(format!("T{n}"))).collect();
    assert_eq!(names, expected, "every event, in order");

    // The slow client reads again: what was sent, then the notice, then the close.
    let mut told = false;
    loop {
        match slow.next_within(PATIENCE).await {
            Ok(message) if message["type"] == "data" => continue,
            Ok(message) => {
                assert_eq!(message["type"], "error", "{message}");
                assert!(message.get("id").is_none(), "{message}");
                assert_eq!(
                    message["payload"]["errors"][0]["errorType"],
                    "SubscriberTooSlow"
                );
                told = true;
            }
            Err(Ended::Closed(code, _)) => {
                assert_eq!(code, Some(1008));
                break;
            }
            Err(Ended::Silent) => panic!("the slow subscriber was never disconnected"),
        }
    }
    assert!(told, "the slow subscriber was told why");
}
