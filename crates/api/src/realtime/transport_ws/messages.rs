//! The messages of the GraphQL over WebSocket protocol (`graphql-transport-ws`), typed.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A message from the client.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    ConnectionInit {
        #[serde(default)]
        payload: Value,
    },
    Ping {},
    Pong {},
    Subscribe {
        id: String,
        payload: Value,
    },
    /// The client stops an operation (an empty or missing id stops none).
    Complete {
        #[serde(default)]
        id: String,
    },
}

const BAD_SUBSCRIBE: &str = "Invalid message: subscribe needs an id and a payload";

impl ClientMessage {
    /// The message, or the reason to close the connection with 4400.
    pub fn parse(text: &str) -> Result<ClientMessage, &'static str> {
        let value: Value = serde_json::from_str(text).map_err(|_| "Invalid message: not JSON")?;
        let kind = value.get("type").and_then(Value::as_str);
        let message = serde_json::from_value(value.clone()).map_err(|_| match kind {
            Some("subscribe") => BAD_SUBSCRIBE,
            _ => "Invalid message: unknown or missing type",
        })?;
        match message {
            ClientMessage::Subscribe { ref id, .. } if id.is_empty() => Err(BAD_SUBSCRIBE),
            message => Ok(message),
        }
    }
}

/// A message from the server.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage<'a> {
    ConnectionAck,
    Pong,
    /// An operation's result: `{data, errors}` as over HTTP.
    Next {
        id: &'a str,
        payload: Value,
    },
    /// An operation that failed as a whole: its errors.
    Error {
        id: &'a str,
        payload: Vec<Value>,
    },
    Complete {
        id: &'a str,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_bad_message_has_its_reason() {
        let reason = |text| ClientMessage::parse(text).unwrap_err();
        assert_eq!(reason("{"), "Invalid message: not JSON");
        assert_eq!(
            reason(r#"{"type":"subscribe","id":"1"}"#),
            "Invalid message: subscribe needs an id and a payload"
        );
        assert_eq!(
            reason(r#"{"type":"start"}"#),
            "Invalid message: unknown or missing type"
        );
        assert_eq!(
            reason(r#"{"id":"1"}"#),
            "Invalid message: unknown or missing type"
        );
        assert_eq!(
            reason(r#"{"type":"subscribe","id":"","payload":{}}"#),
            BAD_SUBSCRIBE
        );
    }

    #[test]
    fn messages_read_and_write_as_the_protocol_has_them() {
        assert!(matches!(
            ClientMessage::parse(r#"{"type":"connection_init"}"#),
            Ok(ClientMessage::ConnectionInit {
                payload: Value::Null
            })
        ));
        assert!(matches!(
            ClientMessage::parse(r#"{"type":"subscribe","id":"a","payload":{"query":"{ a }"}}"#),
            Ok(ClientMessage::Subscribe { .. })
        ));
        assert_eq!(
            serde_json::to_value(ServerMessage::Complete { id: "a" }).expect("JSON"),
            serde_json::json!({"type": "complete", "id": "a"})
        );
        assert_eq!(
            serde_json::to_value(ServerMessage::ConnectionAck).expect("JSON"),
            serde_json::json!({"type": "connection_ack"})
        );
    }
}
