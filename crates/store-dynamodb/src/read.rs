//! Reads of one item by key.

use aws_sdk_dynamodb::Client;
use trainers_core::{StoreError, Trainer, TrainerId};

use crate::error::backend;
use crate::item::{from_item, key};

/// The trainer `id` on `table`, read consistently.
pub(crate) async fn get(
    client: &Client,
    table: &str,
    id: &TrainerId,
) -> Result<Option<Trainer>, StoreError> {
    let out = client
        .get_item()
        .table_name(table)
        .set_key(Some(key(id.as_str())))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| backend("GetItem", e))?;
    out.item.as_ref().map(from_item).transpose()
}

/// Whether `table` answers: a read of a key no trainer has.
pub(crate) async fn ping(client: &Client, table: &str) -> Result<(), StoreError> {
    client
        .get_item()
        .table_name(table)
        .set_key(Some(key("00000000-0000-0000-0000-000000000000")))
        .send()
        .await
        .map_err(|e| backend("GetItem", e))?;
    Ok(())
}
