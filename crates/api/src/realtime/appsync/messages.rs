//! The messages of AppSync's real-time protocol, typed: what a client sends
//! ([`ClientMessage`]) and what the server answers ([`ServerMessage`]).

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::graphql::error::ErrorType;
use crate::realtime::connection::{ErrorEntry, Outgoing};

/// A message from the client.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// Optional: answered with `connection_ack` and a first `ka`.
    ConnectionInit {},
    /// Starts a subscription: `payload.data` is a JSON string of `{query, variables}`, and
    /// `payload.extensions.authorization` may carry the API key.
    Start {
        #[serde(default, deserialize_with = "message_id")]
        id: Option<String>,
        #[serde(default)]
        payload: Value,
    },
    Stop {
        #[serde(default, deserialize_with = "message_id")]
        id: Option<String>,
    },
    /// Apollo's protocol, whose subprotocol name AppSync's shares, ends a connection so.
    ConnectionTerminate {},
}

/// Why a text is not a [`ClientMessage`].
#[derive(Debug, PartialEq)]
pub enum Unreadable {
    /// Not a JSON object with a string `type`.
    Malformed,
    /// A `type` the protocol does not have, and the message's id.
    Unsupported { kind: String, id: Option<String> },
}

impl ClientMessage {
    pub fn parse(text: &str) -> Result<ClientMessage, Unreadable> {
        serde_json::from_str(text).map_err(|_| {
            #[derive(Deserialize)]
            struct Untyped {
                #[serde(rename = "type")]
                kind: String,
                #[serde(default, deserialize_with = "message_id")]
                id: Option<String>,
            }
            match serde_json::from_str::<Untyped>(text) {
                Ok(Untyped { kind, id }) => Unreadable::Unsupported { kind, id },
                Err(_) => Unreadable::Malformed,
            }
        })
    }
}

/// An id as clients send it: a non-empty string, or a number; anything else is no id.
fn message_id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::String(id) if !id.is_empty() => Some(id),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

/// A message from the server.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage<'a> {
    ConnectionAck {
        payload: AckPayload,
    },
    Ka,
    StartAck {
        id: &'a str,
    },
    /// An operation's result: `{data, errors}` as over HTTP.
    Data {
        id: &'a str,
        payload: Value,
    },
    /// An operation, or a message, that failed.
    Error {
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<&'a str>,
        payload: Errors,
    },
    Complete {
        id: &'a str,
    },
    /// The connection is refused as a whole.
    ConnectionError {
        payload: Errors,
    },
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AckPayload {
    pub connection_timeout_ms: u64,
}

#[derive(Debug, Serialize)]
pub struct Errors {
    pub errors: Vec<Value>,
}

impl Errors {
    pub fn one(error_type: ErrorType, message: &str) -> Errors {
        Errors {
            errors: vec![ErrorEntry::new(error_type, message).to_json()],
        }
    }
}

impl ServerMessage<'_> {
    pub fn error(id: Option<&str>, error_type: ErrorType, message: &str) -> Outgoing {
        Outgoing::message(&ServerMessage::Error {
            id,
            payload: Errors::one(error_type, message),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_messages_parse_with_their_ids() {
        let start = ClientMessage::parse(r#"{"type":"start","id":7,"payload":{"data":"{}"}}"#);
        assert!(matches!(start, Ok(ClientMessage::Start { id: Some(id), .. }) if id == "7"));
        let stop = ClientMessage::parse(r#"{"type":"stop","id":""}"#);
        assert!(matches!(stop, Ok(ClientMessage::Stop { id: None })));
        let init = ClientMessage::parse(r#"{"type":"connection_init","payload":{}}"#);
        assert!(matches!(init, Ok(ClientMessage::ConnectionInit {})));
    }

    #[test]
    fn unknown_and_malformed_messages_are_told_apart() {
        assert_eq!(
            ClientMessage::parse(r#"{"type":"subscribe","id":"a"}"#).unwrap_err(),
            Unreadable::Unsupported {
                kind: "subscribe".into(),
                id: Some("a".into())
            }
        );
        for text in ["", "[]", "{}", r#"{"type": 1}"#, "not json"] {
            assert_eq!(
                ClientMessage::parse(text).unwrap_err(),
                Unreadable::Malformed,
                "{text}"
            );
        }
    }

    #[test]
    fn server_messages_are_written_as_appsync_writes_them() {
        let text = |m: &ServerMessage| serde_json::to_value(m).expect("JSON");
        assert_eq!(text(&ServerMessage::Ka), serde_json::json!({"type": "ka"}));
        assert_eq!(
            text(&ServerMessage::ConnectionAck {
                payload: AckPayload {
                    connection_timeout_ms: 300_000
                }
            }),
            serde_json::json!({"type": "connection_ack", "payload": {"connectionTimeoutMs": 300000}})
        );
        assert_eq!(
            text(&ServerMessage::ConnectionError {
                payload: Errors::one(ErrorType::Unauthorized, "no")
            }),
            serde_json::json!({"type": "connection_error", "payload": {"errors": [
                {"errorType": "UnauthorizedException", "message": "no", "errorCode": 401}
            ]}})
        );
    }
}
