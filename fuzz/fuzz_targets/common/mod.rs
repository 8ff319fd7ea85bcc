//! What the targets that send requests through the real router share: one embedded store,
//! engine and router per process, in a temporary directory under `$TMPDIR`.

use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::{header, Request};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use tokio::runtime::Runtime;
use trainers_api::auth::Authenticator;
use trainers_api::events::Events;
use trainers_api::http::health::Health;
use trainers_api::realtime::{Limits, Realtime};
use trainers_api::{Engine, KeyRing};
use trainers_core::{FixedKey, TrainerService};
use trainers_store_embedded::EmbeddedStore;

pub const API_KEY: &str = "da2-fuzz-key-of-the-target";

pub struct App {
    pub runtime: Runtime,
    pub router: Router,
    _data_dir: tempfile::TempDir,
}

pub fn app() -> &'static App {
    static APP: OnceLock<App> = OnceLock::new();
    APP.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let data_dir = tempfile::Builder::new()
            .prefix("trainers-fuzz-store-")
            .tempdir()
            .expect("a temporary directory");
        let router = runtime.block_on(async {
            let store = EmbeddedStore::open(data_dir.path()).expect("an embedded store");
            let service = TrainerService::new(Arc::new(store));
            let keys = Arc::new(
                KeyRing::new(None, &[FixedKey::parse(API_KEY).expect("a well-formed key")])
                    .await
                    .expect("a key ring"),
            );
            let events = Events::local();
            let health = Health::new(service.clone(), events.source.clone(), None);
            let engine = Engine::new(service, events, true);
            let auth = Authenticator::new(keys, None);
            let realtime = Realtime::new(engine.clone(), auth.clone(), Limits::default());
            trainers_api::http::router::router(engine, auth, realtime, health, None)
        });
        App {
            runtime,
            router,
            _data_dir: data_dir,
        }
    })
}

/// The `errorType`s an HTTP request may be answered with.
const KNOWN_ERROR_TYPES: [&str; 6] = [
    "ValidationError",
    "NotFound",
    "ConflictError",
    "InternalFailure",
    "MalformedHttpRequestException",
    "UnauthorizedException",
];

/// POSTs `data` as the body of `/graphql`, with the key; panics on an answer outside the
/// contract: a status other than 200, 400, 413, a body that is not JSON, an unknown
/// `errorType`, an empty `errors`, a 200 without `data`.
pub fn post_and_check(data: &[u8]) {
    let app = app();
    let request = Request::post("/graphql")
        .header("x-api-key", API_KEY)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_LENGTH, data.len())
        .body(Body::from(data.to_vec()))
        .expect("a request");
    let (status, body) = app.runtime.block_on(async {
        let response = app.router.clone().oneshot(request).await.expect("infallible");
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.expect("a body").to_bytes();
        (status, body)
    });
    assert!(
        matches!(status, 200 | 400 | 413),
        "status {status}, body {}",
        String::from_utf8_lossy(&body)
    );
    let json: Value = serde_json::from_slice(&body).unwrap_or_else(|e| {
        panic!("a body that is not JSON ({e}): {}", String::from_utf8_lossy(&body))
    });
    let object = json.as_object().expect("a JSON object");
    match object.get("errors") {
        None => assert_eq!(status, 200, "status {status} without errors: {json}"),
        Some(errors) => {
            let errors = errors.as_array().expect("errors is an array");
            assert!(!errors.is_empty(), "an empty errors array: {json}");
            for error in errors {
                let error_type = error.get("errorType").and_then(Value::as_str);
                assert!(
                    error_type.is_some_and(|t| KNOWN_ERROR_TYPES.contains(&t)),
                    "an unknown errorType: {json}"
                );
                if status != 200 {
                    assert_eq!(error_type, Some("MalformedHttpRequestException"), "{json}");
                }
            }
        }
    }
    if status == 200 {
        assert!(object.contains_key("data"), "a 200 without data: {json}");
    }
}
