//! WebSocket messages, as a client sends them, to a real server on loopback (an embedded store
//! in a temporary directory): the input goes as a text message on an AppSync connection and on a
//! graphql-transport-ws one, then as the request of an AppSync `start` (its `payload.data`) and
//! of a graphql-transport-ws `subscribe` (its `payload`, when the input is JSON), each stopped
//! again at once.
//!
//! After each input, each connection must still answer a probe (AppSync: `connection_init` gets
//! `connection_ack`; graphql-transport-ws: `ping` gets `pong`) within 2 s, or have been closed
//! by the server with a close frame (a protocol error may close it; it is opened again). A
//! finding is a panic in any task of the server (libfuzzer-sys aborts on any), a probe that
//! gets no answer, or an input over `-timeout`.

#![no_main]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use base64::Engine as _;
use futures::{SinkExt, StreamExt};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::runtime::Runtime;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use trainers_api::{KeyRing, Running, Server};
use trainers_core::{FixedKey, TrainerService};
use trainers_store_embedded::EmbeddedStore;

const API_KEY: &str = "da2-fuzz-key-of-the-target";
const PROBE: Duration = Duration::from_secs(2);

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

struct App {
    runtime: Runtime,
    addr: SocketAddr,
    appsync: Mutex<Option<Ws>>,
    transport: Mutex<Option<Ws>>,
    _server: Running,
    _data_dir: tempfile::TempDir,
}

fn app() -> &'static App {
    static APP: OnceLock<App> = OnceLock::new();
    APP.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let data_dir = tempfile::Builder::new()
            .prefix("trainers-fuzz-ws-")
            .tempdir()
            .expect("a temporary directory");
        let server = runtime.block_on(async {
            let store = EmbeddedStore::open(data_dir.path()).expect("an embedded store");
            let key = FixedKey::parse(API_KEY).expect("a well-formed key");
            let keys = Arc::new(KeyRing::new(None, &[key]).await.expect("a key ring"));
            Server::new(TrainerService::new(Arc::new(store)), keys)
                .bind(SocketAddr::from(([127, 0, 0, 1], 0)))
                .await
                .expect("a loopback port")
                .spawn()
                .expect("a running server")
        });
        App {
            runtime,
            addr: server.addr(),
            appsync: Mutex::new(None),
            transport: Mutex::new(None),
            _server: server,
            _data_dir: data_dir,
        }
    })
}

async fn connect(addr: SocketAddr, protocol: &'static str) -> Ws {
    let header = base64::engine::general_purpose::STANDARD
        .encode(json!({"host": addr.to_string(), "x-api-key": API_KEY}).to_string());
    let url = match protocol {
        "graphql-ws" => format!("ws://{addr}/graphql/realtime?header={header}&payload=e30="),
        _ => format!("ws://{addr}/graphql"),
    };
    let mut request = url.into_client_request().expect("a WebSocket URL");
    request
        .headers_mut()
        .insert("sec-websocket-protocol", HeaderValue::from_static(protocol));
    let (mut ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("the server takes a WebSocket");
    if protocol == "graphql-transport-ws" {
        let init = json!({"type": "connection_init", "payload": {"x-api-key": API_KEY}});
        send(&mut ws, &init.to_string()).await;
        assert!(answers(&mut ws, "connection_ack").await, "no connection_ack");
    }
    ws
}

async fn send(ws: &mut Ws, text: &str) -> bool {
    ws.send(Message::text(text)).await.is_ok()
}

/// Reads until a message of type `kind` (true) or the server's close (false); panics when
/// nothing of the kind comes within [`PROBE`].
async fn answers(ws: &mut Ws, kind: &str) -> bool {
    let wait = async {
        while let Some(message) = ws.next().await {
            match message {
                Ok(Message::Text(text)) => {
                    let value: Value = serde_json::from_str(text.as_str())
                        .unwrap_or_else(|e| panic!("a message that is not JSON ({e}): {}", text.as_str()));
                    if value["type"] == kind {
                        return true;
                    }
                }
                Ok(Message::Close(_)) | Err(_) => return false,
                Ok(_) => {}
            }
        }
        false
    };
    tokio::time::timeout(PROBE, wait)
        .await
        .unwrap_or_else(|_| panic!("the server did not answer with {kind} within {PROBE:?}"))
}

/// Sends each message on the connection in `slot` (opening it if needed), then probes it.
async fn exchange(slot: &Mutex<Option<Ws>>, addr: SocketAddr, protocol: &'static str, messages: &[String]) {
    let taken = slot.lock().expect("one input at a time").take();
    let mut ws = match taken {
        Some(ws) => ws,
        None => connect(addr, protocol).await,
    };
    let mut open = true;
    for message in messages {
        open = open && send(&mut ws, message).await;
    }
    let (probe, answer) = match protocol {
        "graphql-ws" => (json!({"type": "connection_init"}), "connection_ack"),
        _ => (json!({"type": "ping"}), "pong"),
    };
    open = open && send(&mut ws, &probe.to_string()).await && answers(&mut ws, answer).await;
    if open {
        *slot.lock().expect("one input at a time") = Some(ws);
    }
}

fuzz_target!(|data: &[u8]| {
    let app = app();
    let text = String::from_utf8_lossy(data).into_owned();
    let extensions = json!({"authorization": {"host": app.addr.to_string(), "x-api-key": API_KEY}});
    let appsync = vec![
        text.clone(),
        json!({"id": "f", "type": "start", "payload": {"data": text, "extensions": extensions}})
            .to_string(),
        json!({"id": "f", "type": "stop"}).to_string(),
    ];
    let mut transport = vec![text.clone()];
    if let Ok(payload) = serde_json::from_str::<Value>(&text) {
        transport.push(json!({"id": "f", "type": "subscribe", "payload": payload}).to_string());
        transport.push(json!({"id": "f", "type": "complete"}).to_string());
    }
    app.runtime.block_on(async {
        exchange(&app.appsync, app.addr, "graphql-ws", &appsync).await;
        exchange(&app.transport, app.addr, "graphql-transport-ws", &transport).await;
    });
});
