//! Making the table and waiting until it can serve.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, CreateGlobalSecondaryIndexAction, GlobalSecondaryIndex,
    GlobalSecondaryIndexUpdate, IndexStatus, KeySchemaElement, KeyType, Projection, ProjectionType,
    ProvisionedThroughput, ScalarAttributeType, TableDescription, TableStatus,
};
use aws_sdk_dynamodb::Client;
use trainers_core::StoreError;

use crate::item::{ID, LAST_NAME, SPECIALTY};

/// The table name when none is given.
pub const DEFAULT_TABLE: &str = "trainers";
/// The global secondary index on `specialty` (partition) and `id` (sort).
pub const SPECIALTY_INDEX: &str = "bySpecialty";
/// The global secondary index on `specialty` (partition) and `lastName` (sort), of
/// `trainersBySpecialty`.
pub const SPECIALTY_LAST_NAME_INDEX: &str = "bySpecialtyLastName";

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
        .set_global_secondary_indexes(Some(
            INDEXES
                .iter()
                .map(|(name, partition, sort)| index(name, partition, sort))
                .collect::<Result<Vec<_>, _>>()?,
        ))
        .send()
        .await
        .map_err(|e| creation_error(name, e))?;
    wait_until_active(client, name).await
}

/// The indexes of the table: name, partition key, sort key.
const INDEXES: [(&str, &str, &str); 2] = [
    (SPECIALTY_INDEX, SPECIALTY, ID),
    (SPECIALTY_LAST_NAME_INDEX, SPECIALTY, LAST_NAME),
];

/// Adds to an existing table the indexes it lacks (a table made before `bySpecialtyLastName`
/// existed), one at a time as DynamoDB requires, and waits until they are `ACTIVE`. Returns the
/// names of those added.
pub async fn add_missing_indexes(
    client: &Client,
    name: &str,
) -> Result<Vec<&'static str>, StoreError> {
    let missing = format!("make it with `trainers table create --table {name}`");
    let table = wait_active(client, name, &missing).await?;
    // A table on provisioned capacity needs the index's throughput: the table's own. An
    // on-demand table must not be given one.
    let on_demand = table.billing_mode_summary().and_then(|b| b.billing_mode())
        == Some(&BillingMode::PayPerRequest);
    let throughput = match (on_demand, table.provisioned_throughput()) {
        (false, Some(t)) => Some(capacity(
            t.read_capacity_units().unwrap_or(1),
            t.write_capacity_units().unwrap_or(1),
        )?),
        _ => None,
    };
    let mut added = Vec::new();
    for (index, partition, sort) in INDEXES {
        if has_index(&table, index) {
            continue;
        }
        create_index(client, name, (index, partition, sort), throughput.clone())
            .await
            .map_err(|e| {
                StoreError::backend(format!("cannot add the index {index} to {name}"), e)
            })?;
        wait_for_index(client, name, index, &missing).await?;
        added.push(index);
    }
    if !added.is_empty() {
        wait_until_active(client, name).await?;
    }
    Ok(added)
}

/// Waits until the table's `index` and everything else is `ACTIVE`. DynamoDB lists a new index
/// at once (`CREATING`); a server that still does not list it after a few seconds will not build
/// it (dynalite accepts the request and never does).
async fn wait_for_index(
    client: &Client,
    name: &str,
    index: &str,
    missing: &str,
) -> Result<(), StoreError> {
    let built = |table: &TableDescription, waited: Duration| {
        let listed = has_index(table, index);
        if !listed && waited > Duration::from_secs(5) {
            return Err(StoreError::backend_msg(format!(
                "the DynamoDB server accepted the index {index} of {name} but does not build it: \
                 make a new table (trainers export, table create, import)"
            )));
        }
        Ok(listed && is_active(table))
    };
    wait_until(client, name, missing, built).await.map(drop)
}

fn capacity(read: i64, write: i64) -> Result<ProvisionedThroughput, StoreError> {
    ProvisionedThroughput::builder()
        .read_capacity_units(read.max(1))
        .write_capacity_units(write.max(1))
        .build()
        .map_err(|e| StoreError::backend("cannot describe an index's throughput", e))
}

/// One `UpdateTable` that creates one index (DynamoDB takes one at a time).
async fn create_index(
    client: &Client,
    name: &str,
    (index, partition, sort): (&str, &str, &str),
    throughput: Option<ProvisionedThroughput>,
) -> Result<(), StoreError> {
    let action = CreateGlobalSecondaryIndexAction::builder()
        .set_provisioned_throughput(throughput)
        .index_name(index)
        .key_schema(key_element(partition, KeyType::Hash)?)
        .key_schema(key_element(sort, KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()
        .map_err(|e| StoreError::backend(format!("cannot describe the index {index}"), e))?;
    client
        .update_table()
        .table_name(name)
        .attribute_definitions(string_attribute(partition)?)
        .attribute_definitions(string_attribute(sort)?)
        .global_secondary_index_updates(
            GlobalSecondaryIndexUpdate::builder().create(action).build(),
        )
        .send()
        .await
        .map(drop)
        .map_err(|e| StoreError::backend(format!("cannot add the index {index} to {name}"), e))
}

fn has_index(table: &TableDescription, index: &str) -> bool {
    table
        .global_secondary_indexes()
        .iter()
        .any(|i| i.index_name() == Some(index))
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
    wait_until(client, name, missing, |table, _| Ok(is_active(table))).await
}

/// Describes the table, with a growing pause, until `ready` says so of it (given how long it has
/// waited), for at most [`ACTIVE_TIMEOUT`].
async fn wait_until(
    client: &Client,
    name: &str,
    missing: &str,
    ready: impl Fn(&TableDescription, Duration) -> Result<bool, StoreError>,
) -> Result<TableDescription, StoreError> {
    let started = Instant::now();
    let mut pause = Duration::from_millis(20);
    loop {
        let table = describe(client, name, missing).await?;
        if ready(&table, started.elapsed())? {
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
    for (wanted, _, _) in INDEXES {
        if !has_index(table, wanted) {
            return Err(StoreError::backend_msg(format!(
                "the DynamoDB table {name} has no index {wanted}: add it with `trainers table create --table {name}`"
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
