//! Subscriptions over WebSockets, in the two protocols that clients speak
//! (`shared/api-contract.md` section 5):
//!
//! - [`appsync`]: AppSync's real-time protocol, at `/graphql/realtime`, and at `/graphql` for a
//!   client that asks for the subprotocol `graphql-ws`;
//! - [`transport_ws`]: GraphQL over WebSocket (subprotocol `graphql-transport-ws`) at `/graphql`.
//!
//! Both run on one connection model ([`connection`]): a bounded queue of outgoing messages per
//! connection, so that a client that stops reading is told and disconnected instead of slowing
//! anyone else, and caps on connections per server and subscriptions per connection.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::appsync::{request_error, MALFORMED};
use crate::graphql::TrainersSchema;
use crate::keys::KeyRing;
use fanout::Fanout;

mod appsync;
mod connection;
mod fanout;
mod transport_ws;

/// The subprotocol of AppSync's real-time protocol (the name Apollo's old protocol had).
pub const APPSYNC_PROTOCOL: &str = "graphql-ws";
/// The subprotocol of the GraphQL over WebSocket protocol, as npm's `graphql-ws` speaks it.
pub const TRANSPORT_WS_PROTOCOL: &str = "graphql-transport-ws";

/// What one server allows its WebSocket clients.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Open WebSocket connections, both protocols together.
    pub max_connections: usize,
    /// Running operations on one connection (AppSync's own limit is 100).
    pub max_subscriptions_per_connection: usize,
    /// Messages queued for one connection.
    pub outgoing_queue: usize,
    /// How long a message may wait for room in a full queue; a client whose queue stays full
    /// that long has fallen behind, and is told so and disconnected.
    pub queue_wait: Duration,
    /// How often AppSync clients get a `ka` message.
    pub keep_alive: Duration,
    /// What AppSync clients are told in `connection_ack`: the longest wait for a `ka`.
    pub connection_timeout: Duration,
    /// How long a `graphql-transport-ws` client may take to send `connection_init`.
    pub init_timeout: Duration,
    /// How long the server keeps trying to send a connection's last messages (the notice to a
    /// client that fell behind, a close frame) before it drops the connection.
    pub farewell_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 10_000,
            max_subscriptions_per_connection: 100,
            outgoing_queue: 256,
            queue_wait: Duration::from_secs(5),
            keep_alive: Duration::from_secs(60),
            connection_timeout: Duration::from_secs(300),
            init_timeout: Duration::from_secs(10),
            farewell_timeout: Duration::from_secs(10),
        }
    }
}

/// What the WebSocket endpoints share: the schema, the keys, the limits and the count of
/// connections.
#[derive(Clone)]
pub struct Realtime {
    schema: TrainersSchema,
    keys: Arc<KeyRing>,
    limits: Arc<Limits>,
    connections: Arc<Semaphore>,
    fanout: Fanout,
}

impl Realtime {
    pub fn new(schema: TrainersSchema, keys: Arc<KeyRing>, limits: Limits) -> Self {
        Realtime {
            connections: Arc::new(Semaphore::new(limits.max_connections)),
            schema,
            keys,
            limits: Arc::new(limits),
            fanout: Fanout::default(),
        }
    }

    fn accepts(&self, key: &str) -> bool {
        self.keys.accepts(key)
    }

    /// Room for one more connection, held while it lasts; `None` at the cap.
    fn admit(&self) -> Option<OwnedSemaphorePermit> {
        self.connections.clone().try_acquire_owned().ok()
    }
}

/// The WebSocket routes, to merge into the API's router.
pub fn routes<S>(realtime: Realtime) -> Router<S> {
    Router::new()
        .route("/graphql", get(on_graphql))
        .route("/graphql/realtime", get(on_realtime))
        .with_state(realtime)
}

/// The query parameters of AppSync's handshake: `header`, base64 JSON (`payload`, always `{}`, is not read).
#[derive(Debug, Default, Deserialize)]
struct HandshakeParams {
    header: Option<String>,
}

async fn on_realtime(
    State(realtime): State<Realtime>,
    Query(params): Query<HandshakeParams>,
    ws: WebSocketUpgrade,
) -> Response {
    appsync::upgrade(realtime, ws, params.header)
}

/// `/graphql` serves both protocols: `graphql-transport-ws` when the client asks for it (and is
/// not an AppSync client passing its header as a subprotocol), else AppSync's `graphql-ws`.
async fn on_graphql(
    State(realtime): State<Realtime>,
    Query(params): Query<HandshakeParams>,
    ws: WebSocketUpgrade,
) -> Response {
    let asks = |protocol: &str| {
        ws.requested_protocols()
            .any(|p| p.as_bytes() == protocol.as_bytes())
    };
    if asks(TRANSPORT_WS_PROTOCOL) && appsync::header_protocol(&ws).is_none() {
        transport_ws::upgrade(realtime, ws)
    } else if asks(APPSYNC_PROTOCOL) {
        appsync::upgrade(realtime, ws, params.header)
    } else {
        request_error(
            StatusCode::BAD_REQUEST,
            MALFORMED,
            "A WebSocket at /graphql must ask for the subprotocol graphql-transport-ws or graphql-ws",
        )
        .into_response()
    }
}
