//! What both protocols share: one connection loop. A connection is a reader (this loop, which
//! hands the client's messages and the protocol's timers to a [`Protocol`]), a writer (which
//! sends the outgoing queue to the socket) and one task per running operation (which queues its
//! results).
//!
//! The queue is bounded. A message waits for room a short while (a burst to a client that reads
//! is fine); when there is still none, the client has fallen behind, and the writer tells it so
//! and closes the connection. So a client that stops reading holds one queue of memory for a
//! moment and slows no one: mutations publish without waiting, and every other connection has
//! its own queue and writer. When the server shuts down, the loop sends a close frame with code
//! 1001 (going away) and ends.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_graphql::{Response, Value};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use futures::stream::{BoxStream, SplitSink};
use futures::{FutureExt, SinkExt, StreamExt};
use serde::Serialize;
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::Limits;
use crate::graphql::error::ErrorType;
use crate::graphql::request::MAX_BODY_BYTES;
use crate::graphql::{Engine, Ready};
use crate::metrics;

/// WebSocket close codes used by both protocols.
pub const CLOSE_GOING_AWAY: u16 = 1001;
pub const CLOSE_POLICY_VIOLATION: u16 = 1008;
pub const CLOSE_TRY_AGAIN_LATER: u16 = 1013;

/// A message for the client.
#[derive(Debug)]
pub enum Outgoing {
    Text(String),
    /// A close frame; nothing is sent after it.
    Close(u16, String),
}

impl Outgoing {
    /// A protocol message, as JSON text.
    pub fn message(message: &impl Serialize) -> Self {
        // A protocol message is plain data (strings, numbers, JSON values): it always serializes.
        Outgoing::Text(serde_json::to_string(message).unwrap_or_default())
    }

    fn into_message(self) -> Message {
        match self {
            Outgoing::Text(text) => Message::Text(text.into()),
            Outgoing::Close(code, reason) => Message::Close(Some(CloseFrame {
                code,
                reason: reason.into(),
            })),
        }
    }
}

/// One error as both protocols write it outside GraphQL's own errors: its `errorType`, its
/// message, and the `errorCode` AppSync gives it (clients read it to decide whether to retry).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorEntry<'a> {
    error_type: &'static str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<u16>,
}

impl<'a> ErrorEntry<'a> {
    pub fn new(error_type: ErrorType, message: &'a str) -> Self {
        let error_code = match error_type {
            ErrorType::Unauthorized => Some(401),
            ErrorType::MalformedHttpRequest => Some(400),
            _ => None,
        };
        ErrorEntry {
            error_type: error_type.as_str(),
            message,
            error_code,
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// The sending side of one connection: a bounded queue in front of its writer.
#[derive(Clone)]
pub struct Outbox {
    queue: mpsc::Sender<Outgoing>,
    fell_behind: Arc<Notify>,
    wait: Duration,
}

impl Outbox {
    /// Queues a message, waiting a short while for room. `false` when the connection is closing,
    /// or when the queue stayed full: then the writer tells the client and closes the connection.
    pub async fn send(&self, message: Outgoing) -> bool {
        match tokio::time::timeout(self.wait, self.queue.send(message)).await {
            Ok(sent) => sent.is_ok(),
            Err(_) => {
                self.fell_behind.notify_one();
                false
            }
        }
    }

    /// Queues a close frame; always `false`, for a protocol to end the connection with.
    pub async fn close(&self, code: u16, reason: &str) -> bool {
        self.send(Outgoing::Close(code, reason.to_string())).await;
        false
    }
}

/// One protocol's side of a connection. Each call answers through the protocol's outbox and
/// returns `false` to end the connection.
pub trait Protocol: Send {
    /// What to send a client that fell behind, before its connection closes.
    fn too_slow(&self) -> Vec<Outgoing>;
    /// When the protocol next wants [`Protocol::on_timer`] (a keep-alive, a deadline).
    fn next_timer(&self) -> Option<Instant>;
    fn on_timer(&mut self) -> impl Future<Output = bool> + Send;
    fn on_message(&mut self, text: &str) -> impl Future<Output = bool> + Send;
}

/// The socket settings of both protocols: messages as large as an HTTP request may be, and a
/// small read buffer, so that idle connections cost little.
pub fn configure(ws: WebSocketUpgrade) -> WebSocketUpgrade {
    ws.max_message_size(MAX_BODY_BYTES)
        .max_frame_size(MAX_BODY_BYTES)
        .read_buffer_size(4096)
}

/// Runs one connection until either side ends it or the server shuts down. `start` makes the
/// protocol's side, given the outbox; when the loop ends, what was queued last (a close frame,
/// say) is still sent.
pub async fn run<P: Protocol>(
    socket: WebSocket,
    limits: &Limits,
    shutdown: &CancellationToken,
    start: impl FnOnce(Outbox) -> P,
) {
    let (sink, mut incoming) = socket.split();
    let (queue, pending) = mpsc::channel(limits.outgoing_queue.max(1));
    let fell_behind = Arc::new(Notify::new());
    let outbox = Outbox {
        queue,
        fell_behind: fell_behind.clone(),
        wait: limits.queue_wait,
    };
    let mut protocol = start(outbox.clone());
    let writer = write(
        sink,
        pending,
        fell_behind,
        protocol.too_slow(),
        limits.farewell_timeout,
    );
    tokio::pin!(writer);
    let read = async {
        loop {
            let timer = protocol.next_timer();
            let message = tokio::select! {
                message = incoming.next() => message,
                () = sleep_until(timer) => {
                    if protocol.on_timer().await {
                        continue;
                    }
                    return;
                }
                () = shutdown.cancelled() => {
                    outbox.close(CLOSE_GOING_AWAY, "The server is shutting down").await;
                    return;
                }
            };
            let text = match message {
                Some(Ok(Message::Text(text))) => text.to_string(),
                Some(Ok(Message::Binary(bytes))) => String::from_utf8_lossy(&bytes).into_owned(),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(Message::Close(frame))) => {
                    // Answered, so that the client sees its own code, not 1006.
                    let code = frame.map_or(1000, |f| f.code);
                    outbox.close(code, "").await;
                    return;
                }
                Some(Err(_)) | None => return,
            };
            if !protocol.on_message(&text).await {
                return;
            }
        }
    };
    let reader_ended = tokio::select! {
        () = &mut writer => false,
        () = read => true,
    };
    if reader_ended {
        // The protocol's operations stop with it, and with them the last outboxes: the writer
        // ends once it has sent what they queued.
        drop(protocol);
        drop(outbox);
        let _ = tokio::time::timeout(limits.farewell_timeout, writer).await;
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

async fn write(
    mut sink: SplitSink<WebSocket, Message>,
    mut pending: mpsc::Receiver<Outgoing>,
    fell_behind: Arc<Notify>,
    too_slow: Vec<Outgoing>,
    farewell_timeout: Duration,
) {
    loop {
        let message = tokio::select! {
            biased;
            () = fell_behind.notified() => break,
            message = pending.recv() => match message {
                Some(message) => message,
                None => return,
            },
        };
        let closes = matches!(message, Outgoing::Close(..));
        tokio::select! {
            biased;
            () = fell_behind.notified() => break,
            sent = sink.send(message.into_message()) => {
                if sent.is_err() && closes {
                    // The client closed first: the reply to its close is queued; send it.
                    let _ = sink.flush().await;
                }
                if sent.is_err() || closes {
                    return;
                }
            }
        }
    }
    // The client fell behind: what is queued is dropped, and it is told, if it reads again soon.
    tracing::info!("a WebSocket client fell behind and was disconnected");
    let farewell = async {
        for message in too_slow {
            sink.send(message.into_message()).await?;
        }
        Ok::<_, axum::Error>(())
    };
    let _ = tokio::time::timeout(farewell_timeout, farewell).await;
}

/// The operations running on one connection, by the client's id. Dropping it stops them all.
#[derive(Default)]
pub struct Operations {
    running: HashMap<String, JoinHandle<()>>,
}

impl Operations {
    /// How many are still running.
    pub fn count(&mut self) -> usize {
        self.running.retain(|_, task| !task.is_finished());
        self.running.len()
    }

    pub fn is_running(&mut self, id: &str) -> bool {
        self.running.get(id).is_some_and(|task| !task.is_finished())
    }

    pub fn insert(&mut self, id: String, task: JoinHandle<()>) {
        if let Some(old) = self.running.insert(id, task) {
            old.abort();
        }
    }

    pub fn stop(&mut self, id: &str) {
        if let Some(task) = self.running.remove(id) {
            task.abort();
        }
    }
}

impl Drop for Operations {
    fn drop(&mut self) {
        self.running.values().for_each(JoinHandle::abort);
    }
}

/// A response with no data at all: the operation failed as a whole.
pub fn failed(response: &Response) -> bool {
    response.data == Value::Null && !response.errors.is_empty()
}

/// An operation, run up to its first wait.
pub enum Started {
    /// It failed at once (it did not parse or validate, say): its response, and nothing runs.
    Failed(Response),
    /// It runs: its first response if it had one at once, and the rest to come (shared, when
    /// subscribers with the same request share one execution).
    Running(Option<Response>, BoxStream<'static, Arc<Response>>),
}

/// Starts a request and runs it until it first waits. A subscription is then listening for
/// events, so that every mutation the client makes after hearing that it started reaches it.
pub fn start(engine: &Engine, ready: Ready) -> Started {
    let mut stream = engine.execute_stream(ready);
    match stream.next().now_or_never() {
        Some(Some(response)) if failed(&response) => Started::Failed(response),
        Some(Some(response)) => Started::Running(Some(response), stream.map(Arc::new).boxed()),
        Some(None) => Started::Running(None, futures::stream::empty().boxed()),
        None => Started::Running(None, stream.map(Arc::new).boxed()),
    }
}

/// How a protocol frames an operation's results.
#[derive(Clone, Copy)]
pub struct Framing {
    pub result: fn(&str, &Response) -> Outgoing,
    pub complete: fn(&str) -> Outgoing,
    /// The end of an operation whose caller's token expired (an `error`, 401).
    pub expired: fn(&str) -> Outgoing,
}

/// Sends an operation's responses, then its completion, through the outbox. Stops when the
/// connection closes or falls behind, and at `expires_at` (its caller's token's `exp`), after
/// telling the client so.
pub fn forward(
    id: String,
    first: Option<Response>,
    mut rest: BoxStream<'static, Arc<Response>>,
    outbox: Outbox,
    framing: Framing,
    expires_at: Option<SystemTime>,
) -> JoinHandle<()> {
    let active = ::metrics::gauge!(metrics::SUBSCRIPTIONS_ACTIVE);
    let delivered = ::metrics::counter!(metrics::EVENTS_DELIVERED);
    active.increment(1.0);
    // Counts the operation out however its task ends (aborted by a `stop`, say).
    let running = scopeguard(move || active.decrement(1.0));
    tokio::spawn(async move {
        let _running = running;
        if let Some(response) = first {
            if !outbox.send((framing.result)(&id, &response)).await {
                return;
            }
        }
        // A token that expired already (within the verifier's leeway) ends it at once.
        let deadline = expires_at.map(|t| {
            Instant::now()
                + t.duration_since(SystemTime::now())
                    .unwrap_or(Duration::ZERO)
        });
        loop {
            let next = tokio::select! {
                biased;
                () = sleep_until(deadline) => {
                    outbox.send((framing.expired)(&id)).await;
                    return;
                }
                next = rest.next() => next,
            };
            let Some(response) = next else { break };
            if !outbox.send((framing.result)(&id, &response)).await {
                return;
            }
            delivered.increment(1);
        }
        outbox.send((framing.complete)(&id)).await;
    })
}

/// Runs `f` when dropped.
fn scopeguard(f: impl FnOnce()) -> impl Drop {
    struct Guard<F: FnOnce()>(Option<F>);
    impl<F: FnOnce()> Drop for Guard<F> {
        fn drop(&mut self) {
            if let Some(f) = self.0.take() {
                f();
            }
        }
    }
    Guard(Some(f))
}

/// The value of `name` in a JSON object, matching the name as HTTP matches header names.
pub fn header<'a>(object: &'a serde_json::Value, name: &str) -> Option<&'a str> {
    object
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names_match_in_any_case() {
        let object = serde_json::json!({"X-Api-Key": "k", "host": 1});
        assert_eq!(header(&object, "x-api-key"), Some("k"));
        assert_eq!(header(&object, "host"), None, "a number is no header value");
        assert_eq!(header(&serde_json::json!("x"), "x-api-key"), None);
    }

    #[test]
    fn only_auth_and_request_errors_carry_an_error_code() {
        let code = |t| ErrorEntry::new(t, "m").to_json()["errorCode"].clone();
        assert_eq!(code(ErrorType::Unauthorized), 401);
        assert_eq!(code(ErrorType::MalformedHttpRequest), 400);
        assert_eq!(code(ErrorType::Validation), serde_json::Value::Null);
    }
}
