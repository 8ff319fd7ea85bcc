//! Writes: each one conditional request, so that none can half-happen; the reason a refused one
//! was refused.

use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use aws_sdk_dynamodb::Client;
use futures::StreamExt;
use trainers_core::{Precondition, StoreError, Timestamp, Trainer, TrainerId, TrainerPatch};

use crate::error::{backend, is_condition_failure};
use crate::expr::{Expressions, Term, MAX_WRITE_DEPTH};
use crate::item::{
    from_item, key, n, s, to_item, Item, AGE, CREATED_AT, FIRST_NAME, ID, LAST_NAME,
    LEGACY_TIMESTAMP, LEGACY_VERSION, OWNER, SPECIALTY, UPDATED_AT, VERSION,
};
use crate::read::get;

/// Puts in flight at once in [`insert_many`] (imports).
pub(crate) const IMPORT_CONCURRENCY: usize = 16;

/// Puts a new trainer, unless one has its id (`AlreadyExists`).
pub(crate) async fn insert(
    client: &Client,
    table: &str,
    trainer: &Trainer,
) -> Result<(), StoreError> {
    client
        .put_item()
        .table_name(table)
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
/// Returns how many were new.
pub(crate) async fn insert_many(
    client: &Client,
    table: &str,
    trainers: &[Trainer],
) -> Result<u64, StoreError> {
    // Always IMPORT_CONCURRENCY puts in flight, not batches that wait for their slowest.
    // (By index: a closure over `&Trainer` would need a higher-ranked lifetime that the
    // boxed `Send` future of `TrainerStore::insert_many` cannot give.)
    let mut puts = futures::stream::iter(0..trainers.len())
        .map(|i| insert(client, table, &trainers[i]))
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

/// Applies `patch` to trainer `id` if it holds `pre`, in one `UpdateItem`; the trainer as
/// written.
pub(crate) async fn update(
    client: &Client,
    table: &str,
    id: &TrainerId,
    patch: &TrainerPatch,
    pre: &Precondition,
    now: Timestamp,
) -> Result<Trainer, StoreError> {
    let (expression, values) = update_expression(patch, now);
    let mut e = Expressions::new();
    e.extend_values(values);
    let condition = write_condition(&mut e, pre)?;
    let (names, values) = e.finish(&[&expression, &condition]);
    let result = client
        .update_item()
        .table_name(table)
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
            Err(refusal(client, table, id, pre, old).await)
        }
        Err(e) => Err(backend("UpdateItem", e)),
    }
}

/// Deletes trainer `id` if it holds `pre`, in one `DeleteItem`; the trainer as it was.
pub(crate) async fn delete(
    client: &Client,
    table: &str,
    id: &TrainerId,
    pre: &Precondition,
) -> Result<Trainer, StoreError> {
    let mut e = Expressions::new();
    let condition = write_condition(&mut e, pre)?;
    let (names, values) = e.finish(&[&condition]);
    let result = client
        .delete_item()
        .table_name(table)
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
            Err(refusal(client, table, id, pre, old).await)
        }
        Err(e) => Err(backend("DeleteItem", e)),
    }
}

/// The reason a conditional write on `id` was refused: from the item as it was when the
/// condition failed (`old`, when DynamoDB returned it) or else as it is now, read
/// consistently.
async fn refusal(
    client: &Client,
    table: &str,
    id: &TrainerId,
    pre: &Precondition,
    old: Option<&Item>,
) -> StoreError {
    let old = match old {
        Some(item) => from_item(item).map(Some),
        None => get(client, table, id).await,
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

/// The condition of update and delete: the item exists and, given `expected`, is at that
/// version. A tutorial item, without a version, counts as version 1.
fn version_condition(expected: Option<i64>) -> Term {
    let exists = Term::atom("attribute_exists(#id)");
    match expected {
        None => exists,
        Some(LEGACY_VERSION) => Term::and([
            exists,
            Term::or([
                Term::atom("attribute_not_exists(#version)"),
                Term::atom("#version = :expected"),
            ]),
        ]),
        Some(_) => Term::and([exists, Term::atom("#version = :expected")]),
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
/// the version expected and holds the condition, all in one flat `AND`) in `e`, with every
/// attribute name the `UpdateExpression` may use (`finish` keeps those used). A condition
/// that would nest more than [`MAX_WRITE_DEPTH`] parentheses is refused (none the contract's
/// bounds allow does).
pub(crate) fn write_condition(
    e: &mut Expressions,
    pre: &Precondition,
) -> Result<String, StoreError> {
    for name in [
        ID, FIRST_NAME, LAST_NAME, AGE, SPECIALTY, CREATED_AT, UPDATED_AT, VERSION,
    ] {
        e.name(name);
    }
    if let Some(expected) = pre.version {
        e.extend_values(Item::from([(":expected".to_string(), n(expected))]));
    }
    // Never folded into the version condition: a condition known to be false must still
    // leave `attribute_exists(#id)` in, or an update of a missing id would make the item.
    let condition = match pre.condition.as_ref().map(|f| e.filter(f)) {
        None | Some(Term::Const(true)) => None,
        Some(Term::Const(false)) => Some(Term::atom("attribute_not_exists(#id)")),
        Some(term) => Some(term),
    };
    // The owner is checked in the write itself, so a change of owner between a read and this
    // write cannot let someone else's change through.
    let owner = pre.owner.as_ref().map(|owner| {
        let name = e.name(OWNER);
        let value = e.value(s(owner.as_str()));
        Term::atom(format!("{name} = {value}"))
    });
    let term = Term::and(
        [version_condition(pre.version)]
            .into_iter()
            .chain(owner)
            .chain(condition),
    );
    if term.depth() > MAX_WRITE_DEPTH {
        return Err(StoreError::backend_msg(format!(
            "the condition nests more than {MAX_WRITE_DEPTH} levels as a DynamoDB expression"
        )));
    }
    Ok(e.render(&term))
}

#[cfg(test)]
mod tests {
    use super::*;
    use trainers_core::{Age, Specialty};

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
