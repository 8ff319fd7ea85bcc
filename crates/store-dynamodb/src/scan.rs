//! Pages and counts: Scans of the table and Queries of an index, request after request until
//! the page is full or the range read.

use aws_sdk_dynamodb::types::Select;
use aws_sdk_dynamodb::Client;
use trainers_core::{StoreError, StorePage, Trainer};

use crate::error::backend;
use crate::item::{from_item, Item};
use crate::plan::Plan;

/// What one Scan or Query returned.
struct Fetched {
    items: Vec<Item>,
    count: i32,
    last_key: Option<Item>,
}

/// One Scan or Query of `plan` on `table` from `start`: up to `limit` items examined (none: up
/// to DynamoDB's 1 MB), or only their number (`count`). Returns the items, their number and
/// DynamoDB's key to go on from.
async fn fetch(
    client: &Client,
    table: &str,
    plan: &Plan<'_>,
    start: Option<Item>,
    limit: Option<usize>,
    count: bool,
) -> Result<Fetched, StoreError> {
    let limit = limit.map(|l| i32::try_from(l).unwrap_or(i32::MAX));
    let select = count.then_some(Select::Count);
    match plan.index {
        None => {
            let out = client
                .scan()
                .table_name(table)
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
            let out = client
                .query()
                .table_name(table)
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

/// Up to `limit` trainers of `plan` on `table` after `start`, and the position after the last
/// when more follow (`position` makes it).
pub(crate) async fn page(
    client: &Client,
    table: &str,
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
        let found = fetch(client, table, plan, start, limit, false).await?;
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

/// How many trainers `plan` holds on `table`: DynamoDB counts, page by page, unless some
/// conditions are evaluated here.
pub(crate) async fn count(
    client: &Client,
    table: &str,
    plan: &Plan<'_>,
) -> Result<u64, StoreError> {
    if plan.nothing {
        return Ok(0);
    }
    let local = !plan.local.is_empty();
    let mut start = None;
    let mut total = 0u64;
    loop {
        let found = fetch(client, table, plan, start, None, !local).await?;
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
