//! The five operations: validation and versions around a store. (What subscribers hear of a
//! mutation is the API layer's: it publishes the result once the service has returned it.)

use std::sync::Arc;

use crate::error::{error_chain, Error};
use crate::model::{Specialty, Timestamp, Trainer, TrainerId};
use crate::page_token::{self, TokenKey};
use crate::store::{StoreError, TrainerPatch, TrainerStore};
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
}

#[derive(Clone, Debug, Default)]
pub struct ListRequest {
    pub limit: Option<i32>,
    pub next_token: Option<String>,
    pub specialty: Option<Specialty>,
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
        let expected = req.expected_version.map(i64::from);
        let Some(id) = TrainerId::parse(&req.id) else {
            return Err(Error::NotFound { id: req.id });
        };
        let trainer = self
            .store
            .update(&id, &patch, expected, Timestamp::now())
            .await
            .map_err(|e| store_error(e, id.as_str(), expected))?;
        Ok(trainer)
    }

    pub async fn delete(&self, id: &str, expected_version: Option<i32>) -> Result<Trainer, Error> {
        let Some(id) = TrainerId::parse(id) else {
            return Err(Error::NotFound { id: id.to_string() });
        };
        let expected = expected_version.map(i64::from);
        let trainer = self
            .store
            .delete(&id, expected)
            .await
            .map_err(|e| store_error(e, id.as_str(), expected))?;
        Ok(trainer)
    }

    pub async fn list(&self, req: ListRequest) -> Result<Page, Error> {
        let limit = validation::limit(req.limit)?;
        let after = req
            .next_token
            .as_deref()
            .map(|t| page_token::decode(&self.token_key, t, req.specialty))
            .transpose()?;
        let page = self
            .store
            .list(req.specialty, after.as_deref(), limit)
            .await
            .map_err(|e| store_error(e, "", None))?;
        Ok(Page {
            next_token: page
                .next
                .map(|pos| page_token::encode(&self.token_key, req.specialty, &pos)),
            items: page.items,
        })
    }
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
