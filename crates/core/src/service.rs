//! The five operations: validation and versions around a store. (What subscribers hear of a
//! mutation is the API layer's: it publishes the result once the service has returned it.)

use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::error::{error_chain, Error};
use crate::filter::{Filter, KeyCondition, SortDirection};
use crate::model::{Specialty, Timestamp, Trainer, TrainerId};
use crate::page_token::{self, Scope, TokenKey};
use crate::store::{
    ListQuery, Precondition, SpecialtyQuery, StoreError, TrainerPatch, TrainerStore,
};
use crate::validation::{self, Age, TrainerName};

#[derive(Clone, Debug, Default)]
pub struct CreateRequest {
    pub first_name: String,
    pub last_name: String,
    pub age: i32,
    pub specialty: Option<Specialty>,
}

/// An update as the client gave it: `None` is a field left out, `Some(None)` an explicit null.
#[derive(Clone, Debug, Default)]
pub struct UpdateRequest {
    pub id: String,
    pub first_name: Option<Option<String>>,
    pub last_name: Option<Option<String>>,
    pub age: Option<Option<i32>>,
    pub specialty: Option<Option<Specialty>>,
    pub expected_version: Option<i32>,
    /// `condition`, parsed ([`Filter::parse`] with [`crate::FilterKind::Condition`]).
    pub condition: Option<Filter>,
}

#[derive(Clone, Debug, Default)]
pub struct ListRequest {
    pub limit: Option<i32>,
    pub next_token: Option<String>,
    pub specialty: Option<Specialty>,
    pub filter: Option<Filter>,
}

/// `trainersBySpecialty`.
#[derive(Clone, Debug)]
pub struct BySpecialtyRequest {
    pub specialty: Specialty,
    pub last_name: Option<KeyCondition>,
    pub direction: SortDirection,
    pub filter: Option<Filter>,
    pub limit: Option<i32>,
    pub next_token: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Page {
    pub items: Vec<Trainer>,
    pub next_token: Option<String>,
}

#[derive(Clone)]
pub struct TrainerService {
    store: Arc<dyn TrainerStore>,
    token_key: TokenKey,
}

impl TrainerService {
    pub fn new(store: Arc<dyn TrainerStore>) -> Self {
        let token_key = store.token_key();
        TrainerService { store, token_key }
    }

    /// Whether the store answers now.
    pub async fn ready(&self) -> Result<(), StoreError> {
        self.store.ping().await
    }

    /// Makes the store durable in its own files and stops it (see [`TrainerStore::close`]).
    pub async fn close(&self) -> Result<(), StoreError> {
        self.store.close().await
    }

    pub async fn create(&self, req: CreateRequest) -> Result<Trainer, Error> {
        let now = Timestamp::now();
        let trainer = Trainer {
            id: TrainerId::generate(),
            first_name: TrainerName::parse("firstName", &req.first_name)?.into_string(),
            last_name: TrainerName::parse("lastName", &req.last_name)?.into_string(),
            age: Age::parse(req.age)?.get(),
            specialty: req.specialty,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        self.store
            .insert(&trainer)
            .await
            .map_err(|e| store_error(e, trainer.id.as_str(), None))?;
        Ok(trainer)
    }

    /// `None` when there is no trainer with this id, a malformed id included.
    pub async fn get(&self, id: &str) -> Result<Option<Trainer>, Error> {
        let Some(id) = TrainerId::parse(id) else {
            return Ok(None);
        };
        self.store
            .get(&id)
            .await
            .map_err(|e| store_error(e, id.as_str(), None))
    }

    pub async fn update(&self, req: UpdateRequest) -> Result<Trainer, Error> {
        let patch = TrainerPatch {
            first_name: required(req.first_name, "firstName")?
                .map(|n| TrainerName::parse("firstName", &n))
                .transpose()?,
            last_name: required(req.last_name, "lastName")?
                .map(|n| TrainerName::parse("lastName", &n))
                .transpose()?,
            age: required(req.age, "age")?.map(Age::parse).transpose()?,
            specialty: req.specialty,
        };
        if patch.is_empty() {
            return Err(Error::validation(
                "firstName",
                "updateTrainers needs at least one of firstName, lastName, age, specialty",
            ));
        }
        let pre = Precondition {
            version: req.expected_version.map(i64::from),
            condition: req.condition,
        };
        let Some(id) = TrainerId::parse(&req.id) else {
            return Err(Error::NotFound { id: req.id });
        };
        let trainer = self
            .store
            .update(&id, &patch, &pre, Timestamp::now())
            .await
            .map_err(|e| store_error(e, id.as_str(), pre.version))?;
        Ok(trainer)
    }

    /// Deletes a trainer that is at `expected_version` (when given) and holds `condition`.
    pub async fn delete(
        &self,
        id: &str,
        expected_version: Option<i32>,
        condition: Option<Filter>,
    ) -> Result<Trainer, Error> {
        let Some(id) = TrainerId::parse(id) else {
            return Err(Error::NotFound { id: id.to_string() });
        };
        let pre = Precondition {
            version: expected_version.map(i64::from),
            condition,
        };
        let trainer = self
            .store
            .delete(&id, &pre)
            .await
            .map_err(|e| store_error(e, id.as_str(), pre.version))?;
        Ok(trainer)
    }

    pub async fn list(&self, req: ListRequest) -> Result<Page, Error> {
        let limit = validation::limit(req.limit)?;
        let scope = match &req.filter {
            None => Scope::Specialty(req.specialty),
            Some(filter) => scope(&[
                b"allTrainers",
                req.specialty.map_or("", Specialty::as_str).as_bytes(),
                &filter.digest(),
            ]),
        };
        let query = ListQuery {
            specialty: req.specialty,
            filter: req.filter.as_ref(),
        };
        let after = self.position(req.next_token.as_deref(), scope)?;
        let page = self
            .store
            .list(&query, after.as_deref(), limit)
            .await
            .map_err(|e| store_error(e, "", None))?;
        Ok(self.page(page, scope))
    }

    /// `countTrainers`: how many trainers hold `filter` now.
    pub async fn count(&self, filter: Option<Filter>) -> Result<u64, Error> {
        let query = ListQuery {
            specialty: None,
            filter: filter.as_ref(),
        };
        self.store
            .count(&query)
            .await
            .map_err(|e| store_error(e, "", None))
    }

    /// `trainersBySpecialty`: one specialty in `lastName` order, from the store's index.
    pub async fn by_specialty(&self, req: BySpecialtyRequest) -> Result<Page, Error> {
        let limit = validation::limit(req.limit)?;
        let key = req
            .last_name
            .as_ref()
            .map(|k| format!("{k:?}"))
            .unwrap_or_default();
        let direction: &[u8] = match req.direction {
            SortDirection::Asc => b"ASC",
            SortDirection::Desc => b"DESC",
        };
        let filter = req.filter.as_ref().map(Filter::digest).unwrap_or_default();
        let scope = scope(&[
            b"trainersBySpecialty",
            req.specialty.as_str().as_bytes(),
            key.as_bytes(),
            direction,
            &filter,
        ]);
        let query = SpecialtyQuery {
            specialty: req.specialty,
            last_name: req.last_name.as_ref(),
            direction: req.direction,
            filter: req.filter.as_ref(),
        };
        let after = self.position(req.next_token.as_deref(), scope)?;
        let page = self
            .store
            .list_by_specialty(&query, after.as_deref(), limit)
            .await
            .map_err(|e| store_error(e, "", None))?;
        Ok(self.page(page, scope))
    }

    fn position(&self, token: Option<&str>, scope: Scope) -> Result<Option<Vec<u8>>, Error> {
        token
            .map(|t| page_token::decode(&self.token_key, t, scope))
            .transpose()
    }

    fn page(&self, page: crate::store::StorePage, scope: Scope) -> Page {
        Page {
            next_token: page
                .next
                .map(|pos| page_token::encode(&self.token_key, scope, &pos)),
            items: page.items,
        }
    }
}

/// The scope of a page token: a digest of the query's name and arguments, each part
/// length-prefixed so that no two lists of parts read the same.
fn scope(parts: &[&[u8]]) -> Scope {
    let mut hash = Sha256::new();
    for part in parts {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part);
    }
    let mut digest = [0u8; 8];
    digest.copy_from_slice(&hash.finalize()[..8]);
    Scope::Digest(digest)
}

/// A field that may be left out but, when given, must not be null.
fn required<T>(value: Option<Option<T>>, argument: &'static str) -> Result<Option<T>, Error> {
    match value {
        None => Ok(None),
        Some(Some(v)) => Ok(Some(v)),
        Some(None) => Err(Error::validation(
            argument,
            format!("{argument} cannot be null"),
        )),
    }
}

fn store_error(e: StoreError, id: &str, expected: Option<i64>) -> Error {
    match e {
        StoreError::NotFound => Error::NotFound { id: id.to_string() },
        // Only possible when a token's key is shared with another store's positions.
        StoreError::InvalidPosition => page_token::invalid(),
        StoreError::ConditionFailed => Error::ConditionFailed { id: id.to_string() },
        StoreError::VersionConflict { actual } => Error::Conflict {
            id: id.to_string(),
            expected: expected.unwrap_or_default(),
            actual,
        },
        other => {
            let cause = error_chain(&other);
            tracing::error!(error = %cause, trainer = id, "store failed");
            Error::Internal { cause }
        }
    }
}
