//! The handshake of AppSync's protocol: the authorization header arrives as the query parameter
//! `header` (base64 JSON such as `{"host": ..., "x-api-key": ...}`) or as a second subprotocol
//! `header-<base64url JSON>` (as Amplify JS sends it). A connection refused as a whole is
//! answered with `connection_error`.

use axum::extract::ws::WebSocketUpgrade;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use serde_json::Value;
use tokio::time::Instant;

use super::messages::{Errors, ServerMessage};
use crate::auth::{AuthError, Authenticated, API_KEY_HEADER, AUTHORIZATION_HEADER};
use crate::graphql::error::{auth_refused, ErrorType};
use crate::realtime::connection::{header, Outbox, Outgoing, Protocol};
use crate::realtime::Realtime;

/// The authorization of the handshake.
pub enum HandshakeAuth {
    /// No credentials: each `start` must carry them.
    Absent,
    Accepted(Authenticated),
    Refused(String),
}

impl HandshakeAuth {
    pub async fn read(realtime: &Realtime, encoded: Option<&str>) -> Self {
        let Some(encoded) = encoded else {
            return HandshakeAuth::Absent;
        };
        let Some(header_json) = decode_header(encoded) else {
            return HandshakeAuth::Refused(
                "The authorization header of the handshake is not base64-encoded JSON".into(),
            );
        };
        match credentials(realtime, &header_json).await {
            None => HandshakeAuth::Absent,
            Some(Ok(authenticated)) => HandshakeAuth::Accepted(authenticated),
            Some(Err(e)) => HandshakeAuth::Refused(auth_refused(&e)),
        }
    }
}

/// The caller that a header object (the handshake's, or a `start`'s `authorization`) presents:
/// `None` when it presents no credentials this server reads (an API key, or with accounts a
/// token in `Authorization`).
pub async fn credentials(
    realtime: &Realtime,
    header_json: &Value,
) -> Option<Result<Authenticated, AuthError>> {
    let api_key = header(header_json, API_KEY_HEADER);
    let authorization = header(header_json, AUTHORIZATION_HEADER);
    if !realtime.auth.presented(api_key, authorization) {
        return None;
    }
    Some(realtime.auth.caller(api_key, authorization).await)
}

/// The header of an Amplify-style handshake, from its subprotocol `header-<base64url>`.
pub fn header_protocol(ws: &WebSocketUpgrade) -> Option<String> {
    ws.requested_protocols()
        .filter_map(|p| p.to_str().ok())
        .find_map(|p| p.strip_prefix("header-"))
        .map(str::to_string)
}

/// Base64 or base64url, padded or not, of a JSON object.
pub fn decode_header(encoded: &str) -> Option<Value> {
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

/// A connection refused as a whole: it answers the client's first message (its
/// `connection_init`, normally) with `connection_error`, then closes. Closing at once could close
/// the connection before the client has sent it, and some clients (gql) then report a lost
/// connection, not the error.
pub struct Refusal {
    pub outbox: Outbox,
    pub error_type: ErrorType,
    pub message: String,
    pub close_code: u16,
    /// When to refuse anyway, if the client sends nothing.
    pub deadline: Instant,
}

impl Refusal {
    async fn refuse(&self) -> bool {
        refuse_connection(
            &self.outbox,
            self.error_type,
            &self.message,
            self.close_code,
        )
        .await
    }
}

/// Ends a connection as AppSync does: `connection_error` with one error, then a close frame
/// whose reason is the error type. Always `false`: the connection is over.
pub async fn refuse_connection(
    outbox: &Outbox,
    error_type: ErrorType,
    message: &str,
    close_code: u16,
) -> bool {
    let refusal = Outgoing::message(&ServerMessage::ConnectionError {
        payload: Errors::one(error_type, message),
    });
    if outbox.send(refusal).await {
        outbox.close(close_code, error_type.as_str()).await;
    }
    false
}

impl Protocol for Refusal {
    fn too_slow(&self) -> Vec<Outgoing> {
        Vec::new()
    }

    fn next_timer(&self) -> Option<Instant> {
        Some(self.deadline)
    }

    async fn on_timer(&mut self) -> bool {
        self.refuse().await
    }

    async fn on_message(&mut self, _text: &str) -> bool {
        self.refuse().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_decode_from_base64_and_base64url_padded_or_not() {
        let header = serde_json::json!({"host": "h", "x-api-key": "da2-k?>"});
        let text = header.to_string();
        for encoded in [
            base64::engine::general_purpose::STANDARD.encode(&text),
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&text),
            // `+` read as a space from an unencoded query string.
            base64::engine::general_purpose::STANDARD
                .encode(&text)
                .replace('+', " "),
        ] {
            assert_eq!(decode_header(&encoded), Some(header.clone()), "{encoded}");
        }
    }

    #[test]
    fn what_is_not_base64_json_of_an_object_is_no_header() {
        for encoded in ["%%%", "bm90IGpzb24", "WzEsMl0"] {
            assert_eq!(decode_header(encoded), None, "{encoded}");
        }
    }
}
