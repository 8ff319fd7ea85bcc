//! What operators probe, without a key and saying nothing internal: `GET /healthz` (the process
//! serves), `GET /readyz` (the store answers and the server is not shutting down) and
//! `GET /metrics` (Prometheus text, of what [`crate::metrics`] records).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use trainers_core::TrainerService;

use crate::events::EventSource;
use crate::metrics::prometheus;

/// How long a readiness probe waits for the store.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// Whether the server is shutting down, and the service whose store readiness asks.
#[derive(Clone)]
pub struct Health {
    draining: Arc<AtomicBool>,
    service: TrainerService,
    events: Arc<dyn EventSource>,
}

impl Health {
    pub fn new(service: TrainerService, events: Arc<dyn EventSource>) -> Self {
        Health {
            draining: Arc::new(AtomicBool::new(false)),
            service,
            events,
        }
    }

    /// From now on `/readyz` answers 503.
    pub fn set_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }
}

/// `/healthz`, `/readyz` and `/metrics`.
pub fn routes(health: Health) -> Router {
    Router::new()
        .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .with_state(health)
}

async fn readyz(State(health): State<Health>) -> Response {
    let unready = |status: &str| {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": status })),
        )
            .into_response()
    };
    if health.draining.load(Ordering::SeqCst) {
        return unready("shutting down");
    }
    match tokio::time::timeout(READY_TIMEOUT, health.service.ready()).await {
        // Ready to serve even when events cannot be shared (mutations do not need them); the
        // probe says so.
        Ok(Ok(())) => match health.events.trouble() {
            None => Json(json!({"status": "ready"})).into_response(),
            Some(trouble) => Json(json!({"status": "ready", "events": trouble})).into_response(),
        },
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: the store does not answer");
            unready("the store does not answer")
        }
        Err(_) => {
            tracing::warn!("readiness: the store did not answer within 2 s");
            unready("the store does not answer")
        }
    }
}

/// Prometheus's text format.
pub async fn metrics_text() -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        prometheus().render(),
    )
        .into_response()
}
