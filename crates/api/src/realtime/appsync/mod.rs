//! AppSync's real-time protocol, as AWS documents it in "Building a real-time WebSocket client":
//!
//! - the handshake ([`handshake`]) carries the authorization header as the query parameter
//!   `header` or as a second subprotocol `header-<base64url JSON>` (Amplify JS), and asks for the
//!   subprotocol `graphql-ws`;
//! - client `connection_init` (optional), server `connection_ack` with `connectionTimeoutMs`,
//!   then a `ka` now and every [`Limits::keep_alive`](super::Limits::keep_alive);
//! - client `start` with an `id` and `payload: {data: "<JSON {query, variables}>", extensions:
//!   {authorization: {...}}}`, server `start_ack` then `data` messages, or an `error`;
//! - client `stop`, server `complete`;
//! - a bad key in the handshake gets `connection_error`, a bad key in `start` an `error`, both
//!   `UnauthorizedException` with `errorCode` 401.
//!
//! The credentials (the API key, or with accounts a token in `Authorization`) may come in the
//! handshake, in each `start`, or both; the ones in `start` win. A connection whose handshake had
//! none is closed (`connection_error`, 401) unless a `start` with valid ones comes within
//! [`Limits::key_timeout`](super::Limits::key_timeout). A subscription runs with the caller of
//! its credentials, and one started with a token ends with an `error` (`UnauthorizedException`)
//! when the token expires.
//! The messages are typed in [`messages`]; one connection is a [`session::Session`].

use axum::extract::ws::WebSocketUpgrade;
use axum::response::Response;
use tokio::time::Instant;

use super::connection::{Operations, CLOSE_POLICY_VIOLATION, CLOSE_TRY_AGAIN_LATER};
use super::{Realtime, Subprotocol};
use crate::graphql::error::ErrorType;
use handshake::{HandshakeAuth, Refusal};
use session::Session;

mod handshake;
mod messages;
mod session;

pub(super) use handshake::header_protocol;

pub(super) async fn upgrade(
    realtime: Realtime,
    ws: WebSocketUpgrade,
    header: Option<String>,
) -> Response {
    let encoded = header.or_else(|| header_protocol(&ws));
    let auth = HandshakeAuth::read(&realtime, encoded.as_deref()).await;
    realtime.upgrade(
        ws,
        Subprotocol::AppSync,
        move |realtime, outbox, admitted| {
            let limits = &realtime.limits;
            let refusal = |error_type, message: String, close_code| Refusal {
                deadline: Instant::now() + limits.init_timeout,
                outbox: outbox.clone(),
                error_type,
                message,
                close_code,
            };
            if !admitted {
                let message = format!(
                    "The server is at its limit of {} WebSocket connections; try again later",
                    limits.max_connections
                );
                return Err(refusal(
                    ErrorType::LimitExceeded,
                    message,
                    CLOSE_TRY_AGAIN_LATER,
                ));
            }
            let handshake = match auth {
                HandshakeAuth::Refused(message) => {
                    return Err(refusal(
                        ErrorType::Unauthorized,
                        message,
                        CLOSE_POLICY_VIOLATION,
                    ));
                }
                HandshakeAuth::Accepted(authenticated) => Some(authenticated),
                HandshakeAuth::Absent => None,
            };
            Ok(Session {
                next_ka: Instant::now() + limits.keep_alive,
                key_deadline: handshake
                    .is_none()
                    .then(|| Instant::now() + limits.key_timeout),
                handshake,
                outbox,
                operations: Operations::default(),
                realtime,
            })
        },
    )
}
