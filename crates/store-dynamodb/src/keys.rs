//! API keys and the page-token secret in a DynamoDB table of their own, so that every server
//! on one trainers table accepts the same keys and the same page tokens, with no configuration.
//!
//! # The keys table
//!
//! Named `<trainers table>-keys` unless given (`--keys-table`, `TRAINERS_KEYS_TABLE`); made by
//! `trainers table create` ([`crate::table::create_keys_table`]) beside the trainers table. Partition
//! key `id` (S), on-demand billing. Three kinds of item:
//!
//! | `id` | attributes | what |
//! | --- | --- | --- |
//! | `key-` and 12 hex digits | `hash` (B, SHA-256 of the key), `description` (S, absent when none), `createdAt`, `expiresAt` (N, milliseconds since the epoch), `revoked` (BOOL) | an API key |
//! | `secret#page-token` | `secret` (B, 32 random bytes), `createdAt` (N) | the key that signs page tokens |
//! | `marker#first-key` | `createdAt` (N) | put by the server that makes the first key |
//!
//! Ids with `#` are never keys: `list`, `active` and `is_empty` leave them out, and `revoke`
//! finds no key there.
//!
//! # The first key
//!
//! A server that starts with no key anywhere makes one and prints it (as on the embedded
//! store). Of servers starting at once on an empty table, only the one whose conditional put of
//! `marker#first-key` succeeds makes it. (Should that server die between the marker and the
//! key, none is made automatically again: `trainers api-key create` makes one.)
//!
//! # The page-token secret
//!
//! Without `TRAINERS_TOKEN_SECRET`, the first server to start puts 32 random bytes at
//! `secret#page-token` with `attribute_not_exists(id)`; every server reads the item with a
//! consistent read ([`DynamoKeys::page_token_key`]), so all agree on it and a token made by one
//! is accepted by the others. Whoever can read the keys table can sign tokens: give it the
//! access of the trainers table, or less.
//!
//! Servers reload the keys with a consistent `Scan` every second: a key made or revoked by
//! `trainers api-key` applies to all of them within about a second.

use async_trait::async_trait;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use trainers_core::keys::{KeyError, KeyInfo, KeySource, NewKey};
use trainers_core::{StoreError, Timestamp, TokenKey};

use crate::error::{backend, is_condition_failure};
use crate::item::{n, s, Item, ID};
use crate::table::wait_active;

/// What the keys table is called when not named: the trainers table's name and this.
pub const KEYS_TABLE_SUFFIX: &str = "-keys";
/// The item of the page-token secret.
pub const PAGE_TOKEN_SECRET_ID: &str = "secret#page-token";
/// The item put by the server that makes the first key.
pub const FIRST_KEY_MARKER_ID: &str = "marker#first-key";

const HASH: &str = "hash";
const DESCRIPTION: &str = "description";
const CREATED_AT: &str = "createdAt";
const EXPIRES_AT: &str = "expiresAt";
const REVOKED: &str = "revoked";
const SECRET: &str = "secret";

/// The keys table of a trainers table, when not named otherwise.
pub fn keys_table_name(trainers_table: &str) -> String {
    format!("{trainers_table}{KEYS_TABLE_SUFFIX}")
}

/// The DynamoDB [`KeySource`]: API keys in a keys table, as documented on this module.
#[derive(Clone)]
pub struct DynamoKeys {
    client: Client,
    table: String,
}

impl DynamoKeys {
    /// Keys in `table`, which must exist.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoKeys {
            client,
            table: table.into(),
        }
    }

    /// As [`DynamoKeys::new`], after checking that the table exists and waiting until it is
    /// `ACTIVE`.
    pub async fn open(client: Client, table: impl Into<String>) -> Result<Self, StoreError> {
        let keys = Self::new(client, table);
        let missing = "make it with `trainers table create` (with the --table and --keys-table \
                       given here), which makes it beside the trainers table";
        wait_active(&keys.client, &keys.table, missing).await?;
        Ok(keys)
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// The key that signs page tokens, shared by every server on this keys table: read from
    /// `secret#page-token` with a consistent read, or made there by the first server to ask.
    pub async fn page_token_key(&self) -> Result<TokenKey, StoreError> {
        if let Some(key) = self.read_secret().await? {
            return Ok(key);
        }
        let secret: [u8; 32] = rand::random();
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(ID, s(PAGE_TOKEN_SECRET_ID))
            .item(SECRET, AttributeValue::B(Blob::new(secret.to_vec())))
            .item(CREATED_AT, n(Timestamp::now().millis()))
            .condition_expression("attribute_not_exists(#id)")
            .expression_attribute_names("#id", ID)
            .send()
            .await;
        match put {
            Ok(_) => Ok(TokenKey::new(secret)),
            // Another server put it first: theirs is the one.
            Err(e) if is_condition_failure(&e) => self.read_secret().await?.ok_or_else(|| {
                StoreError::backend_msg(format!(
                    "{PAGE_TOKEN_SECRET_ID} in {} is there and then not",
                    self.table
                ))
            }),
            Err(e) => Err(backend("PutItem", e)),
        }
    }

    async fn read_secret(&self) -> Result<Option<TokenKey>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(ID, s(PAGE_TOKEN_SECRET_ID))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| backend("GetItem", e))?;
        let Some(item) = out.item else {
            return Ok(None);
        };
        match item.get(SECRET) {
            Some(AttributeValue::B(blob)) => <[u8; 32]>::try_from(blob.as_ref())
                .map(|bytes| Some(TokenKey::new(bytes)))
                .map_err(|_| {
                    StoreError::backend_msg(format!(
                        "{PAGE_TOKEN_SECRET_ID} in {}: its {SECRET} is not 32 bytes",
                        self.table
                    ))
                }),
            _ => Err(StoreError::backend_msg(format!(
                "{PAGE_TOKEN_SECRET_ID} in {} has no binary {SECRET}",
                self.table
            ))),
        }
    }

    /// Every item of the table, through as many pages as it takes, read consistently.
    async fn scan_all(&self) -> Result<Vec<Item>, KeyError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| self.fail(backend("Scan", e)))?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(last) if !last.is_empty() => start = Some(last),
                _ => return Ok(items),
            }
        }
    }

    /// The items that are keys, read as [`KeyInfo`] with their hash.
    async fn keys(&self) -> Result<Vec<(KeyInfo, Result<[u8; 32], KeyError>)>, KeyError> {
        self.scan_all()
            .await?
            .iter()
            .filter(|item| is_key(item))
            .map(|item| key_from_item(&self.table, item))
            .collect()
    }

    async fn put_key(&self, key: &NewKey) -> Result<(), KeyError> {
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(ID, s(&key.info.id))
            .item(HASH, AttributeValue::B(Blob::new(key.hash().to_vec())))
            .item(CREATED_AT, n(key.info.created_at.millis()))
            .item(EXPIRES_AT, n(key.info.expires_at.millis()))
            .item(REVOKED, AttributeValue::Bool(false))
            .condition_expression("attribute_not_exists(#id)")
            .expression_attribute_names("#id", ID);
        if let Some(description) = &key.info.description {
            put = put.item(DESCRIPTION, s(description));
        }
        put.send()
            .await
            .map(drop)
            .map_err(|e| self.fail(backend("PutItem", e)))
    }
}

impl DynamoKeys {
    fn fail(&self, e: StoreError) -> KeyError {
        KeyError::backend(format!("the keys table {}", self.table), e)
    }
}

fn item_id(item: &Item) -> Option<&str> {
    match item.get(ID) {
        Some(AttributeValue::S(id)) => Some(id),
        _ => None,
    }
}

/// Keys are the items whose id has no `#`.
fn is_key(item: &Item) -> bool {
    item_id(item).is_some_and(|id| !id.contains('#'))
}

/// A key item's info, and its hash (or why it has none: such a key is listed but never accepted).
fn key_from_item(
    table: &str,
    item: &Item,
) -> Result<(KeyInfo, Result<[u8; 32], KeyError>), KeyError> {
    let id = item_id(item).unwrap_or_default().to_string();
    let malformed = |what: &str| {
        KeyError::backend_msg(format!(
            "the API key {id} in the DynamoDB table {table}: {what}"
        ))
    };
    let millis = |name: &str| match item.get(name) {
        Some(AttributeValue::N(text)) => text
            .parse::<i64>()
            .map(Timestamp::from_millis)
            .map_err(|_| malformed(&format!("{name} is not a whole number"))),
        _ => Err(malformed(&format!("{name} is missing or not a number"))),
    };
    let description = match item.get(DESCRIPTION) {
        None | Some(AttributeValue::Null(_)) => None,
        Some(AttributeValue::S(text)) => Some(text.clone()),
        Some(_) => return Err(malformed("description is not a string")),
    };
    let revoked = match item.get(REVOKED) {
        None => false,
        Some(AttributeValue::Bool(b)) => *b,
        Some(_) => return Err(malformed("revoked is not a boolean")),
    };
    let hash = match item.get(HASH) {
        Some(AttributeValue::B(blob)) => {
            <[u8; 32]>::try_from(blob.as_ref()).map_err(|_| malformed("hash is not 32 bytes"))
        }
        _ => Err(malformed("hash is missing or not binary")),
    };
    let info = KeyInfo {
        created_at: millis(CREATED_AT)?,
        expires_at: millis(EXPIRES_AT)?,
        id,
        description,
        revoked,
    };
    Ok((info, hash))
}

#[async_trait]
impl KeySource for DynamoKeys {
    async fn create(
        &self,
        expires_at: Timestamp,
        description: Option<String>,
    ) -> Result<NewKey, KeyError> {
        let key = NewKey::generate(expires_at, description);
        self.put_key(&key).await?;
        Ok(key)
    }

    async fn list(&self) -> Result<Vec<KeyInfo>, KeyError> {
        let mut keys: Vec<KeyInfo> = self.keys().await?.into_iter().map(|(k, _)| k).collect();
        keys.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(keys)
    }

    async fn revoke(&self, id: &str) -> Result<bool, KeyError> {
        if id.contains('#') || id.is_empty() {
            return Ok(false);
        }
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(ID, s(id))
            .update_expression("SET #revoked = :true")
            .condition_expression("attribute_exists(#id)")
            .expression_attribute_names("#id", ID)
            .expression_attribute_names("#revoked", REVOKED)
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(self.fail(backend("UpdateItem", e))),
        }
    }

    async fn is_empty(&self) -> Result<bool, KeyError> {
        Ok(!self.scan_all().await?.iter().any(is_key))
    }

    /// A key item that cannot be read is left out (and logged), not the whole set: it is never
    /// accepted, and the other keys still are.
    async fn active(&self) -> Result<Vec<([u8; 32], i64)>, KeyError> {
        let mut active = Vec::new();
        for item in self.scan_all().await?.iter().filter(|item| is_key(item)) {
            match key_from_item(&self.table, item) {
                Ok((info, Ok(hash))) if !info.revoked => {
                    active.push((hash, info.expires_at.millis()))
                }
                Ok((_, Ok(_))) => {}
                Ok((_, Err(e))) | Err(e) => {
                    tracing::warn!(error = %e, "an API key item is left out")
                }
            }
        }
        Ok(active)
    }

    /// Only the server whose conditional put of `marker#first-key` succeeds makes the key.
    async fn create_first(
        &self,
        expires_at: Timestamp,
        description: Option<String>,
    ) -> Result<Option<NewKey>, KeyError> {
        if !self.is_empty().await? {
            return Ok(None);
        }
        let marked = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(ID, s(FIRST_KEY_MARKER_ID))
            .item(CREATED_AT, n(Timestamp::now().millis()))
            .condition_expression("attribute_not_exists(#id)")
            .expression_attribute_names("#id", ID)
            .send()
            .await;
        match marked {
            Ok(_) => self.create(expires_at, description).await.map(Some),
            Err(e) if is_condition_failure(&e) => Ok(None),
            Err(e) => Err(self.fail(backend("PutItem", e))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_items_are_not_keys() {
        let item = |id: &str| Item::from([(ID.to_string(), s(id))]);
        assert!(!is_key(&item(PAGE_TOKEN_SECRET_ID)));
        assert!(!is_key(&item(FIRST_KEY_MARKER_ID)));
        assert!(is_key(&item("key-0123456789ab")));
        assert!(!is_key(&Item::new()));
    }

    #[test]
    fn a_key_item_reads_back() {
        let key = NewKey::generate(Timestamp::from_millis(2_000), Some("ci".into()));
        let item = Item::from([
            (ID.to_string(), s(&key.info.id)),
            (
                HASH.to_string(),
                AttributeValue::B(Blob::new(key.hash().to_vec())),
            ),
            (DESCRIPTION.to_string(), s("ci")),
            (CREATED_AT.to_string(), n(key.info.created_at.millis())),
            (EXPIRES_AT.to_string(), n(2_000)),
            (REVOKED.to_string(), AttributeValue::Bool(false)),
        ]);
        let (info, hash) = key_from_item("t", &item).expect("a key");
        assert_eq!(info, key.info);
        assert_eq!(hash.ok(), Some(key.hash()));
        let mut short = item.clone();
        short.insert(HASH.to_string(), AttributeValue::B(Blob::new(vec![1, 2])));
        let (_, hash) = key_from_item("t", &short).expect("listed still");
        assert!(hash.is_err());
        let mut bad = item;
        bad.remove(EXPIRES_AT);
        assert!(key_from_item("t", &bad).is_err());
    }
}
