//! The DynamoDB store, on the official AWS SDK.
//!
//! # Table layout
//!
//! The CDK stack deploys the same table; `trainers table create` makes it on any endpoint.
//!
//! | what | name | type |
//! | --- | --- | --- |
//! | partition key | `id` | S (a lowercase hyphenated UUID) |
//! | attribute | `firstName`, `lastName` | S |
//! | attribute | `age` | N |
//! | attribute | `specialty` | S, one of the GraphQL enum values; absent when null |
//! | attribute | `createdAt`, `updatedAt` | S, `AWSDateTime` (`2026-11-24T21:38:53.123Z`) |
//! | attribute | `version` | N |
//! | global secondary index | `bySpecialty`: partition key `specialty` (S), sort key `id` (S), projection ALL | |
//!
//! Billing is on demand. Attribute names are the GraphQL field names. Trainers without a
//! specialty are not in the index, which serves only the `specialty` filter.
//!
//! # Items of the original tutorial
//!
//! Items holding only `id`, `firstName`, `lastName`, `age` and `specialty` read without error:
//! `createdAt` and `updatedAt` as `1970-01-01T00:00:00.000Z` and `version` as 1. Their first
//! update (with `expectedVersion` 1 or none) succeeds and writes the missing attributes: version
//! 2, `updatedAt` now, `createdAt` the epoch still (the real one is unknown). For
//! `expectedVersion` 1 the condition is `attribute_not_exists(version) OR version = :expected`.
//!
//! # Writes
//!
//! Every write is one conditional request, so none can half-happen: create puts with
//! `attribute_not_exists(id)`; update (an `UpdateExpression`) and delete require
//! `attribute_exists(id)` and, given an expected version, `version = :expected`. When the
//! condition fails, a consistent read tells `NotFound` from a version conflict. `updatedAt` is
//! the clock of the server that writes. Reads of one trainer are strongly consistent.
//!
//! # Pages
//!
//! A list scans the table (all trainers) or queries the index (one specialty) for `limit + 1`
//! items, going on while DynamoDB stops short, so that a page is never empty while items follow
//! and the position is given exactly when one more item exists. A position is the DynamoDB key
//! of the page's last item as JSON, `{"id":"..."}`, inside the signed page token. Scans are
//! strongly consistent; the index is eventually consistent, so on DynamoDB a trainer just made
//! or changed may take a moment to show in (or leave) its specialty's list.
//!
//! # Several servers on one table
//!
//! Servers are stateless and may share a table. API keys and the page-token secret are kept in
//! a second table, `<table>-keys` ([`keys`]): every server on the table accepts the same keys
//! and signs page tokens with the same random secret, kept there, so that a token made by one
//! is accepted by all with no configuration. `--token-secret` (`TRAINERS_TOKEN_SECRET`)
//! overrides that secret ([`token_key_from_secret`]). [`DynamoStore::new`] without a secret
//! derives the key from the table name, which anyone who knows the name can do: `trainers
//! serve` never does that.
//!
//! # Connection
//!
//! Credentials and region come from the standard AWS chain ([`client_from_env`]); SSO profiles
//! and `credential_process` are not supported (the SDK's `sso` and `credentials-process`
//! features are left out, as is its default aws-lc TLS: HTTPS is rustls on ring). Throttling and
//! transient faults are retried with backoff, up to [`MAX_ATTEMPTS`] attempts; what still fails
//! is a `StoreError::Backend` with the cause, which the service logs (the client sees
//! `InternalFailure`).

mod client;
mod item;
pub mod keys;
mod table;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use futures::StreamExt;
use sha2::{Digest, Sha256};
use trainers_core::{
    Specialty, StoreError, StorePage, Timestamp, TokenKey, Trainer, TrainerId, TrainerPatch,
    TrainerStore,
};

pub use aws_sdk_dynamodb::Client;
pub use client::{
    client_from_env, local_client, ATTEMPT_TIMEOUT, CONNECT_TIMEOUT, LOCAL_REGION, MAX_ATTEMPTS,
    OPERATION_TIMEOUT,
};
pub use item::{LEGACY_TIMESTAMP, LEGACY_VERSION};
pub use keys::{keys_table_name, DynamoKeys};
pub use table::{
    create_keys_table, create_table, exists_already, wait_until_active, ACTIVE_TIMEOUT,
};

use item::{
    decode_position, encode_position, from_item, key, n, s, start_key, to_item, Item, AGE,
    CREATED_AT, FIRST_NAME, ID, LAST_NAME, SPECIALTY, UPDATED_AT, VERSION,
};

/// The table name when none is given.
pub const DEFAULT_TABLE: &str = "trainers";
/// The global secondary index on `specialty` (partition) and `id` (sort).
pub const SPECIALTY_INDEX: &str = "bySpecialty";
/// Puts in flight at once in [`TrainerStore::insert_many`] (imports).
pub(crate) const IMPORT_CONCURRENCY: usize = 16;
/// The environment variable of the page-token secret (see [`DynamoStore::new`]).
pub const TOKEN_SECRET_ENV: &str = "TRAINERS_TOKEN_SECRET";

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    token_key: TokenKey,
}

impl DynamoStore {
    /// A store on `table`, which must exist. Page tokens are signed with a key derived from
    /// `token_secret` or, without one, from the table name (for tests and the Lambda function;
    /// anyone who knows the table's name can sign such tokens). Servers that share a table must
    /// share the key, or one server's tokens are refused by the next: `trainers serve` takes it
    /// from the keys table ([`DynamoKeys::page_token_key`]) or [`token_key_from_secret`], with
    /// [`DynamoStore::with_token_key`].
    pub fn new(client: Client, table: impl Into<String>, token_secret: Option<&str>) -> Self {
        let table = table.into();
        let token_key = derive_token_key(token_secret, &table);
        Self::with_token_key(client, table, token_key)
    }

    /// A store on `table`, which must exist, signing page tokens with `token_key`.
    pub fn with_token_key(client: Client, table: impl Into<String>, token_key: TokenKey) -> Self {
        DynamoStore {
            client,
            table: table.into(),
            token_key,
        }
    }

    /// As [`DynamoStore::new`], after checking that the table and its index exist and waiting
    /// until they are `ACTIVE`.
    pub async fn open(
        client: Client,
        table: impl Into<String>,
        token_secret: Option<&str>,
    ) -> Result<Self, StoreError> {
        let store = Self::new(client, table, token_secret);
        wait_until_active(&store.client, &store.table).await?;
        Ok(store)
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// The reason a conditional write on `id` was refused, read consistently.
    async fn refusal(&self, id: &TrainerId, expected: Option<i64>) -> StoreError {
        match (self.get(id).await, expected) {
            (Err(e), _) => e,
            (Ok(Some(t)), Some(_)) => StoreError::VersionConflict { actual: t.version },
            (Ok(_), _) => StoreError::NotFound,
        }
    }

    /// Up to `want` items from `start`, and DynamoDB's key to go on from.
    async fn fetch(
        &self,
        specialty: Option<Specialty>,
        start: Option<Item>,
        want: usize,
    ) -> Result<(Vec<Item>, Option<Item>), StoreError> {
        let limit = i32::try_from(want).unwrap_or(i32::MAX);
        match specialty {
            None => {
                let out = self
                    .client
                    .scan()
                    .table_name(&self.table)
                    .consistent_read(true)
                    .limit(limit)
                    .set_exclusive_start_key(start)
                    .send()
                    .await
                    .map_err(|e| backend("Scan", e))?;
                Ok((out.items.unwrap_or_default(), out.last_evaluated_key))
            }
            Some(sp) => {
                let out = self
                    .client
                    .query()
                    .table_name(&self.table)
                    .index_name(SPECIALTY_INDEX)
                    .key_condition_expression("#specialty = :specialty")
                    .expression_attribute_names("#specialty", SPECIALTY)
                    .expression_attribute_values(":specialty", s(sp.as_str()))
                    .limit(limit)
                    .set_exclusive_start_key(start)
                    .send()
                    .await
                    .map_err(|e| backend("Query", e))?;
                Ok((out.items.unwrap_or_default(), out.last_evaluated_key))
            }
        }
    }
}

/// The page-token key of a secret given by the operator (`TRAINERS_TOKEN_SECRET`): the same
/// as [`DynamoStore::new`] derives from it, so servers and the Lambda function given one secret
/// agree.
pub fn token_key_from_secret(secret: &str) -> TokenKey {
    derive_token_key(Some(secret), "")
}

fn derive_token_key(secret: Option<&str>, table: &str) -> TokenKey {
    let mut hash = Sha256::new();
    match secret.filter(|s| !s.is_empty()) {
        Some(secret) => {
            hash.update(b"trainers page tokens, secret:");
            hash.update(secret.as_bytes());
        }
        None => {
            hash.update(b"trainers page tokens, table:");
            hash.update(table.as_bytes());
        }
    }
    TokenKey::new(hash.finalize().into())
}

/// A failed request, the SDK's error kept as the source. (Logged with
/// [`trainers_core::error_chain`]: the SDK's own `DisplayErrorContext` ends with a `Debug` dump,
/// too long for one line.)
fn backend<E, R>(operation: &str, e: SdkError<E, R>) -> StoreError
where
    SdkError<E, R>: std::error::Error + Send + Sync + 'static,
{
    StoreError::backend(format!("DynamoDB {operation}"), e)
}

fn is_condition_failure<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
    e.as_service_error()
        .and_then(|se| se.code())
        .is_some_and(|code| code == "ConditionalCheckFailedException")
}

/// The condition of update and delete: the item exists and, given `expected`, is at that
/// version. A tutorial item, without a version, counts as version 1.
fn version_condition(expected: Option<i64>) -> &'static str {
    match expected {
        None => "attribute_exists(#id)",
        Some(LEGACY_VERSION) => {
            "attribute_exists(#id) AND (attribute_not_exists(#version) OR #version = :expected)"
        }
        Some(_) => "attribute_exists(#id) AND #version = :expected",
    }
}

/// The `UpdateExpression` of a patch and its values; it names attributes `#name`, as
/// [`attribute_names`] maps them.
fn update_expression(patch: &TrainerPatch, now: Timestamp) -> (String, Item) {
    let mut set = vec![
        "#updatedAt = :updatedAt".to_string(),
        "#createdAt = if_not_exists(#createdAt, :legacyTimestamp)".to_string(),
        "#version = if_not_exists(#version, :legacyVersion) + :one".to_string(),
    ];
    let mut values = Item::from([
        (":updatedAt".to_string(), s(now.to_rfc3339())),
        (":legacyTimestamp".to_string(), s(LEGACY_TIMESTAMP)),
        (":legacyVersion".to_string(), n(LEGACY_VERSION)),
        (":one".to_string(), n(1)),
    ]);
    let mut change = |field: &str, value: AttributeValue| {
        set.push(format!("#{field} = :{field}"));
        values.insert(format!(":{field}"), value);
    };
    if let Some(first) = &patch.first_name {
        change(FIRST_NAME, s(first.as_str()));
    }
    if let Some(last) = &patch.last_name {
        change(LAST_NAME, s(last.as_str()));
    }
    if let Some(age) = patch.age {
        change(AGE, n(age.get()));
    }
    if let Some(Some(sp)) = patch.specialty {
        change(SPECIALTY, s(sp.as_str()));
    }
    let mut expression = format!("SET {}", set.join(", "));
    if patch.specialty == Some(None) {
        expression.push_str(" REMOVE #specialty");
    }
    (expression, values)
}

/// `#name` for every attribute an expression may mention.
fn attribute_names() -> std::collections::HashMap<String, String> {
    [
        ID, FIRST_NAME, LAST_NAME, AGE, SPECIALTY, CREATED_AT, UPDATED_AT, VERSION,
    ]
    .into_iter()
    .map(|name| (format!("#{name}"), name.to_string()))
    .collect()
}

#[async_trait]
impl TrainerStore for DynamoStore {
    async fn insert(&self, trainer: &Trainer) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(trainer)))
            .condition_expression("attribute_not_exists(#id)")
            .expression_attribute_names("#id", ID)
            .send()
            .await
            .map(drop)
            .map_err(|e| {
                if is_condition_failure(&e) {
                    StoreError::AlreadyExists
                } else {
                    backend("PutItem", e)
                }
            })
    }

    /// Conditional puts, [`IMPORT_CONCURRENCY`] at a time: `BatchWriteItem` would overwrite.
    async fn insert_many(&self, trainers: &[Trainer]) -> Result<u64, StoreError> {
        // Always IMPORT_CONCURRENCY puts in flight, not batches that wait for their slowest.
        // (By index: a closure over `&Trainer` would need a higher-ranked lifetime that the
        // boxed `Send` future of `insert` cannot give.)
        let mut puts = futures::stream::iter(0..trainers.len())
            .map(|i| self.insert(&trainers[i]))
            .buffer_unordered(IMPORT_CONCURRENCY);
        let mut stored = 0;
        while let Some(result) = puts.next().await {
            match result {
                Ok(()) => stored += 1,
                Err(StoreError::AlreadyExists) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(stored)
    }

    async fn get(&self, id: &TrainerId) -> Result<Option<Trainer>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(id.as_str())))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| backend("GetItem", e))?;
        out.item.as_ref().map(from_item).transpose()
    }

    async fn update(
        &self,
        id: &TrainerId,
        patch: &TrainerPatch,
        pre: &trainers_core::Precondition,
        now: Timestamp,
    ) -> Result<Trainer, StoreError> {
        let expected_version = pre.version;
        let (expression, mut values) = update_expression(patch, now);
        if let Some(expected) = expected_version {
            values.insert(":expected".to_string(), n(expected));
        }
        let condition = version_condition(expected_version);
        let names = attribute_names()
            .into_iter()
            .filter(|(name, _)| {
                expression.contains(name.as_str()) || condition.contains(name.as_str())
            })
            .collect();
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(id.as_str())))
            .update_expression(expression)
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(out) => match out.attributes {
                Some(item) => from_item(&item),
                None => Err(StoreError::backend_msg("UpdateItem returned no attributes")),
            },
            Err(e) if is_condition_failure(&e) => Err(self.refusal(id, expected_version).await),
            Err(e) => Err(backend("UpdateItem", e)),
        }
    }

    async fn delete(
        &self,
        id: &TrainerId,
        pre: &trainers_core::Precondition,
    ) -> Result<Trainer, StoreError> {
        let expected_version = pre.version;
        let mut request = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(id.as_str())))
            .condition_expression(version_condition(expected_version))
            .expression_attribute_names("#id", ID)
            .return_values(ReturnValue::AllOld);
        if let Some(expected) = expected_version {
            request = request
                .expression_attribute_names("#version", VERSION)
                .expression_attribute_values(":expected", n(expected));
        }
        match request.send().await {
            Ok(out) => match out.attributes {
                Some(item) => from_item(&item),
                None => Err(StoreError::backend_msg("DeleteItem returned no attributes")),
            },
            Err(e) if is_condition_failure(&e) => Err(self.refusal(id, expected_version).await),
            Err(e) => Err(backend("DeleteItem", e)),
        }
    }

    async fn count(&self, _q: &trainers_core::ListQuery<'_>) -> Result<u64, StoreError> { todo!() }
    async fn list_by_specialty(&self, _q: &trainers_core::SpecialtyQuery<'_>, _a: Option<&[u8]>, _l: usize) -> Result<StorePage, StoreError> { todo!() }
    async fn list(
        &self,
        q: &trainers_core::ListQuery<'_>,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<StorePage, StoreError> {
        let specialty = q.specialty;
        let mut start = match after {
            Some(position) => Some(start_key(decode_position(position)?, specialty)),
            None => None,
        };
        // One more than a page: whether it comes tells whether a next page exists.
        let want = limit + 1;
        let mut items = Vec::with_capacity(want);
        loop {
            let (found, last_key) = self.fetch(specialty, start, want - items.len()).await?;
            for item in &found {
                items.push(from_item(item)?);
            }
            match last_key {
                Some(last_key) if items.len() < want => start = Some(last_key),
                _ => break,
            }
        }
        let next = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|t| encode_position(&t.id))
        } else {
            None
        };
        Ok(StorePage { items, next })
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key("00000000-0000-0000-0000-000000000000")))
            .send()
            .await
            .map_err(|e| backend("GetItem", e))?;
        Ok(())
    }

    fn token_key(&self) -> TokenKey {
        self.token_key.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trainers_core::Age;

    #[test]
    fn token_keys_depend_on_the_secret_else_on_the_table() {
        let bytes =
            |k: TokenKey| format!("{:?}", trainers_core::page_token::encode(&k, None, b"p"));
        let a = bytes(derive_token_key(Some("s1"), "t"));
        assert_eq!(a, bytes(derive_token_key(Some("s1"), "other table")));
        assert_ne!(a, bytes(derive_token_key(Some("s2"), "t")));
        assert_ne!(a, bytes(derive_token_key(None, "t")));
        assert_eq!(
            bytes(derive_token_key(None, "t")),
            bytes(derive_token_key(Some(""), "t"))
        );
        assert_ne!(
            bytes(derive_token_key(None, "t")),
            bytes(derive_token_key(None, "u"))
        );
    }

    #[test]
    fn a_given_secret_keys_tokens_as_new_does() {
        let bytes =
            |k: TokenKey| format!("{:?}", trainers_core::page_token::encode(&k, None, b"p"));
        assert_eq!(
            bytes(token_key_from_secret("s1")),
            bytes(derive_token_key(Some("s1"), "any table"))
        );
        assert_ne!(
            bytes(token_key_from_secret("s1")),
            bytes(derive_token_key(None, "s1"))
        );
    }

    #[test]
    fn an_update_names_only_what_it_changes() {
        let patch = TrainerPatch {
            age: Age::parse(30).ok(),
            specialty: Some(None),
            ..Default::default()
        };
        let (expression, values) = update_expression(&patch, Timestamp::from_millis(0));
        assert!(expression.contains("#age = :age"), "{expression}");
        assert!(expression.ends_with(" REMOVE #specialty"), "{expression}");
        assert!(!expression.contains("firstName"), "{expression}");
        assert_eq!(values.get(":age"), Some(&n(30)));
        let patch = TrainerPatch {
            specialty: Some(Some(Specialty::Bodybuilding)),
            ..Default::default()
        };
        let (expression, values) = update_expression(&patch, Timestamp::from_millis(0));
        assert!(
            expression.contains("#specialty = :specialty"),
            "{expression}"
        );
        assert!(!expression.contains("REMOVE"), "{expression}");
        assert_eq!(values.get(":specialty"), Some(&s("BODYBUILDING")));
    }
}
