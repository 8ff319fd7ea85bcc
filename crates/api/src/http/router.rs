//! The routes: `POST /graphql` with AppSync's status codes and error bodies, the WebSocket
//! endpoints of [`realtime`], and AppSync's JSON error shape for everything else (an unknown path,
//! a wrong method).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRef, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::CorsLayer;
use tower_http::trace::TraceLayer;

use super::explorer;
use super::health::{self, Health};
use crate::auth::{Authenticator, API_KEY_HEADER, AUTHORIZATION_HEADER};
use crate::graphql::error::{self, request_error, ErrorType};
use crate::graphql::request::{parse_request, with_caller, MAX_BODY_BYTES};
use crate::graphql::schema::Answer;
use crate::graphql::Engine;
use crate::metrics::{self, Operation};
use crate::realtime::{self, HandshakeParams, Realtime};

/// The largest response body, as on AppSync.
pub const MAX_RESPONSE_BYTES: usize = 5 * 1024 * 1024;

/// How long a request may take, from its head to its answer (the body's arrival included), as
/// AppSync allows.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What the routes share; cloned for every request, so one reference count.
#[derive(Clone)]
struct AppState(Arc<Shared>);

struct Shared {
    engine: Engine,
    auth: Authenticator,
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

/// Every route of the API, with auth, limits and panic safety. `jwks`: the key set served at
/// `GET /.well-known/jwks.json` (`--auth-local`: the data directory's own issuer), if any.
pub fn router(
    engine: Engine,
    auth: Authenticator,
    realtime: Realtime,
    health: Health,
    jwks: Option<String>,
) -> Router {
    let state = AppState(Arc::new(Shared {
        engine,
        auth,
        realtime,
    }));
    let wrong_method = || async { wrong_method() };
    let router = Router::new()
        .route(
            "/graphql",
            post(graphql)
                .get(graphql_get)
                .fallback(wrong_method),
        )
        .route(
            "/graphql/realtime",
            get(realtime::on_realtime).fallback(wrong_method),
        )
        .route("/", get(explorer::page))
        .with_state(state)
        .merge(jwks_route(jwks))
        .merge(health::routes(health))
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

/// `GET /graphql`: a WebSocket of either protocol, or the explorer for a browser that asks for
/// a page.
async fn graphql_get(
    State(realtime): State<Realtime>,
    Query(params): Query<HandshakeParams>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    match ws {
        Ok(ws) => realtime::on_graphql(realtime, params.header, ws).await,
        Err(_) if explorer::wanted(&headers) => explorer::page().await.into_response(),
        Err(_) => realtime::not_a_websocket(),
    }
}

/// `GET /.well-known/jwks.json`: the public keys tokens are signed with, when this server is
/// their issuer (`--auth-local`); no route otherwise.
fn jwks_route(jwks: Option<String>) -> Router {
    let Some(jwks) = jwks else {
        return Router::new();
    };
    let jwks: Arc<str> = jwks.into();
    Router::new().route(
        "/.well-known/jwks.json",
        get(move || {
            let jwks = jwks.clone();
            async move {
                (
                    [(header::CONTENT_TYPE, "application/json")],
                    jwks.to_string(),
                )
            }
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

/// The value of a request's header `name`, if it is text.
fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn graphql(State(app): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let started = Instant::now();
    let mut asked = Asked {
        label: None,
        operation: Operation::Unparsed,
    };
    let (response, error_type) = answer(&app, &headers, body, &mut asked).await;
    let seconds = started.elapsed().as_secs_f64();
    tracing::info!(
        operation = asked.label.as_deref().unwrap_or("-"),
        status = response.status().as_u16(),
        error_type = error_type.map_or("-", ErrorType::as_str),
        ms = seconds * 1000.0,
        "graphql"
    );
    metrics::record_request(asked.operation, error_type, seconds);
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

/// What a request asked, once its query was parsed: for its log line and its metrics.
struct Asked {
    label: Option<String>,
    operation: Operation,
}

async fn answer(
    app: &AppState,
    headers: &HeaderMap,
    body: Body,
    asked: &mut Asked,
) -> (Response, Option<ErrorType>) {
    // Who calls, decided once: the API key, or with accounts a token. An Authorization header
    // that is not text is presented all the same (and refused as malformed), not taken for none.
    let authorization = headers
        .get(AUTHORIZATION_HEADER)
        .map(|v| v.to_str().unwrap_or("\u{fffd}"));
    let presented = app
        .auth
        .caller(header_text(headers, API_KEY_HEADER), authorization);
    let caller = match presented.await {
        Ok(authenticated) => authenticated.caller,
        Err(e) => return (error::unauthorized_by(&e), Some(ErrorType::Unauthorized)),
    };
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
        Ok(r) => with_caller(r, caller),
        Err(e) => return malformed(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let answer = match app.engine.prepare(request) {
        Ok(ready) => {
            asked.label = Some(ready.prepared().label().to_string());
            asked.operation = ready.prepared().operation();
            tokio::select! {
                biased;
                answer = app.engine.answer(ready) => answer,
                () = &mut deadline => {
                    tracing::warn!("a request ran past the 30 s limit and was cut off");
                    let message = "The request did not finish within 30 s and was cut off";
                    Answer::Response(async_graphql::Response::from_errors(vec![
                        error::server_error(ErrorType::Internal, message),
                    ]))
                }
            }
        }
        Err(refused) => Answer::Response(*refused),
    };
    let (mut body, mut error_type) = match answer {
        // A planned read answers no error.
        Answer::Planned(body) => (body, None),
        Answer::Response(response) => (
            error::response_bytes(&response),
            response.errors.first().map(error::error_type),
        ),
    };
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
