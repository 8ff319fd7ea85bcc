//! Responses in the shape AppSync gives them, so that AppSync clients read ours unchanged.

use async_graphql::{PathSegment, ServerError};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

pub const UNAUTHORIZED: &str = "UnauthorizedException";
pub const MALFORMED: &str = "MalformedHttpRequestException";
pub const VALIDATION: &str = "ValidationError";
pub const INTERNAL: &str = "InternalFailure";

/// An error before GraphQL runs (auth, body): its status and `{"errors": [...]}`.
pub fn request_error(status: StatusCode, error_type: &str, message: &str) -> Response {
    let body = json!({ "errors": [{ "errorType": error_type, "message": message }] });
    (status, Json(body)).into_response()
}

pub fn unauthorized() -> Response {
    request_error(
        StatusCode::UNAUTHORIZED,
        UNAUTHORIZED,
        "You are not authorized to make this call.",
    )
}

/// The `errorType` of a GraphQL error: the one a resolver set, else a validation error. Every
/// resolver sets one, so an error without one is async-graphql refusing the query or its
/// arguments and variables (an undefined variable, a value of the wrong type).
pub fn error_type(e: &ServerError) -> &str {
    let set = e
        .extensions
        .as_ref()
        .and_then(|ext| ext.get("errorType"))
        .and_then(|v| match v {
            async_graphql::Value::String(s) => Some(s.as_str()),
            _ => None,
        });
    set.unwrap_or(VALIDATION)
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
    obj.insert("errorType".into(), Value::String(error_type(e).to_string()));
    obj.insert("errorInfo".into(), Value::Null);
    obj.insert("locations".into(), locations);
    obj.insert("message".into(), Value::String(e.message.clone()));
    Value::Object(obj)
}

/// A GraphQL result as AppSync writes it: `data`, and `errors` only when there are some.
pub fn response_json(resp: &async_graphql::Response) -> Value {
    let data = serde_json::to_value(&resp.data).unwrap_or(Value::Null);
    let mut obj = Map::new();
    obj.insert("data".into(), data);
    if !resp.errors.is_empty() {
        obj.insert(
            "errors".into(),
            Value::Array(resp.errors.iter().map(error_json).collect()),
        );
    }
    Value::Object(obj)
}
