//! Errors as AppSync writes them, so that AppSync clients read ours unchanged: the bodies of
//! requests refused before GraphQL runs (with the `x-amzn-ErrorType` header that Amplify reads),
//! and GraphQL errors with their `errorType`, `data` and `errorInfo`.

use async_graphql::{ErrorExtensionValues, ErrorExtensions, PathSegment, ServerError};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use crate::auth::AuthError;
pub use trainers_core::ErrorType;

/// The header in which AppSync names the `errorType` of a refused request.
pub const ERROR_TYPE_HEADER: &str = "x-amzn-ErrorType";

/// What a client with a missing or bad key is told, everywhere.
pub const NOT_AUTHORIZED: &str = "You are not authorized to make this call.";

/// A request refused before GraphQL runs (auth, body, route): its status, the
/// `x-amzn-ErrorType` header and `{"errors": [{"errorType", "message"}]}`.
pub fn request_error(status: StatusCode, error_type: ErrorType, message: &str) -> Response {
    let body = json!({ "errors": [{ "errorType": error_type.as_str(), "message": message }] });
    let mut response = (status, Json(body)).into_response();
    response.headers_mut().insert(
        ERROR_TYPE_HEADER,
        HeaderValue::from_static(error_type.as_str()),
    );
    response
}

/// What a client is told of credentials refused (HTTP 401, WebSocket `errorCode` 401): AppSync's
/// own message for a missing or wrong API key, as before accounts; for a token, which check
/// failed (never the token).
pub fn auth_refused(error: &AuthError) -> String {
    match error {
        AuthError::Missing | AuthError::BadKey => NOT_AUTHORIZED.to_string(),
        AuthError::Token(e) => e.to_string(),
    }
}

/// HTTP 401 for credentials refused, with [`auth_refused`]'s message.
pub fn unauthorized_by(error: &AuthError) -> Response {
    request_error(
        StatusCode::UNAUTHORIZED,
        ErrorType::Unauthorized,
        &auth_refused(error),
    )
}

/// A GraphQL error of the given type, for a resolver or a stream to return.
pub fn graphql_error(error_type: ErrorType, message: impl Into<String>) -> async_graphql::Error {
    async_graphql::Error::new(message)
        .extend_with(|_, ext| ext.set("errorType", error_type.as_str()))
}

/// A [`ServerError`] of the given type, with no place in the query (an event a subscriber
/// missed, say).
pub fn server_error(error_type: ErrorType, message: impl Into<String>) -> ServerError {
    let mut error = ServerError::new(message, None);
    let mut extensions = ErrorExtensionValues::default();
    extensions.set("errorType", error_type.as_str());
    error.extensions = Some(extensions);
    error
}

/// The `errorType` of a GraphQL error: the one a resolver set, else a validation error. Every
/// resolver sets one, so an error without one is async-graphql refusing the query or its
/// arguments and variables (an undefined variable, a value of the wrong type).
pub fn error_type(e: &ServerError) -> ErrorType {
    e.extensions
        .as_ref()
        .and_then(|ext| ext.get("errorType"))
        .and_then(|v| match v {
            async_graphql::Value::String(s) => ErrorType::from_name(s),
            _ => None,
        })
        .unwrap_or(ErrorType::Validation)
}

/// One GraphQL error as AppSync writes it.
pub fn error_json(e: &ServerError) -> Value {
    let path = if e.path.is_empty() {
        Value::Null
    } else {
        Value::Array(
            e.path
                .iter()
                .map(|seg| match seg {
                    PathSegment::Field(name) => Value::String(name.clone()),
                    PathSegment::Index(i) => Value::from(*i),
                })
                .collect(),
        )
    };
    let locations = if e.locations.is_empty() {
        Value::Null
    } else {
        Value::Array(
            e.locations
                .iter()
                .map(|p| json!({ "line": p.line, "column": p.column, "sourceName": null }))
                .collect(),
        )
    };
    let mut obj = Map::new();
    obj.insert("path".into(), path);
    obj.insert("data".into(), Value::Null);
    obj.insert("errorType".into(), Value::from(error_type(e).as_str()));
    obj.insert("errorInfo".into(), Value::Null);
    obj.insert("locations".into(), locations);
    obj.insert("message".into(), Value::String(e.message.clone()));
    Value::Object(obj)
}

/// The most errors one response lists; the rest are counted in one more error.
pub const MAX_ERRORS: usize = 100;

/// A GraphQL result as AppSync writes it: `data`, and `errors` only when there are some (at most
/// [`MAX_ERRORS`] of them, and a last one that counts those left out).
pub fn response_json(resp: &async_graphql::Response) -> Value {
    let data = serde_json::to_value(&resp.data).unwrap_or(Value::Null);
    let mut obj = Map::new();
    obj.insert("data".into(), data);
    if !resp.errors.is_empty() {
        let mut errors: Vec<Value> = resp
            .errors
            .iter()
            .take(MAX_ERRORS)
            .map(error_json)
            .collect();
        let left_out = resp.errors.len().saturating_sub(MAX_ERRORS);
        if left_out > 0 {
            let more = server_error(
                ErrorType::Validation,
                format!("{left_out} more errors were left out of this response"),
            );
            errors.push(error_json(&more));
        }
        obj.insert("errors".into(), Value::Array(errors));
    }
    Value::Object(obj)
}

/// The bytes of [`response_json`]'s answer. A response without errors is written straight
/// from its data, without building the JSON tree first (a page's 20 trainers were converted
/// twice); the bytes are the same.
pub fn response_bytes(resp: &async_graphql::Response) -> Vec<u8> {
    if resp.errors.is_empty() {
        let mut out = Vec::with_capacity(512);
        out.extend_from_slice(b"{\"data\":");
        if serde_json::to_writer(&mut out, &resp.data).is_ok() {
            out.push(b'}');
            return out;
        }
    }
    serde_json::to_vec(&response_json(resp)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_bytes_are_those_of_the_response_json() {
        let data = async_graphql::Value::from_json(serde_json::json!({
            "b": {"items": [{"id": "1", "firstName": "Zoë \"Z\" \\ \u{1}\n", "age": 41, "owner": null}],
                  "nextToken": "eyJ+/="},
            "a": null,
            "n": [1, -2, 2147483647, 1.5, true],
        }))
        .expect("a value");
        let mut data = data;
        if let async_graphql::Value::Object(fields) = &mut data {
            fields.insert(
                async_graphql::Name::new("e"),
                async_graphql::Value::Enum(async_graphql::Name::new("BODYBUILDING")),
            );
        }
        let ok = async_graphql::Response::new(data.clone());
        let bytes = response_bytes(&ok);
        assert_eq!(
            bytes,
            serde_json::to_vec(&response_json(&ok)).expect("JSON")
        );
        assert!(String::from_utf8_lossy(&bytes).starts_with("{\"data\":{\"b\":"));
        let mut failed = async_graphql::Response::new(data);
        failed.errors = vec![server_error(ErrorType::Validation, "no")];
        assert_eq!(
            response_bytes(&failed),
            serde_json::to_vec(&response_json(&failed)).expect("JSON")
        );
    }

    #[test]
    fn a_refused_request_names_its_error_type_in_body_and_header() {
        let response = request_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorType::MalformedHttpRequest,
            "too large",
        );
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(
            response.headers()[ERROR_TYPE_HEADER],
            "MalformedHttpRequestException"
        );
    }

    #[test]
    fn an_error_without_a_type_is_a_validation_error() {
        let untyped = ServerError::new("Unknown field", None);
        assert_eq!(error_type(&untyped), ErrorType::Validation);
        let typed = server_error(ErrorType::SubscriberTooSlow, "behind");
        assert_eq!(error_type(&typed), ErrorType::SubscriberTooSlow);
        assert_eq!(error_json(&typed)["errorType"], "SubscriberTooSlow");
        assert_eq!(error_json(&typed)["path"], Value::Null);
    }

    #[test]
    fn a_response_lists_at_most_max_errors_and_counts_the_rest() {
        let errors = (0..MAX_ERRORS + 7)
            .map(|n| ServerError::new(format!("e{n}"), None))
            .collect();
        let json = response_json(&async_graphql::Response::from_errors(errors));
        let listed = json["errors"].as_array().expect("errors");
        assert_eq!(listed.len(), MAX_ERRORS + 1);
        assert_eq!(
            listed[MAX_ERRORS]["message"],
            "7 more errors were left out of this response"
        );
    }

    #[test]
    fn every_error_type_reads_back_from_its_name() {
        for t in ErrorType::ALL {
            assert_eq!(ErrorType::from_name(t.as_str()), Some(t));
        }
        assert_eq!(ErrorType::from_name("Nope"), None);
    }
}
