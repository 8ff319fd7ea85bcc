//! AppSync's real-time protocol, as AWS documents it in "Building a real-time WebSocket client":
//!
//! - the handshake carries the authorization header as the query parameter `header` (base64
//!   JSON such as `{"host": ..., "x-api-key": ...}`) or as a second subprotocol
//!   `header-<base64url JSON>` (Amplify JS), and asks for the subprotocol `graphql-ws`;
//! - client `connection_init` (optional), server `connection_ack` with `connectionTimeoutMs`,
//!   then a `ka` now and every [`Limits::keep_alive`](super::Limits::keep_alive);
//! - client `start` with an `id` and `payload: {data: "<JSON {query, variables}>", extensions:
//!   {authorization: {...}}}`, server `start_ack` then `data` messages, or an `error`;
//! - client `stop`, server `complete`;
//! - a bad key in the handshake gets `connection_error`, a bad key in `start` an `error`, both
//!   `UnauthorizedException`.
//!
//! The API key may come in the handshake, in each `start`, or both; the one in `start` wins.

use async_graphql::{Request, Response};
use axum::extract::ws::{WebSocket, WebSocketUpgrade};
use axum::response::Response as HttpResponse;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use futures::stream::SplitStream;
use futures::StreamExt;
use serde_json::{json, Value};
use tokio::time::{interval_at, Instant, MissedTickBehavior};

use super::connection::{
    self, classify, configure, header, Framing, Incoming, Operations, Outbox, Outgoing, Started,
    CLOSE_POLICY_VIOLATION, CLOSE_TRY_AGAIN_LATER,
};
use super::{Realtime, APPSYNC_PROTOCOL};
use crate::appsync::{error_json, response_json, MALFORMED, UNAUTHORIZED, VALIDATION};
use crate::http::{parse_request, request_from_value};

const NOT_AUTHORIZED: &str = "You are not authorized to make this call.";
const MAX_SUBSCRIPTIONS: &str = "MaxSubscriptionsReachedError";
const LIMIT_EXCEEDED: &str = "LimitExceededError";
const DUPLICATE: &str = "DuplicatedOperationError";
const UNSUPPORTED: &str = "UnsupportedOperation";
const TOO_SLOW: &str = "SubscriberTooSlow";

const FRAMING: Framing = Framing { result, complete };

/// The authorization of the handshake.
enum HandshakeAuth {
    /// No API key: each `start` must carry one.
    Absent,
    Accepted,
    Refused(&'static str),
}

impl HandshakeAuth {
    fn read(realtime: &Realtime, encoded: Option<&str>) -> Self {
        let Some(encoded) = encoded else {
            return HandshakeAuth::Absent;
        };
        let Some(header_json) = decode_header(encoded) else {
            return HandshakeAuth::Refused(
                "The authorization header of the handshake is not base64-encoded JSON",
            );
        };
        match header(&header_json, "x-api-key") {
            None => HandshakeAuth::Absent,
            Some(key) if realtime.accepts(key) => HandshakeAuth::Accepted,
            Some(_) => HandshakeAuth::Refused(NOT_AUTHORIZED),
        }
    }
}

/// The header of an Amplify-style handshake, from its subprotocol `header-<base64url>`.
pub(super) fn header_protocol(ws: &WebSocketUpgrade) -> Option<String> {
    ws.requested_protocols()
        .filter_map(|p| p.to_str().ok())
        .find_map(|p| p.strip_prefix("header-"))
        .map(str::to_string)
}

/// Base64 or base64url, padded or not, of a JSON object.
fn decode_header(encoded: &str) -> Option<Value> {
    // A `+` in a query string that was not percent-encoded reads as a space.
    let standard: String = encoded
        .trim()
        .trim_end_matches('=')
        .chars()
        .map(|c| match c {
            ' ' | '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    let bytes = STANDARD_NO_PAD.decode(standard).ok()?;
    serde_json::from_slice::<Value>(&bytes)
        .ok()
        .filter(Value::is_object)
}

pub(super) fn upgrade(
    realtime: Realtime,
    ws: WebSocketUpgrade,
    header_param: Option<String>,
) -> HttpResponse {
    let encoded = header_param.or_else(|| header_protocol(&ws));
    let auth = HandshakeAuth::read(&realtime, encoded.as_deref());
    let permit = realtime.admit();
    configure(ws)
        .protocols([APPSYNC_PROTOCOL])
        .on_upgrade(move |socket| async move {
            let limits = realtime.limits.clone();
            match permit {
                Some(permit) => {
                    connection::run(socket, &limits, too_slow(), |incoming, outbox| {
                        serve(realtime, auth, incoming, outbox)
                    })
                    .await;
                    drop(permit);
                }
                None => {
                    let message = format!(
                        "The server is at its limit of {} WebSocket connections; try again later",
                        limits.max_connections
                    );
                    let refusal = Refusal {
                        error_type: LIMIT_EXCEEDED,
                        message: &message,
                        close_code: CLOSE_TRY_AGAIN_LATER,
                    };
                    connection::run(socket, &limits, Vec::new(), |incoming, outbox| {
                        refusal.send(incoming, outbox, &limits)
                    })
                    .await
                }
            }
        })
}

/// A connection refused as a whole, with `connection_error`.
struct Refusal<'a> {
    error_type: &'static str,
    message: &'a str,
    close_code: u16,
}

impl Refusal<'_> {
    /// Answers the client's first message (its `connection_init`, normally) with
    /// `connection_error`, then closes. Closing at once could close the connection before the
    /// client has sent it, and some clients (gql) then report a lost connection, not the error.
    async fn send(
        self,
        mut incoming: SplitStream<WebSocket>,
        outbox: Outbox,
        limits: &super::Limits,
    ) {
        let _ = tokio::time::timeout(limits.init_timeout, incoming.next()).await;
        if outbox
            .send(connection_error(self.error_type, self.message))
            .await
        {
            let close = Outgoing::Close(self.close_code, self.error_type.to_string());
            outbox.send(close).await;
        }
    }
}

/// What a client that fell behind is sent before its connection closes.
fn too_slow() -> Vec<Outgoing> {
    vec![
        Outgoing::json(json!({
            "type": "error",
            "payload": {"errors": [{
                "errorType": TOO_SLOW,
                "message": "This connection fell behind: it did not read its messages fast enough, \
                            so it was closed. Connect and subscribe again."
            }]}
        })),
        Outgoing::Close(CLOSE_POLICY_VIOLATION, TOO_SLOW.to_string()),
    ]
}

/// A message from the client.
struct ClientMessage {
    kind: String,
    id: Option<String>,
    payload: Value,
}

impl ClientMessage {
    fn parse(text: &str) -> Option<Self> {
        let mut value: Value = serde_json::from_str(text).ok()?;
        let kind = value.get("type")?.as_str()?.to_string();
        let id = match value.get("id") {
            Some(Value::String(id)) if !id.is_empty() => Some(id.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let payload = value
            .get_mut("payload")
            .map(Value::take)
            .unwrap_or_default();
        Some(ClientMessage { kind, id, payload })
    }
}

/// One connection, from the handshake on.
async fn serve(
    realtime: Realtime,
    auth: HandshakeAuth,
    mut incoming: SplitStream<WebSocket>,
    outbox: Outbox,
) {
    if let HandshakeAuth::Refused(message) = auth {
        let refusal = Refusal {
            error_type: UNAUTHORIZED,
            message,
            close_code: CLOSE_POLICY_VIOLATION,
        };
        return refusal.send(incoming, outbox, &realtime.limits).await;
    }
    let keep_alive = realtime.limits.keep_alive;
    let mut ka = interval_at(Instant::now() + keep_alive, keep_alive);
    ka.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut session = Session {
        realtime,
        handshake_accepted: matches!(auth, HandshakeAuth::Accepted),
        outbox,
        operations: Operations::new(),
    };
    loop {
        let message = tokio::select! {
            message = incoming.next() => message,
            _ = ka.tick() => {
                if !session.outbox.send(ka_message()).await {
                    return;
                }
                continue;
            }
        };
        let text = match classify(message) {
            Incoming::Text(text) => text,
            Incoming::Skip => continue,
            Incoming::Closed => return,
        };
        if !session.handle(&text).await {
            return;
        }
    }
}

struct Session {
    realtime: Realtime,
    handshake_accepted: bool,
    outbox: Outbox,
    operations: Operations,
}

impl Session {
    /// Answers one message; `false` ends the connection.
    async fn handle(&mut self, text: &str) -> bool {
        let Some(message) = ClientMessage::parse(text) else {
            return self
                .outbox
                .send(error(
                    None,
                    MALFORMED,
                    "A message must be a JSON object with a string `type`",
                ))
                .await;
        };
        match message.kind.as_str() {
            "connection_init" => {
                let ack = json!({
                    "type": "connection_ack",
                    "payload": {"connectionTimeoutMs": self.realtime.limits.connection_timeout.as_millis()}
                });
                self.outbox.send(Outgoing::json(ack)).await && self.outbox.send(ka_message()).await
            }
            "start" => self.start(message.id, &message.payload).await,
            "stop" => match message.id {
                Some(id) => {
                    self.operations.stop(&id);
                    self.outbox.send(complete(&id)).await
                }
                None => {
                    let answer = error(None, MALFORMED, "A stop message needs the `id` of a start");
                    self.outbox.send(answer).await
                }
            },
            // Apollo's protocol, whose name AppSync's shares, ends a connection so.
            "connection_terminate" => false,
            other => {
                let answer = error(
                    message.id.as_deref(),
                    UNSUPPORTED,
                    &format!("{other} not supported through the realtime channel"),
                );
                self.outbox.send(answer).await
            }
        }
    }

    async fn start(&mut self, id: Option<String>, payload: &Value) -> bool {
        let Some(id) = id else {
            let answer = error(None, MALFORMED, "A start message needs an `id`");
            return self.outbox.send(answer).await;
        };
        let refusal = self.check_start(&id, payload);
        let request = match refusal {
            Err(answer) => return self.outbox.send(answer).await,
            Ok(request) => request,
        };
        // check_start refused whatever is known not to be a subscription.
        match self
            .realtime
            .fanout
            .start(&self.realtime.schema, request, true)
        {
            Started::Failed(response) => self.outbox.send(result(&id, &response)).await,
            Started::Running(first, rest) => {
                let acked = json!({"type": "start_ack", "id": id});
                if !self.outbox.send(Outgoing::json(acked)).await {
                    return false;
                }
                let task =
                    connection::forward(id.clone(), first, rest, self.outbox.clone(), FRAMING);
                self.operations.insert(id, task);
                true
            }
        }
    }

    /// The request of a `start`, or the error that answers it.
    fn check_start(&mut self, id: &str, payload: &Value) -> Result<Request, Outgoing> {
        let refuse = |error_type: &str, message: &str| error(Some(id), error_type, message);
        let presented = header(&payload["extensions"]["authorization"], "x-api-key");
        let authorized = match presented {
            Some(key) => self.realtime.accepts(key),
            None => self.handshake_accepted,
        };
        if !authorized {
            return Err(refuse(UNAUTHORIZED, NOT_AUTHORIZED));
        }
        if self.operations.is_running(id) {
            return Err(refuse(
                DUPLICATE,
                &format!("A subscription with the id {id} is already running on this connection"),
            ));
        }
        let max = self.realtime.limits.max_subscriptions_per_connection;
        if self.operations.count() >= max {
            return Err(refuse(
                MAX_SUBSCRIPTIONS,
                &format!("Max number of {max} subscriptions reached"),
            ));
        }
        let request = start_request(payload).map_err(|message| refuse(MALFORMED, &message))?;
        if connection::is_subscription(&request) == Some(false) {
            return Err(refuse(
                VALIDATION,
                "Only subscriptions run on the real-time endpoint; send queries and mutations to POST /graphql",
            ));
        }
        Ok(request)
    }
}

/// The GraphQL request of a `start`: `payload.data` is a JSON string of `{query, variables}`.
/// (Apollo's protocol puts the request itself in `payload`; that is read too.)
fn start_request(payload: &Value) -> Result<Request, String> {
    match payload.get("data") {
        Some(Value::String(data)) => parse_request(data.as_bytes()),
        Some(_) => Err(
            "`payload.data` of a start message must be a JSON string of {query, variables}".into(),
        ),
        None if payload.get("query").is_some() => request_from_value(payload.clone()),
        None => {
            Err("A start message needs `payload.data`: a JSON string of {query, variables}".into())
        }
    }
}

fn ka_message() -> Outgoing {
    Outgoing::Text(r#"{"type":"ka"}"#.to_string())
}

fn complete(id: &str) -> Outgoing {
    Outgoing::json(json!({"type": "complete", "id": id}))
}

fn error(id: Option<&str>, error_type: &str, message: &str) -> Outgoing {
    let errors = json!([{"errorType": error_type, "message": message}]);
    errors_message(id, errors)
}

fn errors_message(id: Option<&str>, errors: Value) -> Outgoing {
    let mut message = json!({"type": "error", "payload": {"errors": errors}});
    if let Some(id) = id {
        message["id"] = json!(id);
    }
    Outgoing::json(message)
}

fn connection_error(error_type: &str, message: &str) -> Outgoing {
    Outgoing::json(json!({
        "type": "connection_error",
        "payload": {"errors": [{"errorType": error_type, "message": message}]}
    }))
}

/// One result of an operation: `data` (with `errors` beside it, if any), or an `error` when
/// there is no data at all.
fn result(id: &str, response: &Response) -> Outgoing {
    if connection::failed(response) {
        let errors = response.errors.iter().map(error_json).collect();
        errors_message(Some(id), Value::Array(errors))
    } else {
        Outgoing::json(json!({"type": "data", "id": id, "payload": response_json(response)}))
    }
}
