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
//! | attribute | `owner` | S, `"<sub>::<username>"` (accounts: who created it, as Amplify's owner rules write it); absent when none |
//! | global secondary index | `bySpecialty`: partition key `specialty` (S), sort key `id` (S), projection ALL | |
//! | global secondary index | `bySpecialtyLastName`: partition key `specialty` (S), sort key `lastName` (S), projection ALL | |
//!
//! Billing is on demand. Attribute names are the GraphQL field names. Trainers without a
//! specialty are in neither index. `bySpecialty` serves `allTrainers(specialty:)`,
//! `bySpecialtyLastName` ([`SPECIALTY_LAST_NAME_INDEX`]) serves `trainersBySpecialty`. A table
//! made before the second index existed is refused by [`DynamoStore::open`] until the index is
//! added: `trainers table create` adds it ([`add_missing_indexes`]), as the CDK stack does on
//! deploy.
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
//! `attribute_exists(id)`, given an expected version `version = :expected`, and given a
//! `condition` that condition, translated (below) and joined with `AND` in the same
//! `ConditionExpression`, so that it is checked atomically with the write. When the condition
//! fails, the item as it was then (`ReturnValuesOnConditionCheckFailure: ALL_OLD`, where the
//! server supports it; else a consistent read) tells `NotFound` (no item) from a version
//! conflict (another version than the one expected) from `ConditionFailed` (the rest).
//! `updatedAt` is the clock of the server that writes. Reads of one trainer are strongly
//! consistent.
//!
//! # Filters
//!
//! A filter (`filter:`, `condition:`) becomes a DynamoDB expression with every name a `#name`
//! and every operand a `:vN` placeholder; it means exactly what `Filter::matches` means (a
//! trainer without a specialty meets only the negative operators, an empty string operand is
//! rewritten to what it means, DynamoDB refusing some). DynamoDB does not take, in the
//! `FilterExpression` of a query of an index, a condition on a key attribute (`id`, and
//! `lastName` for `bySpecialtyLastName`): such conditions, when they hold together with the
//! rest (a top-level `and`), or the whole filter otherwise, are evaluated by the store on the
//! items the query returns. The items examined, and so the cost, are the same.
//!
//! # Pages
//!
//! A list scans the table (all trainers) or queries an index (one specialty; `trainersBySpecialty`
//! with its `lastName` key condition and direction) for `limit + 1` trainers that match, going
//! on while DynamoDB stops short, so that a page is never empty while matches follow, and the
//! position is given exactly when one more match exists. Pages stay exact with a filter:
//! `limit` counts matches, however many items are examined to find them. A position is the
//! DynamoDB key of the page's last item as JSON inside the signed page token: `{"id":"..."}`
//! for a list, `{"id":"...","lastName":"..."}` for `bySpecialtyLastName` (the specialty is the
//! query's, which the token binds). Scans are strongly consistent; the indexes are eventually
//! consistent, so on DynamoDB a trainer just made or changed may take a moment to show in (or
//! leave) its specialty's lists. Among equal last names the order is the index's, which
//! DynamoDB does not document (dynalite gives them in the order of a hash of the id, moto in
//! `id` order); pages never repeat or skip one, since the position holds the id.
//!
//! Without a filter a request asks for the items still wanted (`Limit`). With one, DynamoDB
//! reads before it filters: each request examines up to 1 MB of items (no `Limit`, so that a
//! selective filter does not cost a request per few items) and the matches beyond the page are
//! dropped. A trainer's item is about 180 bytes, so 1 MB is some 5,800 trainers, and a strongly
//! consistent scan costs 1 read request unit per 4 KB examined. A filtered page examines about
//! `(limit + 1) / (share of trainers that match)` items: with 1,000,000 trainers, a page of 20
//! of a filter that 1 % match examines some 2,100 items (one request, about 100 read units), one
//! that nothing matches the whole table: some 180 MB, 170 requests one after another, about
//! 45,000 read units (about $0.006 at $0.125 per million on demand), and, at some 50,000 items
//! a second from one client (an estimate: one 1 MB request in roughly 100 ms), some 20 seconds.
//! A specialty, or `trainersBySpecialty`'s key condition, narrows what is examined to the
//! index's range. `countTrainers` is the same scan with `Select: COUNT` (DynamoDB counts; no
//! items are sent).
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
mod expr;
mod item;
pub mod keys;
mod table;

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure, Select,
};
use futures::StreamExt;
use sha2::{Digest, Sha256};
use trainers_core::{
    Field, Filter, ListQuery, Precondition, SortDirection, Specialty, SpecialtyQuery, StoreError,
    StorePage, Timestamp, TokenKey, Trainer, TrainerId, TrainerPatch, TrainerStore,
};

pub use aws_sdk_dynamodb::Client;
pub use client::{
    client_from_env, local_client, ATTEMPT_TIMEOUT, CONNECT_TIMEOUT, LOCAL_REGION, MAX_ATTEMPTS,
    OPERATION_TIMEOUT,
};
pub use item::{LEGACY_TIMESTAMP, LEGACY_VERSION};
pub use keys::{keys_table_name, DynamoKeys};
pub use table::{
    add_missing_indexes, create_keys_table, create_table, exists_already, wait_until_active,
    ACTIVE_TIMEOUT,
};

use expr::{split, Expressions, Term};
use item::{
    decode_position, encode_index_position, encode_position, from_item, index_start_key, key, n, s,
    start_key, to_item, Item, AGE, CREATED_AT, FIRST_NAME, ID, LAST_NAME, OWNER, SPECIALTY,
    UPDATED_AT, VERSION,
};

/// The table name when none is given.
pub const DEFAULT_TABLE: &str = "trainers";
/// The global secondary index on `specialty` (partition) and `id` (sort).
pub const SPECIALTY_INDEX: &str = "bySpecialty";
/// The global secondary index on `specialty` (partition) and `lastName` (sort), of
/// `trainersBySpecialty`.
pub const SPECIALTY_LAST_NAME_INDEX: &str = "bySpecialtyLastName";
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

    /// The reason a conditional write on `id` was refused: from the item as it was when the
    /// condition failed (`old`, when DynamoDB returned it) or else as it is now, read
    /// consistently.
    async fn refusal(&self, id: &TrainerId, pre: &Precondition, old: Option<&Item>) -> StoreError {
        let old = match old {
            Some(item) => from_item(item).map(Some),
            None => self.get(id).await,
        };
        match old {
            Err(e) => e,
            Ok(None) => StoreError::NotFound,
            Ok(Some(t)) if pre.owner.is_some() && pre.owner != t.owner => StoreError::NotOwner,
            Ok(Some(t)) => match (pre.version, &pre.condition) {
                (Some(expected), _) if t.version != expected => {
                    StoreError::VersionConflict { actual: t.version }
                }
                (_, Some(_)) => StoreError::ConditionFailed,
                // Only after a race with another write, seen by the read.
                (Some(_), None) => StoreError::VersionConflict { actual: t.version },
                (None, None) => StoreError::NotFound,
            },
        }
    }

    /// One Scan or Query of `plan` from `start`: up to `limit` items examined (none: up to
    /// DynamoDB's 1 MB), or only their number (`count`). Returns the items, their number and
    /// DynamoDB's key to go on from.
    async fn fetch(
        &self,
        plan: &Plan<'_>,
        start: Option<Item>,
        limit: Option<usize>,
        count: bool,
    ) -> Result<Fetched, StoreError> {
        let limit = limit.map(|l| i32::try_from(l).unwrap_or(i32::MAX));
        let select = count.then_some(Select::Count);
        match plan.index {
            None => {
                let out = self
                    .client
                    .scan()
                    .table_name(&self.table)
                    .consistent_read(true)
                    .set_limit(limit)
                    .set_select(select)
                    .set_filter_expression(plan.filter.clone())
                    .set_expression_attribute_names(plan.names.clone())
                    .set_expression_attribute_values(plan.values.clone())
                    .set_exclusive_start_key(start)
                    .send()
                    .await
                    .map_err(|e| backend("Scan", e))?;
                Ok(Fetched {
                    count: out.count,
                    items: out.items.unwrap_or_default(),
                    last_key: out.last_evaluated_key,
                })
            }
            Some(index) => {
                let out = self
                    .client
                    .query()
                    .table_name(&self.table)
                    .index_name(index)
                    .set_key_condition_expression(plan.key_condition.clone())
                    .scan_index_forward(plan.forward)
                    .set_limit(limit)
                    .set_select(select)
                    .set_filter_expression(plan.filter.clone())
                    .set_expression_attribute_names(plan.names.clone())
                    .set_expression_attribute_values(plan.values.clone())
                    .set_exclusive_start_key(start)
                    .send()
                    .await
                    .map_err(|e| backend("Query", e))?;
                Ok(Fetched {
                    count: out.count,
                    items: out.items.unwrap_or_default(),
                    last_key: out.last_evaluated_key,
                })
            }
        }
    }

    /// Up to `limit` trainers of `plan` after `start`, and the position after the last when
    /// more follow (`position` makes it).
    async fn page(
        &self,
        plan: &Plan<'_>,
        mut start: Option<Item>,
        limit: usize,
        position: fn(&Trainer) -> Vec<u8>,
    ) -> Result<StorePage, StoreError> {
        if plan.nothing {
            return Ok(StorePage::default());
        }
        // One more than a page: whether it comes tells whether a next page exists.
        let want = limit + 1;
        let mut items = Vec::with_capacity(want);
        loop {
            // Unfiltered, DynamoDB stops at the items wanted. Filtered, each request examines
            // up to 1 MB and what matches beyond the page is dropped: a `Limit` of the few
            // still wanted would make a selective filter cost a request per few items.
            let limit = (!plan.filtered()).then(|| want - items.len());
            let found = self.fetch(plan, start, limit, false).await?;
            for item in &found.items {
                let t = from_item(item)?;
                if plan.local.iter().all(|f| f.matches(&t)) {
                    items.push(t);
                    if items.len() == want {
                        break;
                    }
                }
            }
            match found.last_key {
                Some(last_key) if items.len() < want => start = Some(last_key),
                _ => break,
            }
        }
        Ok(StorePage::from_rows(items, limit, position, |t| t))
    }

    /// How many trainers `plan` holds: DynamoDB counts, page by page, unless some conditions
    /// are evaluated here.
    async fn count_of(&self, plan: &Plan<'_>) -> Result<u64, StoreError> {
        if plan.nothing {
            return Ok(0);
        }
        let local = !plan.local.is_empty();
        let mut start = None;
        let mut total = 0u64;
        loop {
            let found = self.fetch(plan, start, None, !local).await?;
            if local {
                for item in &found.items {
                    let t = from_item(item)?;
                    if plan.local.iter().all(|f| f.matches(&t)) {
                        total += 1;
                    }
                }
            } else {
                total += u64::try_from(found.count).unwrap_or_default();
            }
            match found.last_key {
                Some(last_key) => start = Some(last_key),
                None => return Ok(total),
            }
        }
    }
}

/// What one Scan or Query returned.
struct Fetched {
    items: Vec<Item>,
    count: i32,
    last_key: Option<Item>,
}

/// How a list or count reads: a consistent scan of the table or a query of an index, with the
/// filter as a `FilterExpression` and, for the conditions that DynamoDB does not take in one
/// (on a key attribute of the index), evaluated here.
struct Plan<'f> {
    /// The index queried; none: the table, scanned.
    index: Option<&'static str>,
    key_condition: Option<String>,
    forward: bool,
    filter: Option<String>,
    names: Option<HashMap<String, String>>,
    values: Option<Item>,
    local: Vec<&'f Filter>,
    /// Nothing can match (a filter or key condition that is always false): nothing is read.
    nothing: bool,
}

impl<'f> Plan<'f> {
    /// `key`: the key condition of an index (`Const(true)` for a scan); `keys`: the fields
    /// that a `FilterExpression` on it may not name.
    fn new(
        mut e: Expressions,
        index: Option<&'static str>,
        key: Term,
        forward: bool,
        filter: Option<&'f Filter>,
        keys: &[Field],
    ) -> Self {
        let (local, remote) = filter.map(|f| split(f, keys)).unwrap_or_default();
        let remote = Term::and(remote.into_iter().map(|f| e.filter(f)).collect::<Vec<_>>());
        let mut nothing = false;
        let mut text = |term: Term| match term {
            Term::Const(true) => None,
            Term::Const(false) => {
                nothing = true;
                None
            }
            Term::Text(t) => Some(t),
        };
        let key_condition = text(key);
        let filter = text(remote);
        let texts: Vec<&str> = [&key_condition, &filter]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect();
        let (names, values) = e.finish(&texts);
        Plan {
            index,
            key_condition,
            forward,
            filter,
            names,
            values,
            local,
            nothing,
        }
    }

    /// Whether some items read may not be kept.
    fn filtered(&self) -> bool {
        self.filter.is_some() || !self.local.is_empty()
    }

    /// All trainers (a consistent scan) or those of one specialty (`bySpecialty`).
    fn list(query: &ListQuery<'f>) -> Self {
        match query.specialty {
            None => Plan::new(
                Expressions::new(),
                None,
                Term::Const(true),
                true,
                query.filter,
                &[],
            ),
            Some(sp) => {
                let mut e = Expressions::of_specialty(sp);
                let key = specialty_key(&mut e, sp);
                // The index's keys, and the table's (which a query of an index may not filter
                // on either).
                Plan::new(
                    e,
                    Some(SPECIALTY_INDEX),
                    Term::Text(key),
                    true,
                    query.filter,
                    &[Field::Id],
                )
            }
        }
    }

    /// One specialty in `lastName` order (`bySpecialtyLastName`).
    fn by_specialty(query: &SpecialtyQuery<'f>) -> Self {
        let mut e = Expressions::of_specialty(query.specialty);
        let specialty = specialty_key(&mut e, query.specialty);
        let key = match query.last_name.map(|k| e.last_name(k)) {
            None | Some(Term::Const(true)) => Term::Text(specialty),
            Some(Term::Const(false)) => Term::Const(false),
            Some(Term::Text(last_name)) => Term::Text(format!("{specialty} AND {last_name}")),
        };
        Plan::new(
            e,
            Some(SPECIALTY_LAST_NAME_INDEX),
            key,
            query.direction == SortDirection::Asc,
            query.filter,
            &[Field::LastName, Field::Id],
        )
    }
}

/// `#specialty = :v`, the partition of an index.
fn specialty_key(e: &mut Expressions, specialty: Specialty) -> String {
    let name = e.name(SPECIALTY);
    let value = e.value(s(specialty.as_str()));
    format!("{name} = {value}")
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

/// The expressions of an update or delete: its `ConditionExpression` (the item exists, is at
/// the version expected and holds the condition) in `e`, with every attribute name the
/// `UpdateExpression` may use (`finish` keeps those used).
fn write_condition(e: &mut Expressions, pre: &Precondition) -> String {
    for name in [
        ID, FIRST_NAME, LAST_NAME, AGE, SPECIALTY, CREATED_AT, UPDATED_AT, VERSION,
    ] {
        e.name(name);
    }
    if let Some(expected) = pre.version {
        e.extend_values(Item::from([(":expected".to_string(), n(expected))]));
    }
    let mut condition = version_condition(pre.version).to_string();
    if let Some(owner) = &pre.owner {
        let name = e.name(OWNER);
        let value = e.value(s(owner.as_str()));
        condition = format!("{condition} AND {name} = {value}");
    }
    if let Some(filter) = &pre.condition {
        let term = e.filter(filter);
        if term != Term::Const(true) {
            let text = e.render(term);
            condition = format!("{condition} AND {text}");
        }
    }
    condition
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
        pre: &Precondition,
        now: Timestamp,
    ) -> Result<Trainer, StoreError> {
        let (expression, values) = update_expression(patch, now);
        let mut e = Expressions::new();
        e.extend_values(values);
        let condition = write_condition(&mut e, pre);
        let (names, values) = e.finish(&[&expression, &condition]);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(id.as_str())))
            .update_expression(expression)
            .condition_expression(condition)
            .set_expression_attribute_names(names)
            .set_expression_attribute_values(values)
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => match out.attributes {
                Some(item) => from_item(&item),
                None => Err(StoreError::backend_msg("UpdateItem returned no attributes")),
            },
            Err(e) if is_condition_failure(&e) => {
                let old = match e.as_service_error() {
                    Some(UpdateItemError::ConditionalCheckFailedException(c)) => c.item(),
                    _ => None,
                };
                Err(self.refusal(id, pre, old).await)
            }
            Err(e) => Err(backend("UpdateItem", e)),
        }
    }

    async fn delete(&self, id: &TrainerId, pre: &Precondition) -> Result<Trainer, StoreError> {
        let mut e = Expressions::new();
        let condition = write_condition(&mut e, pre);
        let (names, values) = e.finish(&[&condition]);
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(id.as_str())))
            .condition_expression(condition)
            .set_expression_attribute_names(names)
            .set_expression_attribute_values(values)
            .return_values(ReturnValue::AllOld)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => match out.attributes {
                Some(item) => from_item(&item),
                None => Err(StoreError::backend_msg("DeleteItem returned no attributes")),
            },
            Err(e) if is_condition_failure(&e) => {
                let old = match e.as_service_error() {
                    Some(DeleteItemError::ConditionalCheckFailedException(c)) => c.item(),
                    _ => None,
                };
                Err(self.refusal(id, pre, old).await)
            }
            Err(e) => Err(backend("DeleteItem", e)),
        }
    }

    async fn list(
        &self,
        query: &ListQuery<'_>,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<StorePage, StoreError> {
        let start = match after {
            Some(position) => Some(start_key(decode_position(position)?, query.specialty)),
            None => None,
        };
        self.page(&Plan::list(query), start, limit, |t| encode_position(&t.id))
            .await
    }

    async fn count(&self, query: &ListQuery<'_>) -> Result<u64, StoreError> {
        self.count_of(&Plan::list(query)).await
    }

    async fn list_by_specialty(
        &self,
        query: &SpecialtyQuery<'_>,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<StorePage, StoreError> {
        let start = match after {
            Some(position) => Some(index_start_key(position, query.specialty)?),
            None => None,
        };
        self.page(
            &Plan::by_specialty(query),
            start,
            limit,
            encode_index_position,
        )
        .await
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
        let bytes = |k: TokenKey| {
            format!(
                "{:?}",
                trainers_core::page_token::encode(
                    &k,
                    trainers_core::page_token::Scope::Specialty(None),
                    b"p"
                )
            )
        };
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
        let bytes = |k: TokenKey| {
            format!(
                "{:?}",
                trainers_core::page_token::encode(
                    &k,
                    trainers_core::page_token::Scope::Specialty(None),
                    b"p"
                )
            )
        };
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
