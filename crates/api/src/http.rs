//! The HTTP endpoint: `POST /graphql` with AppSync's status codes and error bodies.

use std::sync::Arc;
use std::time::Instant;

use async_graphql::Variables;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde_json::Value;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::CorsLayer;
use trainers_core::TrainerService;

use crate::appsync::{self, MALFORMED};
use crate::graphql::{build_schema, TrainersSchema};
use crate::keys::KeyRing;
use crate::limits::OperationLabel;
use crate::realtime::{self, Realtime};

/// The largest request body accepted, as on AppSync.
pub(crate) const MAX_BODY_BYTES: usize = 1024 * 1024;

#[derive(Clone)]
struct AppState {
    schema: TrainersSchema,
    keys: Arc<KeyRing>,
}

/// The whole API: every route, with auth, limits and panic safety.
pub fn router(service: TrainerService, keys: Arc<KeyRing>) -> Router {
    router_with_limits(service, keys, realtime::Limits::default())
}

/// As [`router`], with the given limits on WebSocket clients.
pub fn router_with_limits(
    service: TrainerService,
    keys: Arc<KeyRing>,
    realtime_limits: realtime::Limits,
) -> Router {
    let state = AppState {
        schema: build_schema(service),
        keys,
    };
    let realtime = Realtime::new(state.schema.clone(), state.keys.clone(), realtime_limits);
    Router::new()
        .route("/graphql", post(graphql))
        .with_state(state)
        .merge(realtime::routes(realtime))
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("a request handler panicked");
            appsync::request_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                appsync::INTERNAL,
                "An internal error occurred",
            )
        }))
        .layer(CorsLayer::permissive())
}

/// The API key of a request, from the `x-api-key` header.
fn api_key(headers: &HeaderMap) -> Option<&str> {
    headers.get("x-api-key").and_then(|v| v.to_str().ok())
}

async fn graphql(State(app): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let started = Instant::now();
    let label = OperationLabel::default();
    let (response, error_type) = answer(&app, &headers, body, &label).await;
    tracing::info!(
        operation = label.get().as_deref().unwrap_or("-"),
        status = response.status().as_u16(),
        error_type = error_type.as_deref().unwrap_or("-"),
        ms = started.elapsed().as_secs_f64() * 1000.0,
        "graphql"
    );
    response
}

async fn answer(
    app: &AppState,
    headers: &HeaderMap,
    body: Body,
    label: &OperationLabel,
) -> (Response, Option<String>) {
    if !api_key(headers).is_some_and(|k| app.keys.accepts(k)) {
        return (
            appsync::unauthorized(),
            Some(appsync::UNAUTHORIZED.to_string()),
        );
    }
    let malformed = |status, message: &str| {
        (
            appsync::request_error(status, MALFORMED, message),
            Some(MALFORMED.to_string()),
        )
    };
    let bytes = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            return malformed(
                StatusCode::PAYLOAD_TOO_LARGE,
                "The request body is larger than the limit of 1 MiB",
            )
        }
        Err(_) => {
            return malformed(
                StatusCode::BAD_REQUEST,
                "The request body could not be read",
            )
        }
    };
    let request = match parse_request(&bytes) {
        Ok(r) => r.data(label.clone()),
        Err(message) => return malformed(StatusCode::BAD_REQUEST, &message),
    };
    let response = app.schema.execute(request).await;
    let error_type = response
        .errors
        .first()
        .map(|e| appsync::error_type(e).to_string());
    (
        (StatusCode::OK, Json(appsync::response_json(&response))).into_response(),
        error_type,
    )
}

/// Reads `{"query", "variables", "operationName"}`, saying what is wrong when it can't.
pub(crate) fn parse_request(bytes: &[u8]) -> Result<async_graphql::Request, String> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err("The request body is empty: send a JSON object with a `query` string".into());
    }
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| format!("The request body is not valid JSON: {e}"))?;
    request_from_value(value)
}

/// Reads `{"query", "variables", "operationName"}` from JSON already parsed (a WebSocket message).
pub(crate) fn request_from_value(value: Value) -> Result<async_graphql::Request, String> {
    let Value::Object(mut obj) = value else {
        return Err("The request body must be a JSON object with a `query` string".into());
    };
    let query = match obj.remove("query") {
        None | Some(Value::Null) => return Err("Invalid request, `query` can't be null.".into()),
        Some(Value::String(q)) => q,
        Some(_) => return Err("Invalid request, `query` must be a string".into()),
    };
    let mut request = async_graphql::Request::new(query);
    match obj.remove("variables") {
        None | Some(Value::Null) => {}
        Some(v @ Value::Object(_)) => request = request.variables(Variables::from_json(v)),
        Some(_) => return Err("Invalid request, `variables` must be a JSON object".into()),
    }
    match obj.remove("operationName") {
        None | Some(Value::Null) => {}
        Some(Value::String(name)) => request = request.operation_name(name),
        Some(_) => return Err("Invalid request, `operationName` must be a string".into()),
    }
    Ok(request)
}
