//! The GraphQL over WebSocket protocol (subprotocol `graphql-transport-ws`), as npm's
//! `graphql-ws` speaks it: `connection_init` with the credentials in its payload
//! (`{"x-api-key": "..."}`, or with accounts `{"Authorization": "<JWT>"}`), `connection_ack`,
//! `ping`/`pong`, `subscribe`, `next`, `error`, `complete`, and the protocol's close codes (4403
//! for refused credentials, the reason saying why). Queries and mutations run too, as the
//! protocol allows, with the connection's caller. An operation of a connection signed in with a
//! token ends with an `error` (`UnauthorizedException`) when the token expires; later ones are
//! refused so.

use std::time::SystemTime;

use async_graphql::Response;
use axum::extract::ws::WebSocketUpgrade;
use axum::response::Response as HttpResponse;
use serde_json::Value;
use tokio::time::Instant;

use super::connection::{
    self, header, ErrorEntry, Framing, Operations, Outbox, Outgoing, Protocol, Started,
    CLOSE_POLICY_VIOLATION, CLOSE_TRY_AGAIN_LATER,
};
use super::{Realtime, Subprotocol};
use crate::auth::{Authenticated, TokenError, API_KEY_HEADER, AUTHORIZATION_HEADER};
use crate::graphql::error::{auth_refused, error_json, response_json, ErrorType};
use crate::graphql::request::{request_from_value, with_caller};
use messages::{ClientMessage, ServerMessage};

mod messages;

const CLOSE_BAD_REQUEST: u16 = 4400;
const CLOSE_UNAUTHORIZED: u16 = 4401;
const CLOSE_FORBIDDEN: u16 = 4403;
const CLOSE_INIT_TIMEOUT: u16 = 4408;
const CLOSE_DUPLICATE: u16 = 4409;
const CLOSE_TOO_MANY_INITS: u16 = 4429;

const FRAMING: Framing = Framing {
    result,
    complete,
    expired,
};

pub(super) fn upgrade(realtime: Realtime, ws: WebSocketUpgrade) -> HttpResponse {
    realtime.upgrade(
        ws,
        Subprotocol::TransportWs,
        |realtime, outbox, admitted| {
            if !admitted {
                let reason = format!(
                    "Too many connections: the server is at its limit of {}",
                    realtime.limits.max_connections
                );
                return Err(Full { outbox, reason });
            }
            Ok(Session {
                init_deadline: Instant::now() + realtime.limits.init_timeout,
                realtime,
                outbox,
                caller: None,
                operations: Operations::default(),
            })
        },
    )
}

/// A connection over the cap: closed at once with 1013 (try again later).
struct Full {
    outbox: Outbox,
    reason: String,
}

impl Protocol for Full {
    fn too_slow(&self) -> Vec<Outgoing> {
        Vec::new()
    }

    fn next_timer(&self) -> Option<Instant> {
        Some(Instant::now())
    }

    async fn on_timer(&mut self) -> bool {
        self.outbox.close(CLOSE_TRY_AGAIN_LATER, &self.reason).await
    }

    async fn on_message(&mut self, _text: &str) -> bool {
        self.on_timer().await
    }
}

struct Session {
    realtime: Realtime,
    outbox: Outbox,
    /// Who `connection_init` named: `Some` once acknowledged.
    caller: Option<Authenticated>,
    operations: Operations,
    init_deadline: Instant,
}

impl Protocol for Session {
    fn too_slow(&self) -> Vec<Outgoing> {
        vec![Outgoing::Close(
            CLOSE_POLICY_VIOLATION,
            "Subscriber too slow: it did not read its messages fast enough".into(),
        )]
    }

    fn next_timer(&self) -> Option<Instant> {
        self.caller.is_none().then_some(self.init_deadline)
    }

    async fn on_timer(&mut self) -> bool {
        self.outbox
            .close(CLOSE_INIT_TIMEOUT, "Connection initialisation timeout")
            .await
    }

    async fn on_message(&mut self, text: &str) -> bool {
        let message = match ClientMessage::parse(text) {
            Ok(message) => message,
            Err(reason) => return self.outbox.close(CLOSE_BAD_REQUEST, reason).await,
        };
        match message {
            ClientMessage::ConnectionInit { payload } => self.init(&payload).await,
            ClientMessage::Ping {} => {
                self.outbox
                    .send(Outgoing::message(&ServerMessage::Pong))
                    .await
            }
            ClientMessage::Pong {} => true,
            ClientMessage::Subscribe { id, payload } => self.subscribe(id, payload).await,
            ClientMessage::Complete { id } => {
                self.operations.stop(&id);
                true
            }
        }
    }
}

impl Session {
    async fn init(&mut self, payload: &Value) -> bool {
        if self.caller.is_some() {
            return self
                .outbox
                .close(CLOSE_TOO_MANY_INITS, "Too many initialisation requests")
                .await;
        }
        let api_key = header(payload, API_KEY_HEADER);
        let authorization = header(payload, AUTHORIZATION_HEADER);
        let refused = match self.realtime.auth.caller(api_key, authorization).await {
            Ok(authenticated) => {
                self.caller = Some(authenticated);
                None
            }
            // As before accounts: a missing or wrong key is just "Forbidden".
            Err(e @ crate::auth::AuthError::Token(_)) => {
                Some(format!("Forbidden: {}", auth_refused(&e)))
            }
            Err(_) => Some("Forbidden".to_string()),
        };
        if let Some(mut reason) = refused {
            // A close frame's reason holds at most 123 bytes.
            while reason.len() > 123 {
                reason.pop();
            }
            return self.outbox.close(CLOSE_FORBIDDEN, &reason).await;
        }
        self.outbox
            .send(Outgoing::message(&ServerMessage::ConnectionAck))
            .await
    }

    async fn subscribe(&mut self, id: String, payload: Value) -> bool {
        let Some(caller) = &self.caller else {
            return self.outbox.close(CLOSE_UNAUTHORIZED, "Unauthorized").await;
        };
        let expires_at = caller.expires_at;
        if expires_at.is_some_and(|t| t <= SystemTime::now()) {
            return self.outbox.send(expired(&id)).await;
        }
        let caller = caller.caller.clone();
        if self.operations.is_running(&id) {
            let reason = format!("Subscriber for {id} already exists");
            return self.outbox.close(CLOSE_DUPLICATE, &reason).await;
        }
        let max = self.realtime.limits.max_subscriptions_per_connection;
        if self.operations.count() >= max {
            let message = format!("Max number of {max} subscriptions reached");
            return self
                .outbox
                .send(error(&id, ErrorType::MaxSubscriptionsReached, &message))
                .await;
        }
        let request = match request_from_value(payload) {
            Ok(request) => with_caller(request, caller),
            Err(e) => {
                let message = e.to_string();
                return self
                    .outbox
                    .send(error(&id, ErrorType::MalformedHttpRequest, &message))
                    .await;
            }
        };
        let ready = match self.realtime.engine.prepare(request) {
            Ok(ready) => ready,
            Err(refused) => return self.outbox.send(result(&id, &refused)).await,
        };
        let subscription = ready.prepared().is_subscription() == Some(true);
        match self
            .realtime
            .fanout
            .start(&self.realtime.engine, ready, subscription)
        {
            Started::Failed(response) => self.outbox.send(result(&id, &response)).await,
            Started::Running(first, rest) => {
                let outbox = self.outbox.clone();
                let task =
                    connection::forward(id.clone(), first, rest, outbox, FRAMING, expires_at);
                self.operations.insert(id, task);
                true
            }
        }
    }
}

fn complete(id: &str) -> Outgoing {
    Outgoing::message(&ServerMessage::Complete { id })
}

/// The end of an operation whose token expired.
fn expired(id: &str) -> Outgoing {
    error(
        id,
        ErrorType::Unauthorized,
        &TokenError::Expired.to_string(),
    )
}

fn error(id: &str, error_type: ErrorType, message: &str) -> Outgoing {
    Outgoing::message(&ServerMessage::Error {
        id,
        payload: vec![ErrorEntry::new(error_type, message).to_json()],
    })
}

/// `next` with the result, or `error` when there is no data at all.
fn result(id: &str, response: &Response) -> Outgoing {
    if connection::failed(response) {
        Outgoing::message(&ServerMessage::Error {
            id,
            payload: response.errors.iter().map(error_json).collect(),
        })
    } else {
        Outgoing::message(&ServerMessage::Next {
            id,
            payload: response_json(response),
        })
    }
}
