//! An AppSync real-time client (`/graphql/realtime`, the `graphql-ws` subprotocol) with the key
//! in both places AppSync puts it: the handshake's `header` and each `start`'s `authorization`.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub struct Subscriber {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// `host:port` of a server whose GraphQL URL is `url`.
pub fn addr_of(url: &str) -> String {
    url.trim_start_matches("http://")
        .trim_end_matches("/graphql")
        .to_string()
}

impl Subscriber {
    /// Connects, initialises, and starts `query` as subscription `id`; waits for its ack.
    pub async fn start(addr: &str, key: &str, query: &str) -> Subscriber {
        Subscriber::start_with(addr, ("x-api-key", key), query).await
    }

    /// As [`Subscriber::start`], with other credentials (`("Authorization", token)`, say).
    pub async fn start_with(addr: &str, credentials: (&str, &str), query: &str) -> Subscriber {
        let (name, value) = credentials;
        let mut authorization = json!({ "host": addr });
        authorization[name] = json!(value);
        let header = base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            authorization.to_string(),
        );
        let mut request = format!("ws://{addr}/graphql/realtime?header={header}&payload=e30=")
            .into_client_request()
            .expect("a WebSocket URL");
        request.headers_mut().insert(
            "sec-websocket-protocol",
            HeaderValue::from_static("graphql-ws"),
        );
        let (ws, _) = tokio_tungstenite::connect_async(request)
            .await
            .expect("the WebSocket handshake succeeds");
        let mut subscriber = Subscriber { ws };
        subscriber.send(json!({"type": "connection_init"})).await;
        subscriber.expect("connection_ack").await;
        let data = json!({"query": query, "variables": {}}).to_string();
        let start = json!({
            "id": "s1",
            "type": "start",
            "payload": {
                "data": data,
                "extensions": {"authorization": authorization},
            },
        });
        subscriber.send(start).await;
        subscriber.expect("start_ack").await;
        subscriber
    }

    async fn send(&mut self, message: Value) {
        self.ws
            .send(Message::text(message.to_string()))
            .await
            .expect("the message is sent");
    }

    /// The next message other than `ka` within `wait`, if any.
    pub async fn next_within(&mut self, wait: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Ok(Some(Ok(Message::Text(text)))) => {
                    let value: Value = serde_json::from_str(&text).expect("a JSON message");
                    if value["type"] != "ka" {
                        return Some(value);
                    }
                }
                Ok(Some(Ok(_))) => {}
                _ => return None,
            }
        }
    }

    pub async fn expect(&mut self, kind: &str) -> Value {
        let message = self.next_within(Duration::from_secs(10)).await;
        let message = message.unwrap_or_else(|| panic!("expected {kind}, got nothing"));
        assert_eq!(message["type"], kind, "expected {kind}, got {message}");
        message
    }

    /// The payload of the next `data` message.
    pub async fn data(&mut self) -> Value {
        self.expect("data").await["payload"]["data"].clone()
    }

    pub async fn stop(mut self) {
        self.send(json!({"id": "s1", "type": "stop"})).await;
        let _ = self.ws.close(None).await;
    }
}
