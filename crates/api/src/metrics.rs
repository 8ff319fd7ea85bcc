//! Every metric the server records, in one place: their names, their labels (as types), the
//! Prometheus recorder they go to, and the store wrapper that times each store call.
//! `GET /metrics` (in `http::health`) renders them.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use metrics::{Counter, Histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use trainers_core::{
    ErrorType, ListQuery, Precondition, SpecialtyQuery, StoreError, StorePage, Timestamp, TokenKey,
    Trainer, TrainerId, TrainerPatch, TrainerStore,
};

pub const REQUESTS: &str = "trainers_requests_total";
pub const REQUEST_SECONDS: &str = "trainers_request_duration_seconds";
pub const STORE_SECONDS: &str = "trainers_store_duration_seconds";
pub const WEBSOCKETS_OPEN: &str = "trainers_websockets_open";
pub const SUBSCRIPTIONS_ACTIVE: &str = "trainers_subscriptions_active";
/// Subscription executions running (identical subscriptions share one).
pub const SUBSCRIPTION_EXECUTIONS: &str = "trainers_subscription_executions";
pub const EVENTS_DELIVERED: &str = "trainers_events_delivered_total";
pub const EVENTS_DROPPED: &str = "trainers_events_dropped_total";
/// Events that could not be shared with the other servers of a fleet.
pub const EVENTS_LOST: &str = "trainers_events_lost_total";
/// Messages from the events channel refused before delivery (too large, not an event, or not
/// valid), by `reason`: `too_large`, `malformed`, `invalid`.
pub const EVENTS_REFUSED: &str = "trainers_events_refused_total";
/// The store's long reads (filtered pages and counts) running now, and the most at once.
pub const STORE_SCANS_RUNNING: &str = "trainers_store_scans_running";
pub const STORE_SCANS_PEAK: &str = "trainers_store_scans_peak";

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

/// The root fields of the schema, as labels: a bounded set of names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RootField {
    AllTrainers,
    GetTrainer,
    TrainersBySpecialty,
    CountTrainers,
    CreateTrainer,
    UpdateTrainers,
    DeleteTrainer,
    OnCreateTrainer,
    OnUpdateTrainer,
    OnDeleteTrainer,
    Schema,
    Type,
    Typename,
}

impl RootField {
    pub const ALL: [RootField; 13] = [
        RootField::AllTrainers,
        RootField::GetTrainer,
        RootField::TrainersBySpecialty,
        RootField::CountTrainers,
        RootField::CreateTrainer,
        RootField::UpdateTrainers,
        RootField::DeleteTrainer,
        RootField::OnCreateTrainer,
        RootField::OnUpdateTrainer,
        RootField::OnDeleteTrainer,
        RootField::Schema,
        RootField::Type,
        RootField::Typename,
    ];

    /// Its name in the schema.
    pub const fn as_str(self) -> &'static str {
        match self {
            RootField::AllTrainers => "allTrainers",
            RootField::GetTrainer => "getTrainer",
            RootField::TrainersBySpecialty => "trainersBySpecialty",
            RootField::CountTrainers => "countTrainers",
            RootField::CreateTrainer => "createTrainer",
            RootField::UpdateTrainers => "updateTrainers",
            RootField::DeleteTrainer => "deleteTrainer",
            RootField::OnCreateTrainer => "onCreateTrainer",
            RootField::OnUpdateTrainer => "onUpdateTrainer",
            RootField::OnDeleteTrainer => "onDeleteTrainer",
            RootField::Schema => "__schema",
            RootField::Type => "__type",
            RootField::Typename => "__typename",
        }
    }

    pub fn from_name(name: &str) -> Option<RootField> {
        RootField::ALL.into_iter().find(|f| f.as_str() == name)
    }

    /// Whether it answers a page of trainers (and so takes a `limit`).
    pub const fn is_page(self) -> bool {
        matches!(
            self,
            RootField::AllTrainers | RootField::TrainersBySpecialty
        )
    }
}

/// What a request is counted as: its first root field, `other` (a name the schema lacks), or
/// `-` (refused before it was parsed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Field(RootField),
    Other,
    Unparsed,
}

impl Operation {
    const COUNT: usize = RootField::ALL.len() + 2;

    pub const fn as_str(self) -> &'static str {
        match self {
            Operation::Field(field) => field.as_str(),
            Operation::Other => "other",
            Operation::Unparsed => "-",
        }
    }

    fn index(self) -> usize {
        match self {
            Operation::Field(field) => field as usize,
            Operation::Other => Self::COUNT - 2,
            Operation::Unparsed => Self::COUNT - 1,
        }
    }
}

/// A request's counter and latency histogram, by its operation and `errorType` (`-` for none).
/// Each pair's handles are made once, in a slot of their own: a lookup by labels would hash them
/// and take the registry's lock on every request.
pub fn record_request(operation: Operation, error_type: Option<ErrorType>, seconds: f64) {
    const ERROR_TYPES: usize = ErrorType::ALL.len() + 1;
    type Slot = OnceLock<(Counter, Histogram)>;
    static SLOTS: [[Slot; ERROR_TYPES]; Operation::COUNT] =
        [const { [const { OnceLock::new() }; ERROR_TYPES] }; Operation::COUNT];
    let error = error_type
        .and_then(|t| ErrorType::ALL.iter().position(|known| *known == t))
        .unwrap_or(ERROR_TYPES - 1);
    let (counter, histogram) = SLOTS[operation.index()][error].get_or_init(|| {
        let label = operation.as_str();
        let error_type = error_type.map_or("-", ErrorType::as_str);
        (
            metrics::counter!(REQUESTS, "operation" => label, "error_type" => error_type),
            metrics::histogram!(REQUEST_SECONDS, "operation" => label),
        )
    });
    counter.increment(1);
    histogram.record(seconds);
}

/// The store's operations, as labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreOp {
    Insert,
    InsertMany,
    Get,
    Update,
    Delete,
    List,
    Count,
    ListBySpecialty,
    Ping,
}

impl StoreOp {
    const COUNT: usize = 9;

    pub const fn as_str(self) -> &'static str {
        match self {
            StoreOp::Insert => "insert",
            StoreOp::InsertMany => "insert_many",
            StoreOp::Get => "get",
            StoreOp::Update => "update",
            StoreOp::Delete => "delete",
            StoreOp::List => "list",
            StoreOp::Count => "count",
            StoreOp::ListBySpecialty => "list_by_specialty",
            StoreOp::Ping => "ping",
        }
    }
}

/// A store that times each call into [`STORE_SECONDS`], by operation.
pub struct MeteredStore(pub Arc<dyn TrainerStore>);

impl MeteredStore {
    async fn timed<T>(
        &self,
        operation: StoreOp,
        call: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        static SLOTS: [OnceLock<Histogram>; StoreOp::COUNT] =
            [const { OnceLock::new() }; StoreOp::COUNT];
        let started = Instant::now();
        let out = call.await;
        SLOTS[operation as usize]
            .get_or_init(|| metrics::histogram!(STORE_SECONDS, "operation" => operation.as_str()))
            .record(started.elapsed().as_secs_f64());
        out
    }
}

#[async_trait]
impl TrainerStore for MeteredStore {
    async fn insert(&self, trainer: &Trainer) -> Result<(), StoreError> {
        self.timed(StoreOp::Insert, self.0.insert(trainer)).await
    }

    async fn insert_many(&self, trainers: &[Trainer]) -> Result<u64, StoreError> {
        self.timed(StoreOp::InsertMany, self.0.insert_many(trainers))
            .await
    }

    async fn get(&self, id: &TrainerId) -> Result<Option<Trainer>, StoreError> {
        self.timed(StoreOp::Get, self.0.get(id)).await
    }

    async fn update(
        &self,
        id: &TrainerId,
        patch: &TrainerPatch,
        pre: &Precondition,
        now: Timestamp,
    ) -> Result<Trainer, StoreError> {
        self.timed(StoreOp::Update, self.0.update(id, patch, pre, now))
            .await
    }

    async fn delete(&self, id: &TrainerId, pre: &Precondition) -> Result<Trainer, StoreError> {
        self.timed(StoreOp::Delete, self.0.delete(id, pre)).await
    }

    async fn list(
        &self,
        query: &ListQuery<'_>,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<StorePage, StoreError> {
        self.timed(StoreOp::List, self.0.list(query, after, limit))
            .await
    }

    async fn count(&self, query: &ListQuery<'_>) -> Result<u64, StoreError> {
        self.timed(StoreOp::Count, self.0.count(query)).await
    }

    async fn list_by_specialty(
        &self,
        query: &SpecialtyQuery<'_>,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<StorePage, StoreError> {
        self.timed(
            StoreOp::ListBySpecialty,
            self.0.list_by_specialty(query, after, limit),
        )
        .await
    }

    fn token_key(&self) -> TokenKey {
        self.0.token_key()
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.timed(StoreOp::Ping, self.0.ping()).await
    }

    async fn close(&self) -> Result<(), StoreError> {
        self.0.close().await
    }

    fn scans(&self) -> trainers_core::Scans {
        self.0.scans()
    }
}
