//! Real-time (docs/contract.md, real-time) on the local server: AppSync's real-time
//! protocol (`appsync.rs`) and `graphql-transport-ws` (`transport_ws.rs`), over real WebSockets,
//! with mutations over HTTP; bounded resources (`limits.rs`); a fleet of servers sharing events
//! through Redis (`fleet.rs`). This file holds what they share: a WebSocket client and helpers.

mod appsync;
mod fleet;
mod limits;
mod transport_ws;

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
