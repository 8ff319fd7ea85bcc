//! One AppSync real-time connection after its handshake: `connection_init` and `ka`, `start`
//! and `stop`, and the results of each running subscription.

use std::time::SystemTime;

use async_graphql::{Request, Response};
use serde_json::Value;
use tokio::time::Instant;

use super::handshake::{credentials, refuse_connection};
use super::messages::{AckPayload, ClientMessage, Errors, ServerMessage, Unreadable};
use crate::auth::{Authenticated, TokenError};
use crate::graphql::error::{auth_refused, error_json, response_json, ErrorType, NOT_AUTHORIZED};
use crate::graphql::request::{parse_request, request_from_value, with_caller, RequestError};
use crate::graphql::Ready;
use crate::realtime::connection::{
    self, Framing, Operations, Outbox, Outgoing, Protocol, Started, CLOSE_POLICY_VIOLATION,
};
use crate::realtime::Realtime;

const FRAMING: Framing = Framing {
    result,
    complete,
    expired,
};

pub struct Session {
    pub realtime: Realtime,
    /// Who the handshake's credentials named, if it carried valid ones (a `start` may carry its
    /// own).
    pub handshake: Option<Authenticated>,
    /// Until a key has been accepted (in the handshake or a `start`), when the connection is
    /// closed for want of one: a connection without a key holds a place under the cap for no
    /// longer than [`Limits::key_timeout`](crate::realtime::Limits::key_timeout).
    pub key_deadline: Option<Instant>,
    pub outbox: Outbox,
    pub operations: Operations,
    /// When the next `ka` is due.
    pub next_ka: Instant,
}

impl Protocol for Session {
    fn too_slow(&self) -> Vec<Outgoing> {
        vec![
            ServerMessage::error(
                None,
                ErrorType::SubscriberTooSlow,
                "This connection fell behind: it did not read its messages fast enough, \
                 so it was closed. Connect and subscribe again.",
            ),
            Outgoing::Close(
                CLOSE_POLICY_VIOLATION,
                ErrorType::SubscriberTooSlow.as_str().to_string(),
            ),
        ]
    }

    fn next_timer(&self) -> Option<Instant> {
        Some(match self.key_deadline {
            Some(deadline) => deadline.min(self.next_ka),
            None => self.next_ka,
        })
    }

    async fn on_timer(&mut self) -> bool {
        if self.key_deadline.is_some_and(|d| d <= Instant::now()) {
            return refuse_connection(
                &self.outbox,
                ErrorType::Unauthorized,
                "No valid API key came with the handshake or a start in time",
                CLOSE_POLICY_VIOLATION,
            )
            .await;
        }
        self.next_ka = Instant::now() + self.realtime.limits.keep_alive;
        self.outbox
            .send(Outgoing::message(&ServerMessage::Ka))
            .await
    }

    async fn on_message(&mut self, text: &str) -> bool {
        let message = match ClientMessage::parse(text) {
            Ok(message) => message,
            Err(Unreadable::Malformed) => {
                return self
                    .send_error(
                        None,
                        ErrorType::MalformedHttpRequest,
                        "A message must be a JSON object with a string `type`",
                    )
                    .await
            }
            Err(Unreadable::Unsupported { kind, id }) => {
                let message = format!("{kind} not supported through the realtime channel");
                return self
                    .send_error(id.as_deref(), ErrorType::UnsupportedOperation, &message)
                    .await;
            }
        };
        match message {
            ClientMessage::ConnectionInit {} => {
                let timeout = self.realtime.limits.connection_timeout.as_millis();
                let ack = ServerMessage::ConnectionAck {
                    payload: AckPayload {
                        connection_timeout_ms: u64::try_from(timeout).unwrap_or(u64::MAX),
                    },
                };
                self.outbox.send(Outgoing::message(&ack)).await
                    && self
                        .outbox
                        .send(Outgoing::message(&ServerMessage::Ka))
                        .await
            }
            ClientMessage::Start { id, payload } => self.start(id, &payload).await,
            ClientMessage::Stop { id: Some(id) } => {
                self.operations.stop(&id);
                self.outbox
                    .send(Outgoing::message(&ServerMessage::Complete { id: &id }))
                    .await
            }
            ClientMessage::Stop { id: None } => {
                self.send_error(
                    None,
                    ErrorType::MalformedHttpRequest,
                    "A stop message needs the `id` of a start",
                )
                .await
            }
            ClientMessage::ConnectionTerminate {} => false,
        }
    }
}

impl Session {
    async fn send_error(&self, id: Option<&str>, error_type: ErrorType, message: &str) -> bool {
        self.outbox
            .send(ServerMessage::error(id, error_type, message))
            .await
    }

    async fn start(&mut self, id: Option<String>, payload: &Value) -> bool {
        let Some(id) = id else {
            return self
                .send_error(
                    None,
                    ErrorType::MalformedHttpRequest,
                    "A start message needs an `id`",
                )
                .await;
        };
        let (ready, expires_at) = match self.check_start(&id, payload).await {
            Err(answer) => return self.outbox.send(answer).await,
            Ok(started) => started,
        };
        // check_start refused whatever is known not to be a subscription.
        match self
            .realtime
            .fanout
            .start(&self.realtime.engine, ready, true)
        {
            Started::Failed(response) => self.outbox.send(result(&id, &response)).await,
            Started::Running(first, rest) => {
                let acked = Outgoing::message(&ServerMessage::StartAck { id: &id });
                if !self.outbox.send(acked).await {
                    return false;
                }
                let outbox = self.outbox.clone();
                let task =
                    connection::forward(id.clone(), first, rest, outbox, FRAMING, expires_at);
                self.operations.insert(id, task);
                true
            }
        }
    }

    /// The request of a `start`, with its caller in its data and when its token expires, or the
    /// error that answers it.
    async fn check_start(
        &mut self,
        id: &str,
        payload: &Value,
    ) -> Result<(Ready, Option<SystemTime>), Outgoing> {
        let refuse =
            |error_type, message: &str| ServerMessage::error(Some(id), error_type, message);
        let presented = credentials(&self.realtime, &payload["extensions"]["authorization"]).await;
        let authenticated = match presented {
            Some(Ok(authenticated)) => authenticated,
            Some(Err(e)) => return Err(refuse(ErrorType::Unauthorized, &auth_refused(&e))),
            None => match &self.handshake {
                // The handshake's token is no credential once it has expired.
                Some(a) if a.expires_at.is_some_and(|t| t <= SystemTime::now()) => {
                    let expired = TokenError::Expired.to_string();
                    return Err(refuse(ErrorType::Unauthorized, &expired));
                }
                Some(a) => a.clone(),
                None => return Err(refuse(ErrorType::Unauthorized, NOT_AUTHORIZED)),
            },
        };
        self.key_deadline = None;
        if self.operations.is_running(id) {
            return Err(refuse(
                ErrorType::DuplicatedOperation,
                &format!("A subscription with the id {id} is already running on this connection"),
            ));
        }
        let max = self.realtime.limits.max_subscriptions_per_connection;
        if self.operations.count() >= max {
            return Err(refuse(
                ErrorType::MaxSubscriptionsReached,
                &format!("Max number of {max} subscriptions reached"),
            ));
        }
        let request = start_request(payload)
            .map_err(|e| refuse(ErrorType::MalformedHttpRequest, &e.to_string()))?;
        let request = with_caller(request, authenticated.caller);
        let ready = self
            .realtime
            .engine
            .prepare(request)
            .map_err(|refused| result(id, &refused))?;
        if ready.prepared().is_subscription() == Some(false) {
            return Err(refuse(
                ErrorType::Validation,
                "Only subscriptions run on the real-time endpoint; send queries and mutations to POST /graphql",
            ));
        }
        Ok((ready, authenticated.expires_at))
    }
}

/// The GraphQL request of a `start`: `payload.data` is a JSON string of `{query, variables}`.
/// (Apollo's protocol puts the request itself in `payload`; that is read too.)
fn start_request(payload: &Value) -> Result<Request, RequestError> {
    match payload.get("data") {
        Some(Value::String(data)) => parse_request(data.as_bytes()),
        Some(_) => Err(RequestError::Shape(
            "`payload.data` of a start message must be a JSON string of {query, variables}",
        )),
        None if payload.get("query").is_some() => request_from_value(payload.clone()),
        None => Err(RequestError::Shape(
            "A start message needs `payload.data`: a JSON string of {query, variables}",
        )),
    }
}

fn complete(id: &str) -> Outgoing {
    Outgoing::message(&ServerMessage::Complete { id })
}

/// The end of a subscription whose token expired.
fn expired(id: &str) -> Outgoing {
    let message = TokenError::Expired.to_string();
    ServerMessage::error(Some(id), ErrorType::Unauthorized, &message)
}

/// One result of an operation: `data` (with `errors` beside it, if any), or an `error` when
/// there is no data at all.
fn result(id: &str, response: &Response) -> Outgoing {
    if connection::failed(response) {
        Outgoing::message(&ServerMessage::Error {
            id: Some(id),
            payload: Errors {
                errors: response.errors.iter().map(error_json).collect(),
            },
        })
    } else {
        Outgoing::message(&ServerMessage::Data {
            id,
            payload: response_json(response),
        })
    }
}
