//! `POST /graphql` in process, through the real router (auth, body limit, request parsing,
//! limits, GraphQL, the store), with a valid API key and the input as the body. Whatever the
//! body, the answer is 200, 400 or 413 with a JSON body whose errors, if any, each have a known
//! `errorType`; a panic anywhere is a crash (libfuzzer-sys aborts on panic, even one that the
//! router's catch-panic layer would turn into a 500).
//!
//! One store, schema and router per process, on a fresh embedded store in a temporary directory
//! (under `$TMPDIR`: scripts/fuzz.sh points it at a directory it removes). It grows with every
//! `createTrainer` the fuzzer finds: that is fine.

#![no_main]

use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::{header, Request};
use axum::Router;
use http_body_util::BodyExt;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tokio::runtime::Runtime;
use tower::ServiceExt;
use trainers_api::realtime::{Limits, Realtime};
use trainers_api::events::Events;
use trainers_api::ops::Health;
use trainers_api::KeyRing;
use trainers_core::TrainerService;
use trainers_store_embedded::EmbeddedStore;

const API_KEY: &str = "da2-fuzz";

/// The `errorType`s an HTTP request may be answered with.
const KNOWN_ERROR_TYPES: [&str; 6] = [
    "ValidationError",
    "NotFound",
    "ConflictError",
    "InternalFailure",
    "MalformedHttpRequestException",
    "UnauthorizedException",
];

struct App {
    runtime: Runtime,
    router: Router,
    _data_dir: tempfile::TempDir,
}

fn app() -> &'static App {
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
                KeyRing::new(None, &[API_KEY.into()])
                    .await
                    .expect("a key ring"),
            );
            let events = Events::local();
            let health = Health::new(service.clone(), events.source.clone());
            let schema = trainers_api::build_schema(service, events, true);
            let realtime = Realtime::new(schema.clone(), keys.clone(), Limits::default());
            trainers_api::router::router(schema, keys, realtime, health)
        });
        App {
            runtime,
            router,
            _data_dir: data_dir,
        }
    })
}

fuzz_target!(|data: &[u8]| {
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
});
