//! What operators probe, without a key and saying nothing internal: `GET /healthz` (the process
//! serves), `GET /readyz` (the store answers, the server is not shutting down, and with
//! accounts the issuer's keys were fetched at least once) and
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

use crate::auth::Verifier;
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
    /// With accounts: the issuer's keys, which readiness reports.
    verifier: Option<Verifier>,
}

impl Health {
    /// Sets the store's scan gauges from what the store says now.
    pub fn report_scans(&self) {
        let scans = self.service.scans();
        ::metrics::gauge!(crate::metrics::STORE_SCANS_RUNNING).set(scans.running as f64);
        ::metrics::gauge!(crate::metrics::STORE_SCANS_PEAK).set(scans.peak as f64);
    }

    pub fn new(
        service: TrainerService,
        events: Arc<dyn EventSource>,
        verifier: Option<Verifier>,
    ) -> Self {
        Health {
            draining: Arc::new(AtomicBool::new(false)),
            service,
            events,
            verifier,
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
    // With accounts: no key ever fetched means no token can be verified (an issuer unreachable
    // since the start). Keys fetched once keep working while the issuer is away; then the
    // probe says so, and is ready.
    let issuer = health.verifier.as_ref().map(Verifier::keys_status);
    if let Some(status) = &issuer {
        if status.keys == 0 {
            let why = status
                .last_error
                .as_ref()
                .map_or_else(|| "not fetched yet".to_string(), ToString::to_string);
            tracing::warn!(reason = %why, "readiness: no key of the issuer yet");
            let body = json!({
                "status": "the issuer's keys were never fetched",
                "issuer": { "keys": 0, "error": why },
            });
            return (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
        }
    }
    match tokio::time::timeout(READY_TIMEOUT, health.service.ready()).await {
        // Ready to serve even when events cannot be shared (mutations do not need them); the
        // probe says so.
        Ok(Ok(())) => {
            let mut body = json!({"status": "ready"});
            if let Some(trouble) = health.events.trouble() {
                body["events"] = json!(trouble);
            }
            if let Some(status) = issuer {
                body["issuer"] = json!({ "keys": status.keys });
                if let Some(e) = status.last_error {
                    body["issuer"]["error"] =
                        json!(format!("{e}; the keys fetched before are in use"));
                }
            }
            Json(body).into_response()
        }
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
