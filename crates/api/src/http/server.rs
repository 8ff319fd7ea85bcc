//! One way to start the API, shared by the `trainers serve` command and every test: build a
//! [`Server`], [`bind`](Server::bind) it, then [`serve`](Bound::serve) or
//! [`spawn`](Bound::spawn) it.
//!
//! The accept loop is this module's own (on hyper's HTTP/1 server, as axum's `serve` is) so that
//! every connection is bounded before work is done on it:
//! - TLS and plain connections on the same port (the first byte tells a TLS handshake);
//! - a request head must arrive within [`HttpLimits::header_read_timeout`], which also closes a
//!   kept-alive connection that idles that long;
//! - at most [`HttpLimits::max_connections`] connections at once; more wait in the OS's backlog;
//! - on shutdown, the listener closes (the connections still in its queue are accepted and
//!   served first, not reset), requests already accepted are answered, kept-alive
//!   connections close, every WebSocket gets a close frame with 1001, and [`Bound::serve`]
//!   returns within the shutdown timeout whatever clients do.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::task::AtomicWaker;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use axum::http::{header, HeaderValue};
use axum::response::Response;
use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;
use tokio_util::either::Either;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;
use trainers_core::TrainerService;

use crate::auth::{Authenticator, KeyRing, Verifier};
use crate::events::Events;
use crate::graphql::Engine;
use crate::http::health::Health;
use crate::http::router::router;
use crate::realtime::{self, Realtime};

/// What one server allows its HTTP clients before any request runs.
#[derive(Clone, Debug)]
pub struct HttpLimits {
    /// Connections served at once, HTTP and WebSocket together.
    pub max_connections: usize,
    /// How long a request head may take to arrive, counted from the first wait for it: so also
    /// how long a kept-alive connection may idle, and a client that opens a connection and sends
    /// nothing.
    pub header_read_timeout: Duration,
    /// How long a TLS handshake may take.
    pub tls_handshake_timeout: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_connections: 10_240,
            header_read_timeout: Duration::from_secs(10),
            tls_handshake_timeout: Duration::from_secs(10),
        }
    }
}

/// The default of `--shutdown-timeout`.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// What is done to each accepted socket before it is served.
type OnAccept = Arc<dyn Fn(&TcpStream) + Send + Sync>;

/// A server not yet listening: the service, the keys, and the limits and options to serve with.
pub struct Server {
    service: TrainerService,
    keys: Arc<KeyRing>,
    realtime_limits: realtime::Limits,
    http_limits: HttpLimits,
    tls: Option<Arc<ServerConfig>>,
    shutdown_timeout: Duration,
    on_accept: Option<OnAccept>,
    introspection: bool,
    events: Events,
    verifier: Option<Verifier>,
    jwks: Option<String>,
}

impl Server {
    pub fn new(service: TrainerService, keys: Arc<KeyRing>) -> Self {
        Server {
            service,
            keys,
            realtime_limits: realtime::Limits::default(),
            http_limits: HttpLimits::default(),
            tls: None,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            on_accept: None,
            introspection: true,
            events: Events::local(),
            verifier: None,
            jwks: None,
        }
    }

    /// Accounts (contract section 11): callers may sign in with the tokens `verifier` accepts,
    /// and the service applies the owner rules of its settings (its admin group). Without it,
    /// only API keys, and the API key may do everything.
    pub fn accounts(mut self, verifier: Verifier) -> Self {
        self.service = self
            .service
            .with_access(verifier.settings().access_policy());
        self.verifier = Some(verifier);
        self
    }

    /// Serves `jwks` at `GET /.well-known/jwks.json` (`--auth-local`: this server is the issuer).
    pub fn jwks(mut self, jwks: String) -> Self {
        self.jwks = Some(jwks);
        self
    }

    /// Where mutations publish their events and subscriptions read them (default: this process
    /// only).
    pub fn events(mut self, events: Events) -> Self {
        self.events = events;
        self
    }

    /// Whether the schema answers introspection (`__schema`, `__type`); on by default.
    pub fn introspection(mut self, enabled: bool) -> Self {
        self.introspection = enabled;
        self
    }

    pub fn realtime_limits(mut self, limits: realtime::Limits) -> Self {
        self.realtime_limits = limits;
        self
    }

    pub fn http_limits(mut self, limits: HttpLimits) -> Self {
        self.http_limits = limits;
        self
    }

    /// Accepts TLS connections too, on the same port, with this certificate.
    pub fn tls(mut self, config: Arc<ServerConfig>) -> Self {
        self.tls = Some(config);
        self
    }

    /// How long a shutdown may wait for requests and connections to finish.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Runs `f` on each accepted socket before it is served (tests shrink socket buffers so).
    pub fn on_accept(mut self, f: impl Fn(&TcpStream) + Send + Sync + 'static) -> Self {
        self.on_accept = Some(Arc::new(f));
        self
    }

    /// Listens on `addr` (port 0: any free port).
    pub async fn bind(self, addr: SocketAddr) -> io::Result<Bound> {
        let listener = TcpListener::bind(addr).await?;
        self.bind_listener(listener)
    }

    /// Serves on a listener bound already.
    pub fn bind_listener(self, listener: TcpListener) -> io::Result<Bound> {
        crate::metrics::prometheus();
        let health = Health::new(
            self.service.clone(),
            self.events.source.clone(),
            self.verifier.clone(),
        );
        let engine = Engine::new(self.service, self.events, self.introspection);
        let auth = Authenticator::new(self.keys, self.verifier);
        let realtime = Realtime::new(engine.clone(), auth.clone(), self.realtime_limits);
        Ok(Bound {
            app: router(engine, auth, realtime.clone(), health.clone(), self.jwks),
            listener,
            realtime,
            health,
            http_limits: self.http_limits,
            tls: self.tls.map(TlsAcceptor::from),
            shutdown_timeout: self.shutdown_timeout,
            on_accept: self.on_accept,
        })
    }
}

/// A server listening, ready to serve.
pub struct Bound {
    listener: TcpListener,
    app: Router,
    realtime: Realtime,
    http_limits: HttpLimits,
    tls: Option<TlsAcceptor>,
    shutdown_timeout: Duration,
    on_accept: Option<OnAccept>,
    health: Health,
}

impl Bound {
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `signal` completes, then shuts down (see the module's documentation).
    pub async fn serve(self, signal: impl Future<Output = ()>) {
        let Bound {
            listener,
            app,
            realtime,
            http_limits: limits,
            tls,
            shutdown_timeout,
            on_accept,
            health,
        } = self;
        let stop = Stop::default();
        let connections = TaskTracker::new();
        // The store's scans as gauges, read once a second while the server serves.
        let scans = tokio::spawn({
            let health = health.clone();
            async move {
                let mut every = tokio::time::interval(Duration::from_secs(1));
                loop {
                    every.tick().await;
                    health.report_scans();
                }
            }
        });
        let slots = Arc::new(Semaphore::new(limits.max_connections));
        let mut http = http1::Builder::new();
        // Heads are timed by each connection's `Idle` watch, not by hyper's timer, which arms a
        // timer for every request (5% of getTrainer's throughput).
        http.timer(TokioTimer::new())
            .header_read_timeout(None::<Duration>);
        // Each accepted connection in a task of its own, tracked for the stop.
        let serve = |stream: TcpStream, slot: Option<OwnedSemaphorePermit>| {
            if let Some(f) = &on_accept {
                f(&stream);
            }
            connections.spawn(serve_connection(Connection {
                stream,
                tls: tls.clone(),
                http: http.clone(),
                app: app.clone(),
                stop: stop.clone(),
                limits: limits.clone(),
                _slot: slot,
            }));
        };
        tokio::pin!(signal);
        loop {
            let slot = tokio::select! {
                () = &mut signal => break,
                slot = slots.clone().acquire_owned() => slot,
            };
            let Ok(slot) = slot else { break };
            let stream = tokio::select! {
                () = &mut signal => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Out of file descriptors, say: wait a moment rather than spin.
                        tracing::warn!(error = %e, "could not accept a connection");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            serve(stream, Some(slot));
        }
        health.set_draining();
        // Connections the kernel completed before the stop wait in the listen queue: closing the
        // listener would reset them, and a request already sent on one would fail (a proxy does
        // not send a POST again). They are served like the others, and told to close.
        // Over the cap if need be: the queue is bounded by the listen backlog, and each
        // connection by the shutdown deadline.
        for stream in drain_listen_queue(listener) {
            serve(stream, None);
        }
        tracing::info!(
            connections = connections.len(),
            websockets = realtime.open_connections(),
            "shutting down: answering the requests already accepted"
        );
        stop.stop();
        scans.abort();
        connections.close();
        let drained = async {
            tokio::join!(connections.wait(), realtime.shut_down());
        };
        if tokio::time::timeout(shutdown_timeout, drained)
            .await
            .is_err()
        {
            tracing::warn!(
                connections = connections.len(),
                "connections still open at the shutdown timeout were dropped"
            );
        }
    }

    /// Serves in a task of its own, until [`Running::shut_down`] or until the handle is dropped.
    pub fn spawn(self) -> io::Result<Running> {
        let addr = self.local_addr()?;
        let stop = CancellationToken::new();
        let signal = stop.clone().cancelled_owned();
        let realtime = self.realtime.clone();
        let task = tokio::spawn(self.serve(signal));
        Ok(Running {
            addr,
            stop,
            task: Some(task),
            realtime,
        })
    }
}

/// Accepts, without waiting, every connection already in the listener's queue, and closes the
/// listener. Through the standard library's `accept`, which asks the kernel, where tokio's would
/// wait for a readiness event the reactor may not have seen yet.
fn drain_listen_queue(listener: TcpListener) -> Vec<TcpStream> {
    let Ok(listener) = listener.into_std() else {
        return Vec::new();
    };
    let mut queued = Vec::new();
    while let Ok((stream, _)) = listener.accept() {
        if stream.set_nonblocking(true).is_err() {
            continue;
        }
        if let Ok(stream) = TcpStream::from_std(stream) {
            queued.push(stream);
        }
    }
    queued
}

/// A server serving in a task of its own.
pub struct Running {
    addr: SocketAddr,
    stop: CancellationToken,
    task: Option<JoinHandle<()>>,
    realtime: Realtime,
}

impl Running {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Subscription executions running now (identical subscriptions share one), as
    /// `trainers_subscription_executions` reports it.
    pub fn subscription_executions(&self) -> usize {
        self.realtime.subscription_executions()
    }

    /// Open WebSocket connections, both protocols, as `trainers_websockets_open` reports them.
    pub fn open_connections(&self) -> usize {
        self.realtime.open_connections()
    }

    /// Shuts the server down and waits until it has.
    pub async fn shut_down(mut self) {
        self.stop.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

struct Connection {
    stream: TcpStream,
    tls: Option<TlsAcceptor>,
    http: http1::Builder,
    app: Router,
    stop: Stop,
    limits: HttpLimits,
    /// Its place under the cap, given back when it ends (none for those served at the stop).
    _slot: Option<OwnedSemaphorePermit>,
}

/// The first byte of a TLS connection: a handshake record.
const TLS_HANDSHAKE: u8 = 0x16;

async fn serve_connection(connection: Connection) {
    let Connection {
        stream,
        tls,
        http,
        app,
        stop,
        limits,
        _slot,
    } = connection;
    let _ = stream.set_nodelay(true);
    let io = match tls {
        None => Either::Right(stream),
        Some(tls) => {
            let mut first = [0u8; 1];
            let peeked = tokio::time::timeout(limits.header_read_timeout, stream.peek(&mut first));
            match peeked.await {
                Ok(Ok(1)) if first[0] == TLS_HANDSHAKE => {
                    let handshake = tls.accept(stream);
                    match tokio::time::timeout(limits.tls_handshake_timeout, handshake).await {
                        Ok(Ok(stream)) => Either::Left(stream),
                        Ok(Err(e)) => {
                            tracing::debug!(error = %e, "TLS handshake failed");
                            return;
                        }
                        Err(_) => return,
                    }
                }
                Ok(Ok(1)) => Either::Right(stream),
                // Closed, failed or silent before its first byte.
                _ => return,
            }
        }
    };
    // Once the server stops, every response says `Connection: close`, so that a client that
    // keeps sending learns to go elsewhere from an answer rather than from a closed connection.
    let closing = stop.clone();
    let idle = Arc::new(Idle::new());
    let (started, answered) = (idle.clone(), idle.clone());
    let app = ServiceExt::<hyper::Request<hyper::body::Incoming>>::map_request(
        app,
        move |request: hyper::Request<hyper::body::Incoming>| {
            started.request_began();
            tidy_path(request)
        },
    );
    let app = ServiceExt::<hyper::Request<hyper::body::Incoming>>::map_response(
        app,
        move |mut response: Response| {
            answered.request_answered();
            if closing.is_stopping() {
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            response
        },
    );
    let service = TowerToHyperService::new(app);
    let conn = http
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => return,
        () = idle.expired(limits.header_read_timeout) => return,
        () = stop.stopped() => {}
    }
    // A request may be on its way on this kept-alive connection: it is answered (and told to
    // close) if it arrives within the linger; then an idle connection is closed.
    tokio::select! {
        _ = conn.as_mut() => return,
        () = tokio::time::sleep(LINGER) => {}
    }
    conn.as_mut().graceful_shutdown();
    let _ = conn.await;
}

/// When a connection last started waiting for a request head: at its start, and after each
/// answer. A connection whose next head has not arrived [`HttpLimits::header_read_timeout`]
/// after that is closed: an idle kept-alive connection, or a client that sends its head a byte at
/// a time. One timer per connection, re-armed once per timeout, not one per request.
struct Idle {
    born: std::time::Instant,
    /// Milliseconds from `born` to the moment the wait for a head began.
    waiting_since: std::sync::atomic::AtomicU64,
    /// A request is being answered (its head arrived).
    busy: AtomicBool,
}

impl Idle {
    fn new() -> Self {
        Idle {
            born: std::time::Instant::now(),
            waiting_since: std::sync::atomic::AtomicU64::new(0),
            busy: AtomicBool::new(false),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.born.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn request_began(&self) {
        self.busy.store(true, Ordering::Relaxed);
    }

    fn request_answered(&self) {
        self.waiting_since.store(self.now_ms(), Ordering::Relaxed);
        self.busy.store(false, Ordering::Relaxed);
    }

    /// Resolves once the connection has waited `timeout` for a head.
    async fn expired(&self, timeout: Duration) {
        let timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        loop {
            let since = self.waiting_since.load(Ordering::Relaxed);
            let due = self.born + Duration::from_millis(since.saturating_add(timeout_ms));
            tokio::time::sleep_until(due.into()).await;
            let waited = self
                .now_ms()
                .saturating_sub(self.waiting_since.load(Ordering::Relaxed));
            if !self.busy.load(Ordering::Relaxed) && waited >= timeout_ms {
                return;
            }
            if self.busy.load(Ordering::Relaxed) {
                // A request runs (bounded by the router's own deadline): look again later.
                tokio::time::sleep(timeout).await;
            }
        }
    }
}

/// The path a client meant: an endpoint given with a trailing slash (`…/graphql/`) makes clients
/// ask for `/graphql/` and derive `/graphql//realtime`; both are served as the endpoints they
/// name, rather than failing with a 404 that some clients retry in silence.
fn tidy_path<B>(mut request: hyper::Request<B>) -> hyper::Request<B> {
    let path = request.uri().path();
    if !(path.contains("//") || (path.len() > 1 && path.ends_with('/'))) {
        return request;
    }
    let mut tidy = String::with_capacity(path.len());
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        tidy.push('/');
        tidy.push_str(segment);
    }
    if tidy.is_empty() {
        tidy.push('/');
    }
    if let Some(query) = request.uri().query() {
        tidy.push('?');
        tidy.push_str(query);
    }
    let mut parts = request.uri().clone().into_parts();
    if let Ok(path_and_query) = tidy.parse() {
        parts.path_and_query = Some(path_and_query);
        if let Ok(uri) = hyper::Uri::from_parts(parts) {
            *request.uri_mut() = uri;
        }
    }
    request
}

/// Tells every connection that the server stops. Each connection polls it whenever it wakes (on
/// every request): a flag and a waker registered without a lock, where a `CancellationToken`'s
/// check takes a mutex that all connections share.
#[derive(Clone, Default)]
struct Stop(Arc<StopState>);

#[derive(Default)]
struct StopState {
    stopping: AtomicBool,
    /// The wakers of the connections waiting for the stop, by connection.
    waiting: std::sync::Mutex<Vec<std::sync::Weak<AtomicWaker>>>,
}

impl Stop {
    fn is_stopping(&self) -> bool {
        self.0.stopping.load(Ordering::Acquire)
    }

    fn stop(&self) {
        self.0.stopping.store(true, Ordering::Release);
        let waiting = std::mem::take(
            &mut *self
                .0
                .waiting
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for waker in waiting.iter().filter_map(std::sync::Weak::upgrade) {
            waker.wake();
        }
    }

    /// Resolves when the server stops.
    fn stopped(&self) -> impl std::future::Future<Output = ()> + '_ {
        let waker = Arc::new(AtomicWaker::new());
        {
            // Recovered if poisoned: skipping it would leave this connection deaf to the stop.
            let mut waiting = self
                .0
                .waiting
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            // Ended connections are swept when the list doubles: amortised O(1) per connection.
            if waiting.len() >= 1024 && waiting.len().is_power_of_two() {
                waiting.retain(|w| w.strong_count() > 0);
            }
            waiting.push(Arc::downgrade(&waker));
        }
        std::future::poll_fn(move |cx| {
            waker.register(cx.waker());
            if self.is_stopping() {
                std::task::Poll::Ready(())
            } else {
                std::task::Poll::Pending
            }
        })
    }
}

/// How long a kept-alive connection stays open once the server stops, for a request on its way.
const LINGER: Duration = Duration::from_millis(500);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trailing_or_doubled_slash_names_the_endpoint() {
        let tidy = |uri: &str| {
            let request = hyper::Request::builder()
                .uri(uri)
                .body(())
                .expect("a request");
            tidy_path(request).uri().to_string()
        };
        assert_eq!(tidy("/graphql/"), "/graphql");
        assert_eq!(
            tidy("/graphql//realtime?header=a%2Fb&payload=e30="),
            "/graphql/realtime?header=a%2Fb&payload=e30="
        );
        assert_eq!(tidy("/graphql"), "/graphql");
        assert_eq!(tidy("/"), "/");
        assert_eq!(tidy("//"), "/");
    }
}
