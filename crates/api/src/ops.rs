//! What operators probe, without a key and saying nothing internal: `GET /healthz` (the process
//! serves), `GET /readyz` (the store answers and the server is not shutting down) and
//! `GET /metrics` (Prometheus text), and the metrics themselves, recorded through the `metrics`
//! facade and rendered by its Prometheus exporter.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use metrics::{Counter, Histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde_json::json;

use crate::error::ErrorType;
use crate::events::EventSource;
use trainers_core::{
    ListQuery, Precondition, SpecialtyQuery, StoreError, StorePage, Timestamp, TokenKey, Trainer,
    TrainerId, TrainerPatch, TrainerService, TrainerStore,
};

pub use crate::names;

/// How long a readiness probe waits for the store.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// The process's Prometheus recorder, installed once (the `metrics` facade is global).
pub fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let buckets = [
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            30.0,
        ];
        let recorder = PrometheusBuilder::new()
            .set_buckets(&buckets)
            .map(PrometheusBuilder::build_recorder);
        match recorder {
            Ok(recorder) => {
                let handle = recorder.handle();
                // Fails only when another recorder was set first: then that one records.
                let _ = metrics::set_global_recorder(recorder);
                // Histograms keep their samples until upkeep folds them in: without it, a server
                // nobody scrapes would hold every sample it ever took.
                let upkeep = handle.clone();
                let _ = std::thread::Builder::new()
                    .name("metrics-upkeep".into())
                    .spawn(move || loop {
                        std::thread::sleep(Duration::from_secs(5));
                        upkeep.run_upkeep();
                    });
                handle
            }
            // The buckets above are not empty: never the case.
            Err(_) => PrometheusBuilder::new().build_recorder().handle(),
        }
    })
}

/// A request's counter and latency histogram, by its root field and `errorType`. Each pair's
/// handles are made once, in a slot of their own: a lookup by labels would hash them and take
/// the registry's lock on every request.
pub fn record_request(operation: &'static str, error_type: &'static str, seconds: f64) {
    const OPERATIONS: usize = crate::limits::ROOT_FIELDS.len() + 2;
    const ERROR_TYPES: usize = ErrorType::ALL.len() + 1;
    type Slot = OnceLock<(Counter, Histogram)>;
    static SLOTS: [[Slot; ERROR_TYPES]; OPERATIONS] =
        [const { [const { OnceLock::new() }; ERROR_TYPES] }; OPERATIONS];
    // The root fields, then `other`, then `-` (refused before it was parsed).
    let op = crate::limits::ROOT_FIELDS
        .iter()
        .position(|f| *f == operation)
        .unwrap_or(if operation == "other" {
            OPERATIONS - 2
        } else {
            OPERATIONS - 1
        });
    let error = ErrorType::ALL
        .iter()
        .position(|t| t.as_str() == error_type)
        .unwrap_or(ERROR_TYPES - 1);
    let (counter, histogram) = SLOTS[op][error].get_or_init(|| {
        (
            metrics::counter!(names::REQUESTS, "operation" => operation, "error_type" => error_type),
            metrics::histogram!(names::REQUEST_SECONDS, "operation" => operation),
        )
    });
    counter.increment(1);
    histogram.record(seconds);
}

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

/// A store that times each call into [`names::STORE_SECONDS`], by operation.
pub struct MeteredStore(pub Arc<dyn TrainerStore>);

impl MeteredStore {
    async fn timed<T>(
        &self,
        operation: &'static str,
        call: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        const OPERATIONS: [&str; 9] = [
            "insert",
            "insert_many",
            "get",
            "update",
            "delete",
            "list",
            "count",
            "list_by_specialty",
            "ping",
        ];
        static SLOTS: [OnceLock<Histogram>; 9] = [const { OnceLock::new() }; 9];
        let started = Instant::now();
        let out = call.await;
        if let Some(slot) = OPERATIONS.iter().position(|o| *o == operation) {
            SLOTS[slot]
                .get_or_init(|| metrics::histogram!(names::STORE_SECONDS, "operation" => operation))
                .record(started.elapsed().as_secs_f64());
        }
        out
    }
}

#[async_trait]
impl TrainerStore for MeteredStore {
    async fn insert(&self, trainer: &Trainer) -> Result<(), StoreError> {
        self.timed("insert", self.0.insert(trainer)).await
    }

    async fn insert_many(&self, trainers: &[Trainer]) -> Result<u64, StoreError> {
        self.timed("insert_many", self.0.insert_many(trainers))
            .await
    }

    async fn get(&self, id: &TrainerId) -> Result<Option<Trainer>, StoreError> {
        self.timed("get", self.0.get(id)).await
    }

    async fn update(
        &self,
        id: &TrainerId,
        patch: &TrainerPatch,
        pre: &Precondition,
        now: Timestamp,
    ) -> Result<Trainer, StoreError> {
        self.timed("update", self.0.update(id, patch, pre, now))
            .await
    }

    async fn delete(&self, id: &TrainerId, pre: &Precondition) -> Result<Trainer, StoreError> {
        self.timed("delete", self.0.delete(id, pre)).await
    }

    async fn list(
        &self,
        query: &ListQuery<'_>,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<StorePage, StoreError> {
        self.timed("list", self.0.list(query, after, limit)).await
    }

    async fn count(&self, query: &ListQuery<'_>) -> Result<u64, StoreError> {
        self.timed("count", self.0.count(query)).await
    }

    async fn list_by_specialty(
        &self,
        query: &SpecialtyQuery<'_>,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<StorePage, StoreError> {
        self.timed(
            "list_by_specialty",
            self.0.list_by_specialty(query, after, limit),
        )
        .await
    }

    fn token_key(&self) -> TokenKey {
        self.0.token_key()
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.timed("ping", self.0.ping()).await
    }

    async fn close(&self) -> Result<(), StoreError> {
        self.0.close().await
    }
}
