//! Making the table and waiting until it can serve.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, IndexStatus, KeySchemaElement, KeyType,
    Projection, ProjectionType, ScalarAttributeType, TableDescription, TableStatus,
};
use aws_sdk_dynamodb::Client;
use trainers_core::StoreError;

use crate::item::{ID, LAST_NAME, SPECIALTY};
use crate::{SPECIALTY_INDEX, SPECIALTY_LAST_NAME_INDEX};

/// How long [`create_table`] and [`wait_until_active`] wait for `ACTIVE` (DynamoDB itself
/// takes seconds to a minute; local servers, no time).
pub const ACTIVE_TIMEOUT: Duration = Duration::from_secs(300);

/// Makes the table and its indexes as documented on the crate (on-demand billing), then waits
/// until all are `ACTIVE`. A table of that name that exists already is an error.
pub async fn create_table(client: &Client, name: &str) -> Result<(), StoreError> {
    client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(string_attribute(ID)?)
        .attribute_definitions(string_attribute(SPECIALTY)?)
        .attribute_definitions(string_attribute(LAST_NAME)?)
        .key_schema(key_element(ID, KeyType::Hash)?)
        .global_secondary_indexes(index(SPECIALTY_INDEX, SPECIALTY, ID)?)
        .global_secondary_indexes(index(SPECIALTY_LAST_NAME_INDEX, SPECIALTY, LAST_NAME)?)
        .send()
        .await
        .map_err(|e| creation_error(name, e))?;
    wait_until_active(client, name).await
}

/// A global secondary index that projects every attribute.
fn index(name: &str, partition: &str, sort: &str) -> Result<GlobalSecondaryIndex, StoreError> {
    GlobalSecondaryIndex::builder()
        .index_name(name)
        .key_schema(key_element(partition, KeyType::Hash)?)
        .key_schema(key_element(sort, KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()
        .map_err(|e| StoreError::backend(format!("cannot describe the index {name}"), e))
}

/// Makes the table of API keys and the page-token secret, as documented in [`crate::keys`]
/// (partition key `id`, on-demand billing), then waits until it is `ACTIVE`. A table of that
/// name that exists already is an error.
pub async fn create_keys_table(client: &Client, name: &str) -> Result<(), StoreError> {
    client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(string_attribute(ID)?)
        .key_schema(key_element(ID, KeyType::Hash)?)
        .send()
        .await
        .map_err(|e| creation_error(name, e))?;
    wait_active(client, name, "make it with `trainers table create`")
        .await
        .map(drop)
}

/// Whether a [`create_table`] or [`create_keys_table`] error says that the table exists already.
pub fn exists_already(e: &StoreError) -> bool {
    matches!(e, StoreError::Backend { context, .. } if context.ends_with(EXISTS_ALREADY))
}

const EXISTS_ALREADY: &str = "exists already";

fn creation_error<R: std::fmt::Debug + Send + Sync + 'static>(
    name: &str,
    e: aws_sdk_dynamodb::error::SdkError<
        aws_sdk_dynamodb::operation::create_table::CreateTableError,
        R,
    >,
) -> StoreError {
    match e.as_service_error() {
        Some(se) if se.is_resource_in_use_exception() => {
            StoreError::backend_msg(format!("the DynamoDB table {name} {EXISTS_ALREADY}"))
        }
        _ => StoreError::backend(format!("cannot create the DynamoDB table {name}"), e),
    }
}

/// Polls `DescribeTable` until the table and its indexes are `ACTIVE` and checks that the
/// table has the indexes the store queries. (The SDK's waiter sleeps 20 s before its first look.)
pub async fn wait_until_active(client: &Client, name: &str) -> Result<(), StoreError> {
    let missing = format!("make it with `trainers table create --table {name}`");
    let table = wait_active(client, name, &missing).await?;
    check_index(&table, name)
}

/// As [`wait_until_active`] for any table; `missing` says how to make it when it does not exist.
pub(crate) async fn wait_active(
    client: &Client,
    name: &str,
    missing: &str,
) -> Result<TableDescription, StoreError> {
    let started = Instant::now();
    let mut pause = Duration::from_millis(20);
    loop {
        let table = describe(client, name, missing).await?;
        if is_active(&table) {
            return Ok(table);
        }
        if started.elapsed() > ACTIVE_TIMEOUT {
            return Err(StoreError::backend_msg(format!(
                "the DynamoDB table {name} is not ACTIVE after {} s",
                ACTIVE_TIMEOUT.as_secs()
            )));
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(2));
    }
}

async fn describe(
    client: &Client,
    name: &str,
    missing: &str,
) -> Result<TableDescription, StoreError> {
    let out = client
        .describe_table()
        .table_name(name)
        .send()
        .await
        .map_err(|e| match e.as_service_error() {
            Some(se) if se.is_resource_not_found_exception() => {
                StoreError::backend_msg(format!("there is no DynamoDB table {name}: {missing}"))
            }
            _ => StoreError::backend(format!("cannot describe the DynamoDB table {name}"), e),
        })?;
    out.table
        .ok_or_else(|| StoreError::backend_msg(format!("DescribeTable {name} returned no table")))
}

fn is_active(table: &TableDescription) -> bool {
    table.table_status == Some(TableStatus::Active)
        && table
            .global_secondary_indexes()
            .iter()
            .all(|i| i.index_status.is_none() || i.index_status == Some(IndexStatus::Active))
}

fn check_index(table: &TableDescription, name: &str) -> Result<(), StoreError> {
    for wanted in [SPECIALTY_INDEX, SPECIALTY_LAST_NAME_INDEX] {
        let has_index = table
            .global_secondary_indexes()
            .iter()
            .any(|i| i.index_name() == Some(wanted));
        if !has_index {
            return Err(StoreError::backend_msg(format!(
                "the DynamoDB table {name} has no index {wanted} (see the table layout in the README)"
            )));
        }
    }
    Ok(())
}

fn string_attribute(name: &str) -> Result<AttributeDefinition, StoreError> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(|e| StoreError::backend(format!("cannot describe the attribute {name}"), e))
}

fn key_element(name: &str, key_type: KeyType) -> Result<KeySchemaElement, StoreError> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .map_err(|e| StoreError::backend(format!("cannot describe the key {name}"), e))
}
