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
//! Expressions are written flat: `not` is pushed down to single conditions (`not (a and b)` is
//! `NOT a OR NOT b`; `not age < 30` is `#age >= :v`, but a `NOT` stays before a condition on
//! `specialty`, which an item may lack), `and`s in `and`s and `or`s in `or`s are one list, and
//! only an `OR` inside an `AND` is put in parentheses. Four nested `not`s are no nesting at all;
//! a filter as deep as the contract allows nests at most 3 parentheses (dynalite parses in time
//! exponential in the nesting: four nested `NOT`s took it seconds). A read's expression that
//! would still nest deeper than 3 is cut there (the part cut taken as true) and the whole
//! filter is checked by the store on the items returned; a write's condition may nest 5 (it
//! must be checked by DynamoDB, with the write).
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
//! dropped. A trainer's item is about 170 bytes, so 1 MB is some 6,100 trainers, and a strongly
//! consistent scan costs 1 read request unit per 4 KB examined. A filtered page examines about
//! `(limit + 1) / (share of trainers that match)` items: with 1,000,000 trainers, a page of 20
//! of a filter that 1 % match examines some 2,100 items (one request, about 90 read units), one
//! that nothing matches the whole table: some 170 MB, 163 requests one after another, about
//! 41,500 read units (about $0.005 at $0.125 per million on demand), and, at some 50,000 items
//! a second from one client (an estimate: one 1 MB request in roughly 100 ms), some 20 seconds.
//! A specialty, or `trainersBySpecialty`'s key condition, narrows what is examined to the
//! index's range. `countTrainers` is the same scan with `Select: COUNT` (DynamoDB counts; no
//! items are sent).
//!
//! # Bounds on scans
//!
//! A filtered page or a count (a scan: it may examine far more than it returns) takes one of 4
//! turns per store first ([`ScanLimits`]): more wait, at most 5 s, then fail with "the server is
//! busy with scans" (`InternalFailure` to the client). The turn is held by the scanning future,
//! so it is given back when the scan ends, fails, or is dropped with its request. Every read
//! makes at most 1,000 DynamoDB requests (about 1 GB examined, 6,000,000 trainers), then
//! fails. [`DynamoStore::scan_stats`] tells how many scans run, the most that ran at once, and
//! how many were refused.
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
mod error;
mod expr;
mod item;
pub mod keys;
#[cfg(test)]
mod meaning_tests;
mod plan;
mod read;
mod scan;
mod store;
mod table;
mod token;
mod write;

pub use aws_sdk_dynamodb::Client;
pub use client::{
    client_from_env, local_client, ATTEMPT_TIMEOUT, CONNECT_TIMEOUT, LOCAL_REGION, MAX_ATTEMPTS,
    OPERATION_TIMEOUT,
};
pub use item::{LEGACY_TIMESTAMP, LEGACY_VERSION};
pub use keys::{keys_table_name, DynamoKeys};
pub use scan::{ScanLimits, ScanStats};
pub use store::DynamoStore;
pub use table::{
    add_missing_indexes, create_keys_table, create_table, exists_already, wait_until_active,
    ACTIVE_TIMEOUT, DEFAULT_TABLE, SPECIALTY_INDEX, SPECIALTY_LAST_NAME_INDEX,
};
pub use token::{token_key_from_secret, TOKEN_SECRET_ENV};
