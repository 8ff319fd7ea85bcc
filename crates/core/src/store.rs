//! What the service needs of a store. Each implementation (embedded, DynamoDB) passes the one
//! store suite in `trainers-conformance`.

use async_trait::async_trait;

use crate::model::{Specialty, Timestamp, Trainer, TrainerId};
use crate::page_token::TokenKey;
use crate::validation::{Age, TrainerName};

/// The validated changes of one update (the types say so). `None` leaves a field as it is;
/// `specialty: Some(None)` clears the specialty.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrainerPatch {
    pub first_name: Option<TrainerName>,
    pub last_name: Option<TrainerName>,
    pub age: Option<Age>,
    pub specialty: Option<Option<Specialty>>,
}

impl TrainerPatch {
    pub fn is_empty(&self) -> bool {
        self.first_name.is_none()
            && self.last_name.is_none()
            && self.age.is_none()
            && self.specialty.is_none()
    }

    /// The trainer after this patch, at the next version.
    pub fn apply(&self, old: &Trainer, now: Timestamp) -> Trainer {
        Trainer {
            id: old.id.clone(),
            first_name: self
                .first_name
                .as_ref()
                .map_or_else(|| old.first_name.clone(), |n| n.as_str().to_string()),
            last_name: self
                .last_name
                .as_ref()
                .map_or_else(|| old.last_name.clone(), |n| n.as_str().to_string()),
            age: self.age.map_or(old.age, Age::get),
            specialty: self.specialty.unwrap_or(old.specialty),
            created_at: old.created_at,
            // Never before the last update, even if the clock stepped back.
            updated_at: now.max(old.updated_at),
            version: old.version + 1,
        }
    }
}

/// One page as a store returns it: `next` is the position after the last item, present
/// exactly when more items follow.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StorePage {
    pub items: Vec<Trainer>,
    pub next: Option<Vec<u8>>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no such trainer")]
    NotFound,
    #[error("the stored version is {actual}")]
    VersionConflict { actual: i64 },
    #[error("a trainer with this id exists already")]
    AlreadyExists,
    /// A position that this store did not make (only possible if the token key is shared).
    #[error("not a position of this store")]
    InvalidPosition,
    #[error("{0}")]
    Backend(String),
}

impl StoreError {
    pub fn backend(cause: impl std::fmt::Display) -> Self {
        StoreError::Backend(cause.to_string())
    }
}

#[async_trait]
pub trait TrainerStore: Send + Sync + 'static {
    /// Stores a new trainer; never overwrites one with the same id.
    async fn insert(&self, trainer: &Trainer) -> Result<(), StoreError>;

    /// Stores many trainers at once (import), skipping ids that exist. Returns how many were
    /// stored. Stores override this with a bulk write.
    async fn insert_many(&self, trainers: &[Trainer]) -> Result<u64, StoreError> {
        let mut stored = 0;
        for t in trainers {
            match self.insert(t).await {
                Ok(()) => stored += 1,
                Err(StoreError::AlreadyExists) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(stored)
    }

    async fn get(&self, id: &TrainerId) -> Result<Option<Trainer>, StoreError>;

    /// Applies `patch` atomically: only to an existing trainer and, when `expected_version` is
    /// given, only at that version. Returns the trainer as updated.
    async fn update(
        &self,
        id: &TrainerId,
        patch: &TrainerPatch,
        expected_version: Option<i64>,
        now: Timestamp,
    ) -> Result<Trainer, StoreError>;

    /// Removes a trainer atomically, with the same version rule as `update`. Returns it as it was.
    async fn delete(
        &self,
        id: &TrainerId,
        expected_version: Option<i64>,
    ) -> Result<Trainer, StoreError>;

    /// Up to `limit` trainers after `after` (from the start when `None`), in the store's stable
    /// order, only those of `specialty` when given.
    async fn list(
        &self,
        specialty: Option<Specialty>,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<StorePage, StoreError>;

    /// The key that signs this store's page tokens.
    fn token_key(&self) -> TokenKey;
}
