//! The routes: `POST /graphql` with AppSync's status codes and error bodies, the WebSocket
//! endpoints of [`realtime`], and AppSync's JSON error shape for everything else (an unknown path,
//! a wrong method).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{FromRef, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::CorsLayer;
use tower_http::trace::TraceLayer;

use crate::error::{self, request_error, ErrorType};
use crate::explorer;
use crate::keys::KeyRing;
use crate::limits::OperationLabel;
use crate::ops::{self, Health};
use crate::realtime::{self, Realtime};
use crate::request::{parse_request, MAX_BODY_BYTES};
use crate::schema::TrainersSchema;

/// The largest response body, as on AppSync.
pub const MAX_RESPONSE_BYTES: usize = 5 * 1024 * 1024;

/// How long a request may take, from its head to its answer (the body's arrival included), as
/// AppSync allows.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What the routes share; cloned for every request, so one reference count.
#[derive(Clone)]
struct AppState(Arc<Shared>);

struct Shared {
    schema: TrainersSchema,
    keys: Arc<KeyRing>,
    realtime: Realtime,
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl FromRef<AppState> for Realtime {
    fn from_ref(app: &AppState) -> Realtime {
        app.realtime.clone()
    }
}

/// Every route of the API, with auth, limits and panic safety.
pub fn router(
    schema: TrainersSchema,
    keys: Arc<KeyRing>,
    realtime: Realtime,
    health: Health,
) -> Router {
    let state = AppState(Arc::new(Shared {
        schema,
        keys,
        realtime,
    }));
    let wrong_method = || async { wrong_method() };
    let router = Router::new()
        .route(
            "/graphql",
            post(graphql)
                .get(realtime::on_graphql)
                .fallback(wrong_method),
        )
        .route(
            "/graphql/realtime",
            get(realtime::on_realtime).fallback(wrong_method),
        )
        .route("/", get(explorer::page))
        .with_state(state)
        .merge(ops::routes(health))
        .fallback(|| async {
            request_error(
                StatusCode::NOT_FOUND,
                ErrorType::MalformedHttpRequest,
                "Not found: the API is at POST /graphql (WebSockets at /graphql and /graphql/realtime)",
            )
        })
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("a request handler panicked");
            request_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorType::Internal,
                "An internal error occurred",
            )
        }))
        .layer(CorsLayer::permissive())
    ;
    traced(router)
}

/// One span per request, with its method and path only (a query string may hold an AppSync
/// handshake's header, and so a key), when debug logging is on (RUST_LOG=debug) as the router
/// is built; else none: at info level the spans cost 5% of getTrainer's throughput.
fn traced(router: Router) -> Router {
    if !tracing::enabled!(tracing::Level::DEBUG) {
        return router;
    }
    router.layer(
        TraceLayer::new_for_http().make_span_with(|request: &axum::extract::Request| {
            tracing::debug_span!("http", method = %request.method(), path = request.uri().path())
        }),
    )
}

/// A method `/graphql` does not serve.
fn wrong_method() -> Response {
    request_error(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorType::MalformedHttpRequest,
        "Send GraphQL requests as POST /graphql with a JSON body; subscriptions over a WebSocket",
    )
}

/// The API key of a request, from the `x-api-key` header.
fn api_key(headers: &HeaderMap) -> Option<&str> {
    headers.get("x-api-key").and_then(|v| v.to_str().ok())
}

async fn graphql(State(app): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let started = Instant::now();
    let label = OperationLabel::default();
    let (response, error_type) = answer(&app, &headers, body, &label).await;
    let seconds = started.elapsed().as_secs_f64();
    let error_type = error_type.map_or("-", ErrorType::as_str);
    tracing::info!(
        operation = label.get().as_deref().unwrap_or("-"),
        status = response.status().as_u16(),
        error_type,
        ms = seconds * 1000.0,
        "graphql"
    );
    let operation = label.metric();
    ops::record_request(operation, error_type, seconds);
    response
}

/// The length a request declares, when it declares one that is a number.
fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

async fn answer(
    app: &AppState,
    headers: &HeaderMap,
    body: Body,
    label: &OperationLabel,
) -> (Response, Option<ErrorType>) {
    if !api_key(headers).is_some_and(|k| app.keys.accepts(k)) {
        return (error::unauthorized(), Some(ErrorType::Unauthorized));
    }
    let malformed = |status, message: &str| {
        (
            request_error(status, ErrorType::MalformedHttpRequest, message),
            Some(ErrorType::MalformedHttpRequest),
        )
    };
    let too_large = "The request body is larger than the limit of 1 MiB";
    // A client that waits to be asked for its body (`Expect: 100-continue`) is refused before
    // it sends it. (One that sends at once is read up to the limit, so that it reads the answer
    // rather than a reset connection.)
    let waits = headers
        .get(header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    if waits && declared_length(headers).is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return malformed(StatusCode::PAYLOAD_TOO_LARGE, too_large);
    }
    // One deadline for the body to arrive and the request to run, as AppSync's 30 s. Polled
    // after the work, so that a request done at its first poll (most are) never arms a timer.
    let deadline = tokio::time::sleep(REQUEST_TIMEOUT);
    tokio::pin!(deadline);
    let read = tokio::select! {
        biased;
        read = Limited::new(body, MAX_BODY_BYTES).collect() => read,
        () = &mut deadline => {
            let message = "The request body did not arrive within 30 s";
            return malformed(StatusCode::REQUEST_TIMEOUT, message);
        }
    };
    let bytes = match read {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            return malformed(StatusCode::PAYLOAD_TOO_LARGE, too_large)
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
    let response = tokio::select! {
        biased;
        response = app.schema.execute(request) => response,
        () = &mut deadline => {
            tracing::warn!("a request ran past the 30 s limit and was cut off");
            let message = "The request did not finish within 30 s and was cut off";
            async_graphql::Response::from_errors(vec![error::server_error(
                ErrorType::Internal,
                message,
            )])
        }
    };
    let mut error_type = response.errors.first().map(error::error_type);
    let mut body = serde_json::to_vec(&error::response_json(&response)).unwrap_or_default();
    if body.len() > MAX_RESPONSE_BYTES {
        let message = format!(
            "The response ({} bytes) is larger than the limit of 5 MiB: select fewer fields or a smaller page",
            body.len()
        );
        let error = error::server_error(ErrorType::Validation, message);
        let refused = async_graphql::Response::from_errors(vec![error]);
        body = serde_json::to_vec(&error::response_json(&refused)).unwrap_or_default();
        error_type = Some(ErrorType::Validation);
    }
    let headers = [(header::CONTENT_TYPE, "application/json")];
    ((StatusCode::OK, headers, body).into_response(), error_type)
}
