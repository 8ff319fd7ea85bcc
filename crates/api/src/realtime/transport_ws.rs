//! The GraphQL over WebSocket protocol (subprotocol `graphql-transport-ws`), as npm's
//! `graphql-ws` speaks it: `connection_init` with the API key in its payload
//! (`{"x-api-key": "..."}`), `connection_ack`, `ping`/`pong`, `subscribe`, `next`, `error`,
//! `complete`, and the protocol's close codes (4403 for a bad key). Queries and mutations run
//! too, as the protocol allows.

use async_graphql::Response;
use axum::extract::ws::{WebSocket, WebSocketUpgrade};
use axum::response::Response as HttpResponse;
use futures::stream::SplitStream;
use futures::StreamExt;
use serde_json::{json, Value};

use super::connection::{
    self, classify, configure, header, Framing, Incoming, Operations, Outbox, Outgoing, Started,
    CLOSE_POLICY_VIOLATION, CLOSE_TRY_AGAIN_LATER,
};
use super::{Realtime, TRANSPORT_WS_PROTOCOL};
use crate::appsync::{error_json, response_json};
use crate::http::request_from_value;

const CLOSE_BAD_REQUEST: u16 = 4400;
const CLOSE_UNAUTHORIZED: u16 = 4401;
const CLOSE_FORBIDDEN: u16 = 4403;
const CLOSE_INIT_TIMEOUT: u16 = 4408;
const CLOSE_DUPLICATE: u16 = 4409;
const CLOSE_TOO_MANY_INITS: u16 = 4429;

const FRAMING: Framing = Framing { result, complete };

pub(super) fn upgrade(realtime: Realtime, ws: WebSocketUpgrade) -> HttpResponse {
    let permit = realtime.admit();
    configure(ws)
        .protocols([TRANSPORT_WS_PROTOCOL])
        .on_upgrade(move |socket| async move {
            let limits = realtime.limits.clone();
            let too_slow = vec![Outgoing::Close(
                CLOSE_POLICY_VIOLATION,
                "Subscriber too slow: it did not read its messages fast enough".into(),
            )];
            match permit {
                Some(permit) => {
                    connection::run(socket, &limits, too_slow, |incoming, outbox| {
                        serve(realtime, incoming, outbox)
                    })
                    .await;
                    drop(permit);
                }
                None => {
                    let reason = format!(
                        "Too many connections: the server is at its limit of {}",
                        limits.max_connections
                    );
                    connection::run(socket, &limits, Vec::new(), |_, outbox| async move {
                        outbox
                            .send(Outgoing::Close(CLOSE_TRY_AGAIN_LATER, reason))
                            .await;
                    })
                    .await
                }
            }
        })
}

async fn serve(realtime: Realtime, mut incoming: SplitStream<WebSocket>, outbox: Outbox) {
    let init_deadline = tokio::time::sleep(realtime.limits.init_timeout);
    tokio::pin!(init_deadline);
    let mut session = Session {
        realtime,
        outbox,
        acknowledged: false,
        operations: Operations::new(),
    };
    loop {
        let message = tokio::select! {
            message = incoming.next() => message,
            () = &mut init_deadline, if !session.acknowledged => {
                session.close(CLOSE_INIT_TIMEOUT, "Connection initialisation timeout").await;
                return;
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
    outbox: Outbox,
    acknowledged: bool,
    operations: Operations,
}

impl Session {
    /// Answers one message; `false` ends the connection.
    async fn handle(&mut self, text: &str) -> bool {
        let Ok(mut message) = serde_json::from_str::<Value>(text) else {
            return self
                .close(CLOSE_BAD_REQUEST, "Invalid message: not JSON")
                .await;
        };
        let payload = message.get_mut("payload").map(Value::take);
        let id = message["id"].as_str().filter(|id| !id.is_empty());
        match message["type"].as_str() {
            Some("connection_init") => self.init(payload.unwrap_or_default()).await,
            Some("ping") => {
                self.outbox
                    .send(Outgoing::json(json!({"type": "pong"})))
                    .await
            }
            Some("pong") => true,
            Some("subscribe") => match (id, payload) {
                (Some(id), Some(payload)) => self.subscribe(id.to_string(), payload).await,
                _ => {
                    let reason = "Invalid message: subscribe needs an id and a payload";
                    self.close(CLOSE_BAD_REQUEST, reason).await
                }
            },
            Some("complete") => {
                if let Some(id) = id {
                    self.operations.stop(id);
                }
                true
            }
            _ => {
                let reason = "Invalid message: unknown or missing type";
                self.close(CLOSE_BAD_REQUEST, reason).await
            }
        }
    }

    async fn init(&mut self, payload: Value) -> bool {
        if self.acknowledged {
            return self
                .close(CLOSE_TOO_MANY_INITS, "Too many initialisation requests")
                .await;
        }
        let key = header(&payload, "x-api-key");
        if !key.is_some_and(|k| self.realtime.accepts(k)) {
            return self.close(CLOSE_FORBIDDEN, "Forbidden").await;
        }
        self.acknowledged = true;
        self.outbox
            .send(Outgoing::json(json!({"type": "connection_ack"})))
            .await
    }

    async fn subscribe(&mut self, id: String, payload: Value) -> bool {
        if !self.acknowledged {
            return self.close(CLOSE_UNAUTHORIZED, "Unauthorized").await;
        }
        if self.operations.is_running(&id) {
            let reason = format!("Subscriber for {id} already exists");
            return self.close(CLOSE_DUPLICATE, &reason).await;
        }
        let max = self.realtime.limits.max_subscriptions_per_connection;
        if self.operations.count() >= max {
            let message = format!("Max number of {max} subscriptions reached");
            return self
                .outbox
                .send(error(&id, "MaxSubscriptionsReachedError", &message))
                .await;
        }
        let request = match request_from_value(payload) {
            Ok(request) => request,
            Err(message) => {
                return self
                    .outbox
                    .send(error(&id, crate::appsync::MALFORMED, &message))
                    .await
            }
        };
        let subscription = connection::is_subscription(&request) == Some(true);
        match self
            .realtime
            .fanout
            .start(&self.realtime.schema, request, subscription)
        {
            Started::Failed(response) => self.outbox.send(result(&id, &response)).await,
            Started::Running(first, rest) => {
                let task =
                    connection::forward(id.clone(), first, rest, self.outbox.clone(), FRAMING);
                self.operations.insert(id, task);
                true
            }
        }
    }

    /// Closes the connection with a code of the protocol; always `false`.
    async fn close(&self, code: u16, reason: &str) -> bool {
        self.outbox
            .send(Outgoing::Close(code, reason.to_string()))
            .await;
        false
    }
}

fn complete(id: &str) -> Outgoing {
    Outgoing::json(json!({"type": "complete", "id": id}))
}

fn error(id: &str, error_type: &str, message: &str) -> Outgoing {
    Outgoing::json(json!({
        "type": "error",
        "id": id,
        "payload": [{"errorType": error_type, "message": message}]
    }))
}

/// `next` with the result, or `error` when there is no data at all.
fn result(id: &str, response: &Response) -> Outgoing {
    if connection::failed(response) {
        let errors: Vec<Value> = response.errors.iter().map(error_json).collect();
        Outgoing::json(json!({"type": "error", "id": id, "payload": errors}))
    } else {
        Outgoing::json(json!({"type": "next", "id": id, "payload": response_json(response)}))
    }
}
