//! The store: a table, a client, the page-token key; [`TrainerStore`] on them.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use trainers_core::{
    ListQuery, Precondition, SpecialtyQuery, StoreError, StorePage, Timestamp, TokenKey, Trainer,
    TrainerId, TrainerPatch, TrainerStore,
};

use crate::item::{
    decode_position, encode_index_position, encode_position, index_start_key, start_key,
};
use crate::plan::Plan;
use crate::scan::{ScanLimits, ScanStats, Scans};
use crate::table::wait_until_active;
use crate::token::derive_token_key;
use crate::{read, scan, write};

/// The DynamoDB store. Its clones share one table, client and bound on scans
/// ([`ScanLimits`]).
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    token_key: TokenKey,
    scans: Arc<Scans>,
}

impl DynamoStore {
    /// A store on `table`, which must exist. Page tokens are signed with a key derived from
    /// `token_secret` or, without one, from the table name (for tests and the Lambda function;
    /// anyone who knows the table's name can sign such tokens). Servers that share a table must
    /// share the key, or one server's tokens are refused by the next: `trainers serve` takes it
    /// from the keys table ([`crate::keys::DynamoKeys::page_token_key`]) or
    /// [`crate::token::token_key_from_secret`], with [`DynamoStore::with_token_key`].
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
            scans: Arc::new(Scans::new(ScanLimits::DEFAULT)),
        }
    }

    /// The store with other bounds on its scans than [`ScanLimits::DEFAULT`] (a store, and its
    /// clones, after this one).
    pub fn with_scan_limits(mut self, limits: ScanLimits) -> Self {
        self.scans = Arc::new(Scans::new(limits));
        self
    }

    /// The bounds on this store's scans.
    pub fn scan_limits(&self) -> ScanLimits {
        self.scans.limits()
    }

    /// What this store's scans (filtered pages, counts) are doing: how many run now, the most
    /// that ran at once, how many were refused.
    pub fn scan_stats(&self) -> ScanStats {
        self.scans.stats()
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
}

#[async_trait]
impl TrainerStore for DynamoStore {
    async fn insert(&self, trainer: &Trainer) -> Result<(), StoreError> {
        write::insert(&self.client, &self.table, trainer).await
    }

    /// Conditional puts, `write::IMPORT_CONCURRENCY` (16) at a time: `BatchWriteItem` would
    /// overwrite.
    async fn insert_many(&self, trainers: &[Trainer]) -> Result<u64, StoreError> {
        write::insert_many(&self.client, &self.table, trainers).await
    }

    async fn get(&self, id: &TrainerId) -> Result<Option<Trainer>, StoreError> {
        read::get(&self.client, &self.table, id).await
    }

    async fn update(
        &self,
        id: &TrainerId,
        patch: &TrainerPatch,
        pre: &Precondition,
        now: Timestamp,
    ) -> Result<Trainer, StoreError> {
        write::update(&self.client, &self.table, id, patch, pre, now).await
    }

    async fn delete(&self, id: &TrainerId, pre: &Precondition) -> Result<Trainer, StoreError> {
        write::delete(&self.client, &self.table, id, pre).await
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
        let plan = Plan::list(query);
        scan::page(
            &self.client,
            &self.table,
            &self.scans,
            &plan,
            start,
            limit,
            |t| encode_position(&t.id),
        )
        .await
    }

    async fn count(&self, query: &ListQuery<'_>) -> Result<u64, StoreError> {
        scan::count(&self.client, &self.table, &self.scans, &Plan::list(query)).await
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
        let plan = Plan::by_specialty(query);
        scan::page(
            &self.client,
            &self.table,
            &self.scans,
            &plan,
            start,
            limit,
            encode_index_position,
        )
        .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        read::ping(&self.client, &self.table).await
    }

    fn scans(&self) -> trainers_core::Scans {
        let stats = self.scan_stats();
        trainers_core::Scans {
            running: stats.running,
            peak: stats.peak,
        }
    }

    fn token_key(&self) -> TokenKey {
        self.token_key.clone()
    }
}
