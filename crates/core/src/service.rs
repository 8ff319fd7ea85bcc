//! The five operations: validation, versions and who may change what around a store. (What
//! subscribers hear of a mutation is the API layer's: it publishes the result once the service
//! has returned it.) Mutations take the [`Caller`] the entrypoint authenticated; the
//! [`AccessPolicy`] the service was built with decides: the API key under accounts before
//! anything is read, a user's right to a trainer by the store, in the same atomic step as the
//! write (a [`Precondition`] on the owner), so no race can change whose trainer is written.

use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::access::{AccessPolicy, Caller, ChangeRight};
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
    access: AccessPolicy,
}

impl TrainerService {
    /// A service with no accounts ([`AccessPolicy::Open`]).
    pub fn new(store: Arc<dyn TrainerStore>) -> Self {
        let token_key = store.token_key();
        TrainerService {
            store,
            token_key,
            access: AccessPolicy::Open,
        }
    }

    /// The same service with these rules for mutations.
    pub fn with_access(mut self, access: AccessPolicy) -> Self {
        self.access = access;
        self
    }

    pub fn access(&self) -> &AccessPolicy {
        &self.access
    }

    /// The store's long reads now (see [`TrainerStore::scans`]).
    pub fn scans(&self) -> crate::store::Scans {
        self.store.scans()
    }

    /// Whether the store answers now.
    pub async fn ready(&self) -> Result<(), StoreError> {
        self.store.ping().await
    }

    /// Makes the store durable in its own files and stops it (see [`TrainerStore::close`]).
    pub async fn close(&self) -> Result<(), StoreError> {
        self.store.close().await
    }

    /// `createTrainer`. With accounts, only a user may create, and becomes the owner.
    pub async fn create(&self, caller: &Caller, req: CreateRequest) -> Result<Trainer, Error> {
        let owner = self
            .access
            .create(caller)
            .map_err(|_| Error::NotAuthorized {
                field: "createTrainer",
            })?;
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
            owner,
        };
        self.store
            .insert(&trainer)
            .await
            .map_err(|e| store_error(e, trainer.id.as_str(), None, "createTrainer"))?;
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
            .map_err(|e| store_error(e, id.as_str(), None, ""))
    }

    /// `updateTrainers`. With accounts, only the owner or an admin may; a refusal changes
    /// nothing.
    pub async fn update(&self, caller: &Caller, req: UpdateRequest) -> Result<Trainer, Error> {
        const FIELD: &str = "updateTrainers";
        let right = self.access.change(caller);
        if right == ChangeRight::Denied {
            return Err(Error::NotAuthorized { field: FIELD });
        }
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
            owner: right.owner(),
        };
        let Some(id) = TrainerId::parse(&req.id) else {
            return Err(Error::NotFound { id: req.id });
        };
        self.store
            .update(&id, &patch, &pre, Timestamp::now())
            .await
            .map_err(|e| store_error(e, id.as_str(), pre.version, FIELD))
    }

    /// `deleteTrainer`: deletes a trainer that is at `expected_version` (when given) and holds
    /// `condition`. With accounts, only the owner or an admin may; a refusal changes nothing.
    pub async fn delete(
        &self,
        caller: &Caller,
        id: &str,
        expected_version: Option<i32>,
        condition: Option<Filter>,
    ) -> Result<Trainer, Error> {
        const FIELD: &str = "deleteTrainer";
        let right = self.access.change(caller);
        if right == ChangeRight::Denied {
            return Err(Error::NotAuthorized { field: FIELD });
        }
        let Some(id) = TrainerId::parse(id) else {
            return Err(Error::NotFound { id: id.to_string() });
        };
        let pre = Precondition {
            version: expected_version.map(i64::from),
            condition,
            owner: right.owner(),
        };
        self.store
            .delete(&id, &pre)
            .await
            .map_err(|e| store_error(e, id.as_str(), pre.version, FIELD))
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
            .map_err(|e| store_error(e, "", None, ""))?;
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
            .map_err(|e| store_error(e, "", None, ""))
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
            .map_err(|e| store_error(e, "", None, ""))?;
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

/// The error a client sees of a store's refusal; `field` names the mutation (a read has none).
fn store_error(e: StoreError, id: &str, expected: Option<i64>, field: &'static str) -> Error {
    match e {
        StoreError::NotOwner => Error::NotAuthorized { field },
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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    use async_trait::async_trait;

    use super::*;
    use crate::access::{Owner, User};
    use crate::filter::FilterKind;
    use crate::store::StorePage;

    /// A store in a map, with the stores' rules for preconditions; it remembers the last
    /// precondition it was given.
    #[derive(Default)]
    struct MapStore {
        rows: Mutex<HashMap<TrainerId, Trainer>>,
        writes: AtomicUsize,
        last: Mutex<Option<Precondition>>,
    }

    impl MapStore {
        fn rows(&self) -> std::sync::MutexGuard<'_, HashMap<TrainerId, Trainer>> {
            self.rows.lock().unwrap_or_else(|e| e.into_inner())
        }

        fn check(&self, id: &TrainerId, pre: &Precondition) -> Result<Trainer, StoreError> {
            *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(pre.clone());
            let rows = self.rows();
            let old = rows.get(id).ok_or(StoreError::NotFound)?;
            if pre.owner.is_some() && pre.owner != old.owner {
                return Err(StoreError::NotOwner);
            }
            if let Some(v) = pre.version {
                if v != old.version {
                    return Err(StoreError::VersionConflict {
                        actual: old.version,
                    });
                }
            }
            if pre.condition.as_ref().is_some_and(|c| !c.matches(old)) {
                return Err(StoreError::ConditionFailed);
            }
            Ok(old.clone())
        }
    }

    #[async_trait]
    impl TrainerStore for MapStore {
        async fn insert(&self, t: &Trainer) -> Result<(), StoreError> {
            self.writes.fetch_add(1, Ordering::SeqCst);
            self.rows().insert(t.id.clone(), t.clone());
            Ok(())
        }
        async fn get(&self, id: &TrainerId) -> Result<Option<Trainer>, StoreError> {
            Ok(self.rows().get(id).cloned())
        }
        async fn update(
            &self,
            id: &TrainerId,
            patch: &TrainerPatch,
            pre: &Precondition,
            now: Timestamp,
        ) -> Result<Trainer, StoreError> {
            let old = self.check(id, pre)?;
            let new = patch.apply(&old, now);
            self.writes.fetch_add(1, Ordering::SeqCst);
            self.rows().insert(id.clone(), new.clone());
            Ok(new)
        }
        async fn delete(&self, id: &TrainerId, pre: &Precondition) -> Result<Trainer, StoreError> {
            self.check(id, pre)?;
            self.writes.fetch_add(1, Ordering::SeqCst);
            self.rows().remove(id).ok_or(StoreError::NotFound)
        }
        async fn list(
            &self,
            _: &ListQuery<'_>,
            _: Option<&[u8]>,
            _: usize,
        ) -> Result<StorePage, StoreError> {
            Ok(StorePage::default())
        }
        async fn count(&self, _: &ListQuery<'_>) -> Result<u64, StoreError> {
            Ok(self.rows().len() as u64)
        }
        async fn list_by_specialty(
            &self,
            _: &SpecialtyQuery<'_>,
            _: Option<&[u8]>,
            _: usize,
        ) -> Result<StorePage, StoreError> {
            Ok(StorePage::default())
        }
        fn token_key(&self) -> TokenKey {
            TokenKey::new([7; 32])
        }
        async fn ping(&self) -> Result<(), StoreError> {
            Ok(())
        }
    }

    fn user(sub: &str, name: &str, groups: &[&str]) -> Caller {
        Caller::User(User {
            sub: sub.into(),
            username: name.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        })
    }

    fn jane() -> Caller {
        user("sub-jane", "jane", &[])
    }

    fn joe() -> Caller {
        user("sub-joe", "joe", &[])
    }

    fn admin() -> Caller {
        user("sub-ann", "ann", &["Admins"])
    }

    fn services() -> (Arc<MapStore>, TrainerService) {
        let store = Arc::new(MapStore::default());
        let service = TrainerService::new(store.clone()).with_access(AccessPolicy::Owners {
            admin_group: Some("Admins".into()),
        });
        (store, service)
    }

    fn new_trainer() -> CreateRequest {
        CreateRequest {
            first_name: "Ana".into(),
            last_name: "Lee".into(),
            age: 30,
            specialty: None,
        }
    }

    fn rename(id: &TrainerId, to: &str) -> UpdateRequest {
        UpdateRequest {
            id: id.to_string(),
            first_name: Some(Some(to.into())),
            ..UpdateRequest::default()
        }
    }

    fn refused(r: Result<Trainer, Error>, field: &str) {
        match r {
            Err(e @ Error::NotAuthorized { .. }) => {
                assert_eq!(e.error_type(), crate::ErrorType::NotAuthorized);
                assert_eq!(e.error_type().as_str(), "Unauthorized");
                assert_eq!(
                    e.to_string(),
                    format!("Not Authorized to access {field} on type Mutation")
                );
            }
            other => panic!("expected a refusal of {field}, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn without_accounts_the_api_key_does_everything_and_owns_nothing() {
        let store = Arc::new(MapStore::default());
        let service = TrainerService::new(store.clone());
        assert_eq!(service.access(), &AccessPolicy::Open);
        let t = service
            .create(&Caller::ApiKey, new_trainer())
            .await
            .expect("create");
        assert_eq!(t.owner, None);
        let t = service
            .update(&Caller::ApiKey, rename(&t.id, "Bo"))
            .await
            .expect("update");
        assert_eq!(t.first_name, "Bo");
        service
            .delete(&Caller::ApiKey, t.id.as_str(), None, None)
            .await
            .expect("delete");
        assert_eq!(store.rows().len(), 0);
    }

    #[tokio::test]
    async fn with_accounts_the_creator_owns_the_trainer() {
        let (store, service) = services();
        let t = service
            .create(&jane(), new_trainer())
            .await
            .expect("create");
        assert_eq!(t.owner, Some(Owner::of("sub-jane", "jane")));
        assert_eq!(store.rows()[&t.id].owner, t.owner);
        let t = service
            .update(&jane(), rename(&t.id, "Bo"))
            .await
            .expect("the owner updates");
        assert_eq!((t.first_name.as_str(), t.version), ("Bo", 2));
        assert_eq!(t.owner, Some(Owner::of("sub-jane", "jane")), "kept");
        service
            .delete(&jane(), t.id.as_str(), None, None)
            .await
            .expect("the owner deletes");
        assert!(store.rows().is_empty());
    }

    #[tokio::test]
    async fn with_accounts_the_api_key_is_refused_every_mutation_and_nothing_changes() {
        let (store, service) = services();
        refused(
            service.create(&Caller::ApiKey, new_trainer()).await,
            "createTrainer",
        );
        let t = service
            .create(&jane(), new_trainer())
            .await
            .expect("create");
        let writes = store.writes.load(Ordering::SeqCst);
        refused(
            service.update(&Caller::ApiKey, rename(&t.id, "Bo")).await,
            "updateTrainers",
        );
        // Refused before validation, as AppSync refuses before its resolver runs.
        refused(
            service
                .update(&Caller::ApiKey, UpdateRequest::default())
                .await,
            "updateTrainers",
        );
        refused(
            service
                .delete(&Caller::ApiKey, t.id.as_str(), None, None)
                .await,
            "deleteTrainer",
        );
        assert_eq!(store.writes.load(Ordering::SeqCst), writes);
        assert_eq!(store.rows()[&t.id], t);
    }

    #[tokio::test]
    async fn someone_elses_trainer_is_refused_and_unchanged() {
        let (store, service) = services();
        let t = service
            .create(&jane(), new_trainer())
            .await
            .expect("create");
        let writes = store.writes.load(Ordering::SeqCst);
        refused(
            service.update(&joe(), rename(&t.id, "Bo")).await,
            "updateTrainers",
        );
        refused(
            service.delete(&joe(), t.id.as_str(), None, None).await,
            "deleteTrainer",
        );
        // The same username at another sub is another person.
        refused(
            service
                .update(&user("sub-other", "jane", &[]), rename(&t.id, "Bo"))
                .await,
            "updateTrainers",
        );
        assert_eq!(store.writes.load(Ordering::SeqCst), writes);
        assert_eq!(store.rows()[&t.id], t);
        // A missing trainer is missing, for anyone who may change trainers at all.
        let missing = TrainerId::generate();
        assert!(matches!(
            service.update(&joe(), rename(&missing, "Bo")).await,
            Err(Error::NotFound { .. })
        ));
        assert!(matches!(
            service.delete(&joe(), "not-an-id", None, None).await,
            Err(Error::NotFound { .. })
        ));
    }

    #[tokio::test]
    async fn admins_change_anyones_trainers_and_the_unowned_ones() {
        let (store, service) = services();
        let t = service
            .create(&jane(), new_trainer())
            .await
            .expect("create");
        let t = service
            .update(&admin(), rename(&t.id, "Bo"))
            .await
            .expect("an admin updates");
        assert_eq!(t.owner, Some(Owner::of("sub-jane", "jane")), "still Jane's");
        // A trainer stored before owners existed.
        let old = Trainer {
            owner: None,
            id: TrainerId::generate(),
            ..t.clone()
        };
        store.rows().insert(old.id.clone(), old.clone());
        refused(
            service.update(&jane(), rename(&old.id, "Cy")).await,
            "updateTrainers",
        );
        refused(
            service.delete(&jane(), old.id.as_str(), None, None).await,
            "deleteTrainer",
        );
        let changed = service
            .update(&admin(), rename(&old.id, "Cy"))
            .await
            .expect("an admin updates an unowned trainer");
        assert_eq!(changed.owner, None);
        service
            .delete(&admin(), old.id.as_str(), None, None)
            .await
            .expect("an admin deletes an unowned trainer");
        service
            .delete(&admin(), t.id.as_str(), None, None)
            .await
            .expect("an admin deletes Jane's trainer");
        assert!(store.rows().is_empty());
    }

    #[tokio::test]
    async fn an_owners_write_keeps_the_callers_version_and_condition() {
        let (_, service) = services();
        let t = service
            .create(&jane(), new_trainer())
            .await
            .expect("create");
        let stale = UpdateRequest {
            expected_version: Some(7),
            ..rename(&t.id, "Bo")
        };
        assert!(matches!(
            service.update(&jane(), stale).await,
            Err(Error::Conflict {
                expected: 7,
                actual: 1,
                ..
            })
        ));
        let condition = Filter::parse(
            FilterKind::Condition,
            &serde_json::json!({"age": {"gt": 40}}),
        )
        .expect("a condition");
        assert!(matches!(
            service
                .delete(&jane(), t.id.as_str(), None, condition)
                .await,
            Err(Error::ConditionFailed { .. })
        ));
    }

    #[tokio::test]
    async fn the_owner_is_checked_by_the_store_in_the_write_itself() {
        let (store, service) = services();
        let t = service
            .create(&jane(), new_trainer())
            .await
            .expect("create");
        let last = || {
            store
                .last
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
                .and_then(|p| p.owner)
        };
        service
            .update(&jane(), rename(&t.id, "Bo"))
            .await
            .expect("update");
        assert_eq!(last(), Some(Owner::of("sub-jane", "jane")));
        refused(
            service.delete(&joe(), t.id.as_str(), None, None).await,
            "deleteTrainer",
        );
        assert_eq!(last(), Some(Owner::of("sub-joe", "joe")));
        service
            .update(&admin(), rename(&t.id, "Cy"))
            .await
            .expect("an admin's write");
        assert_eq!(last(), None, "an admin's write needs no owner");
        let open = TrainerService::new(store.clone());
        open.delete(&Caller::ApiKey, t.id.as_str(), None, None)
            .await
            .expect("without accounts");
        assert_eq!(last(), None);
    }
}
