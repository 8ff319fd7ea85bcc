//! What the service needs of a store. Each implementation (embedded, DynamoDB) passes the one
//! store suite in `trainers-conformance`.

use async_trait::async_trait;

use crate::access::Owner;
use crate::filter::{Filter, KeyCondition, SortDirection};
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
            owner: old.owner.clone(),
        }
    }
}

/// What must hold of a trainer for an update or a delete to happen, checked in the same atomic
/// step as the write.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Precondition {
    /// `expectedVersion`: the stored version must be this one.
    pub version: Option<i64>,
    /// `condition`: the stored trainer must hold it.
    pub condition: Option<Filter>,
    /// Accounts: the stored trainer must have this owner (an owner's own write; an admin's and
    /// any write without accounts have none). A trainer with no owner never has it.
    pub owner: Option<Owner>,
}

/// Which trainers a list or count is of, in the store's stable order.
#[derive(Clone, Copy, Debug, Default)]
pub struct ListQuery<'a> {
    /// Only those of this specialty.
    pub specialty: Option<Specialty>,
    /// Only those that hold this filter.
    pub filter: Option<&'a Filter>,
}

impl ListQuery<'_> {
    /// Whether a trainer is one of these.
    pub fn matches(&self, t: &Trainer) -> bool {
        self.specialty.is_none_or(|s| t.specialty == Some(s))
            && self.filter.is_none_or(|f| f.matches(t))
    }
}

/// The trainers of one specialty in `lastName` order, then `id`, from an index.
#[derive(Clone, Copy, Debug)]
pub struct SpecialtyQuery<'a> {
    pub specialty: Specialty,
    pub last_name: Option<&'a KeyCondition>,
    pub direction: SortDirection,
    pub filter: Option<&'a Filter>,
}

impl SpecialtyQuery<'_> {
    /// Whether a trainer is one of these.
    pub fn matches(&self, t: &Trainer) -> bool {
        t.specialty == Some(self.specialty)
            && self.last_name.is_none_or(|k| k.holds(&t.last_name))
            && self.filter.is_none_or(|f| f.matches(t))
    }
}

/// One page as a store returns it: `next` is the position after the last item, present
/// exactly when more items follow.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StorePage {
    pub items: Vec<Trainer>,
    pub next: Option<Vec<u8>>,
}

impl StorePage {
    /// The page of `limit` from up to `limit + 1` rows read in the store's order: one more row
    /// than a page tells that more follow, and the position is then the last kept row's.
    pub fn from_rows<R>(
        mut rows: Vec<R>,
        limit: usize,
        position: impl FnOnce(&R) -> Vec<u8>,
        trainer: impl FnMut(R) -> Trainer,
    ) -> StorePage {
        let next = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(position)
        } else {
            None
        };
        StorePage {
            items: rows.into_iter().map(trainer).collect(),
            next,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no such trainer")]
    NotFound,
    #[error("the stored version is {actual}")]
    VersionConflict { actual: i64 },
    #[error("a trainer with this id exists already")]
    AlreadyExists,
    /// The trainer does not hold the `condition` of an update or delete.
    #[error("the trainer does not hold the condition")]
    ConditionFailed,
    /// The trainer's owner is not the precondition's (checked before version and condition).
    #[error("the trainer has another owner")]
    NotOwner,
    /// A position that this store did not make (only possible if the token key is shared).
    #[error("not a position of this store")]
    InvalidPosition,
    /// The store itself failed (its database, disk, network or service). `context` says what
    /// failed; `source`, when there is one, is the error that caused it, kept whole for the log
    /// ([`crate::error_chain`] puts the chain on one line).
    #[error("{context}")]
    Backend {
        context: String,
        #[source]
        source: Option<BoxError>,
    },
}

/// The cause of a [`StoreError::Backend`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

impl StoreError {
    /// A failure of the store, caused by `source`.
    pub fn backend(
        context: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        StoreError::Backend {
            context: context.into(),
            source: Some(Box::new(source)),
        }
    }

    /// A failure of the store that no other error caused (`context` says all there is).
    pub fn backend_msg(context: impl Into<String>) -> Self {
        StoreError::Backend {
            context: context.into(),
            source: None,
        }
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

    /// Applies `patch` atomically: only to an existing trainer that meets `pre`. Returns the
    /// trainer as updated. A refusal says the first thing that failed: no trainer
    /// ([`StoreError::NotFound`]), its owner ([`StoreError::NotOwner`]), its version, its
    /// condition.
    async fn update(
        &self,
        id: &TrainerId,
        patch: &TrainerPatch,
        pre: &Precondition,
        now: Timestamp,
    ) -> Result<Trainer, StoreError>;

    /// Removes a trainer atomically, with the same rule as `update`. Returns it as it was.
    async fn delete(&self, id: &TrainerId, pre: &Precondition) -> Result<Trainer, StoreError>;

    /// Up to `limit` trainers of `query` after `after` (from the start when `None`), in the
    /// store's stable order. `limit` counts the trainers that match, however many the store
    /// examines to find them.
    async fn list(
        &self,
        query: &ListQuery<'_>,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<StorePage, StoreError>;

    /// How many trainers `query` holds now.
    async fn count(&self, query: &ListQuery<'_>) -> Result<u64, StoreError>;

    /// Up to `limit` trainers of `query` after `after`, from the store's index on specialty and
    /// last name; `limit` counts matches, as for `list`.
    async fn list_by_specialty(
        &self,
        query: &SpecialtyQuery<'_>,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<StorePage, StoreError>;

    /// The key that signs this store's page tokens.
    fn token_key(&self) -> TokenKey;

    /// Whether the store answers now (a readiness probe): a cheap read.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Makes everything committed durable in the store's own files and stops taking writes (the
    /// embedded store checkpoints its write-ahead log). Called once, when the server stops.
    async fn close(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// The store's long reads (filtered pages and counts, which may scan): how many run now,
    /// and the most that ever ran at once. A store without a bound on them says none.
    fn scans(&self) -> Scans {
        Scans::default()
    }
}

/// Long reads running on a store (see [`TrainerStore::scans`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Scans {
    pub running: usize,
    pub peak: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::error_chain;

    #[test]
    fn a_backend_error_keeps_its_source_and_logs_its_chain_on_one_line() {
        let io = std::io::Error::other("disk on fire");
        let e = StoreError::backend("cannot read trainer 1", io);
        assert_eq!(e.to_string(), "cannot read trainer 1");
        let source = std::error::Error::source(&e).map(ToString::to_string);
        assert_eq!(source.as_deref(), Some("disk on fire"));
        assert_eq!(error_chain(&e), "cannot read trainer 1: disk on fire");
        let alone = StoreError::backend_msg("the writer has stopped");
        assert!(std::error::Error::source(&alone).is_none());
        assert_eq!(error_chain(&alone), "the writer has stopped");
    }
}
