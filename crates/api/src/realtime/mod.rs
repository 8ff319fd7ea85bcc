//! Subscriptions over WebSockets, in the two protocols that clients speak
//! (docs/contract.md, real-time):
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

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::auth::Authenticator;
use crate::graphql::error::{request_error, ErrorType};
use crate::graphql::Engine;
use crate::metrics;
use connection::{Outbox, Outgoing, Protocol};
use fanout::Fanout;

mod appsync;
mod connection;
mod fanout;
mod transport_ws;

/// The WebSocket subprotocols the server speaks, by the names clients ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subprotocol {
    /// AppSync's real-time protocol, `graphql-ws` (the name Apollo's old protocol had).
    AppSync,
    /// GraphQL over WebSocket, `graphql-transport-ws`, as npm's `graphql-ws` speaks it.
    TransportWs,
}

impl Subprotocol {
    pub const fn as_str(self) -> &'static str {
        match self {
            Subprotocol::AppSync => "graphql-ws",
            Subprotocol::TransportWs => "graphql-transport-ws",
        }
    }
}

impl std::str::FromStr for Subprotocol {
    type Err = UnknownSubprotocol;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        [Subprotocol::AppSync, Subprotocol::TransportWs]
            .into_iter()
            .find(|p| p.as_str() == name)
            .ok_or(UnknownSubprotocol)
    }
}

/// A subprotocol name the server does not speak.
#[derive(Debug, thiserror::Error)]
#[error("not a subprotocol of this server")]
pub struct UnknownSubprotocol;

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
    /// How long an AppSync connection whose handshake carried no key may wait for a `start`
    /// with a valid one before it is closed.
    pub key_timeout: Duration,
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
            key_timeout: Duration::from_secs(5),
            farewell_timeout: Duration::from_secs(10),
        }
    }
}

/// What the WebSocket endpoints share: the GraphQL engine, who may call, the limits, the count of
/// connections, and the connections themselves, to close when the server shuts down.
#[derive(Clone)]
pub struct Realtime(Arc<Shared>);

pub struct Shared {
    engine: Engine,
    auth: Authenticator,
    limits: Arc<Limits>,
    connections: Arc<Semaphore>,
    fanout: Fanout,
    shutdown: CancellationToken,
    tasks: TaskTracker,
}

/// Cloned for every request that reaches the router: one reference count, not seven.
impl std::ops::Deref for Realtime {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl Realtime {
    pub fn new(engine: Engine, auth: Authenticator, limits: Limits) -> Self {
        Realtime(Arc::new(Shared {
            connections: Arc::new(Semaphore::new(limits.max_connections)),
            engine,
            auth,
            limits: Arc::new(limits),
            fanout: Fanout::default(),
            shutdown: CancellationToken::new(),
            tasks: TaskTracker::new(),
        }))
    }

    /// Closes every WebSocket (code 1001) and waits until their tasks have ended.
    pub async fn shut_down(&self) {
        self.shutdown.cancel();
        self.tasks.close();
        self.tasks.wait().await;
    }

    /// Subscription executions running now (identical subscriptions share one).
    pub fn subscription_executions(&self) -> usize {
        self.fanout.executions()
    }

    /// Open WebSocket connections.
    pub fn open_connections(&self) -> usize {
        self.limits.max_connections - self.connections.available_permits()
    }

    /// Upgrades to `subprotocol` and runs the connection with the protocol that `open` makes,
    /// told whether the connection fits under the cap (it counts until it closes).
    fn upgrade<P: Protocol + 'static>(
        self,
        ws: WebSocketUpgrade,
        subprotocol: Subprotocol,
        open: impl FnOnce(Realtime, Outbox, bool) -> P + Send + 'static,
    ) -> Response {
        let permit = self.connections.clone().try_acquire_owned().ok();
        let tasks = self.tasks.clone();
        connection::configure(ws)
            .protocols([subprotocol.as_str()])
            .on_upgrade(move |socket| {
                let span = tracing::info_span!("websocket", protocol = subprotocol.as_str());
                tasks.track_future(
                    async move {
                        let limits = self.limits.clone();
                        let shutdown = self.shutdown.clone();
                        let admitted = permit.is_some();
                        let open_sockets = ::metrics::gauge!(metrics::WEBSOCKETS_OPEN);
                        open_sockets.increment(1.0);
                        connection::run(socket, &limits, &shutdown, |outbox| {
                            open(self, outbox, admitted)
                        })
                        .await;
                        open_sockets.decrement(1.0);
                        drop(permit);
                    }
                    .instrument(span),
                )
            })
    }
}

/// A connection accepted (`Ok`) or refused (`Err`) as it opens.
impl<A: Protocol, R: Protocol> Protocol for Result<A, R> {
    fn too_slow(&self) -> Vec<Outgoing> {
        match self {
            Ok(p) => p.too_slow(),
            Err(p) => p.too_slow(),
        }
    }

    fn next_timer(&self) -> Option<Instant> {
        match self {
            Ok(p) => p.next_timer(),
            Err(p) => p.next_timer(),
        }
    }

    async fn on_timer(&mut self) -> bool {
        match self {
            Ok(p) => p.on_timer().await,
            Err(p) => p.on_timer().await,
        }
    }

    async fn on_message(&mut self, text: &str) -> bool {
        match self {
            Ok(p) => p.on_message(text).await,
            Err(p) => p.on_message(text).await,
        }
    }
}

/// The query parameters of AppSync's handshake: `header`, base64 JSON (`payload`, always `{}`, is not read).
#[derive(Debug, Default, Deserialize)]
pub struct HandshakeParams {
    pub header: Option<String>,
}

/// `GET /graphql/realtime`: AppSync's protocol.
pub async fn on_realtime(
    State(realtime): State<Realtime>,
    Query(params): Query<HandshakeParams>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    match ws {
        Ok(ws) => appsync::upgrade(realtime, ws, params.header).await,
        Err(_) => not_a_websocket(),
    }
}

/// A WebSocket at `GET /graphql` speaks either protocol: `graphql-transport-ws` when the client
/// asks for it (and is not an AppSync client passing its header as a subprotocol), else
/// AppSync's `graphql-ws`.
pub async fn on_graphql(
    realtime: Realtime,
    header: Option<String>,
    ws: WebSocketUpgrade,
) -> Response {
    let asks = |protocol: Subprotocol| {
        ws.requested_protocols()
            .any(|p| p.to_str().ok().and_then(|p| p.parse().ok()) == Some(protocol))
    };
    if asks(Subprotocol::TransportWs) && appsync::header_protocol(&ws).is_none() {
        transport_ws::upgrade(realtime, ws)
    } else if asks(Subprotocol::AppSync) {
        appsync::upgrade(realtime, ws, header).await
    } else {
        request_error(
            StatusCode::BAD_REQUEST,
            ErrorType::MalformedHttpRequest,
            "A WebSocket at /graphql must ask for the subprotocol graphql-transport-ws or graphql-ws",
        )
    }
}

/// A GET that is not a WebSocket handshake.
pub fn not_a_websocket() -> Response {
    request_error(
        StatusCode::BAD_REQUEST,
        ErrorType::MalformedHttpRequest,
        "Send GraphQL requests as POST /graphql with a JSON body; a GET here must be a WebSocket handshake",
    )
}
