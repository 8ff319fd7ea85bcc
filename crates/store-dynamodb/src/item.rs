//! Trainers as DynamoDB items, and page positions as DynamoDB keys.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use trainers_core::{Owner, Specialty, StoreError, Timestamp, Trainer, TrainerId};

pub(crate) type Item = HashMap<String, AttributeValue>;

pub(crate) const ID: &str = "id";
pub(crate) const FIRST_NAME: &str = "firstName";
pub(crate) const LAST_NAME: &str = "lastName";
pub(crate) const AGE: &str = "age";
pub(crate) const SPECIALTY: &str = "specialty";
pub(crate) const CREATED_AT: &str = "createdAt";
pub(crate) const UPDATED_AT: &str = "updatedAt";
pub(crate) const VERSION: &str = "version";
/// A trainer's owner ("<sub>::<username>"): the attribute Amplify's owner rules write.
pub(crate) const OWNER: &str = "owner";

/// What an item written by the original tutorial (only id, firstName, lastName, age,
/// specialty) reads as: created and updated at this instant, at version 1.
pub const LEGACY_TIMESTAMP: &str = "1970-01-01T00:00:00.000Z";
pub const LEGACY_VERSION: i64 = 1;

pub(crate) fn s(text: impl Into<String>) -> AttributeValue {
    AttributeValue::S(text.into())
}

pub(crate) fn n(number: impl ToString) -> AttributeValue {
    AttributeValue::N(number.to_string())
}

pub(crate) fn to_item(t: &Trainer) -> Item {
    let mut item = Item::from([
        (ID.to_string(), s(t.id.as_str())),
        (FIRST_NAME.to_string(), s(&t.first_name)),
        (LAST_NAME.to_string(), s(&t.last_name)),
        (AGE.to_string(), n(t.age)),
        (CREATED_AT.to_string(), s(t.created_at.to_rfc3339())),
        (UPDATED_AT.to_string(), s(t.updated_at.to_rfc3339())),
        (VERSION.to_string(), n(t.version)),
    ]);
    if let Some(sp) = t.specialty {
        item.insert(SPECIALTY.to_string(), s(sp.as_str()));
    }
    if let Some(owner) = &t.owner {
        item.insert(OWNER.to_string(), s(owner.as_str()));
    }
    item
}

/// Reads an item, giving the fields the original tutorial did not write their defaults:
/// `createdAt` [`LEGACY_TIMESTAMP`], `updatedAt` the `createdAt`, `version` [`LEGACY_VERSION`].
/// A `specialty` that is absent or `NULL` is none.
pub(crate) fn from_item(item: &Item) -> Result<Trainer, StoreError> {
    let id = string(item, ID)?;
    let specialty = match item.get(SPECIALTY) {
        None | Some(AttributeValue::Null(_)) => None,
        Some(AttributeValue::S(text)) => Some(
            text.parse::<Specialty>()
                .map_err(|e| malformed(item, SPECIALTY, &e.to_string()))?,
        ),
        Some(_) => return Err(malformed(item, SPECIALTY, "is not a string")),
    };
    let age = number(item, AGE)?.ok_or_else(|| malformed(item, AGE, "is missing"))?;
    let created_at = timestamp(item, CREATED_AT)?.unwrap_or(legacy_timestamp());
    Ok(Trainer {
        first_name: string(item, FIRST_NAME)?,
        last_name: string(item, LAST_NAME)?,
        age: i32::try_from(age).map_err(|_| malformed(item, AGE, "is out of range"))?,
        specialty,
        created_at,
        updated_at: timestamp(item, UPDATED_AT)?.unwrap_or(created_at),
        version: number(item, VERSION)?.unwrap_or(LEGACY_VERSION),
        owner: match item.get(OWNER) {
            None | Some(AttributeValue::Null(_)) => None,
            Some(AttributeValue::S(text)) => Some(Owner::from_stored(text.clone())),
            Some(_) => return Err(malformed(item, OWNER, "is not a string")),
        },
        id: TrainerId::from_stored(id),
    })
}

fn legacy_timestamp() -> Timestamp {
    Timestamp::from_millis(0)
}

fn string(item: &Item, field: &str) -> Result<String, StoreError> {
    match item.get(field) {
        Some(AttributeValue::S(text)) => Ok(text.clone()),
        Some(_) => Err(malformed(item, field, "is not a string")),
        None => Err(malformed(item, field, "is missing")),
    }
}

fn number(item: &Item, field: &str) -> Result<Option<i64>, StoreError> {
    match item.get(field) {
        None => Ok(None),
        Some(AttributeValue::N(text)) => text
            .parse()
            .map(Some)
            .map_err(|_| malformed(item, field, "is not a whole number")),
        Some(_) => Err(malformed(item, field, "is not a number")),
    }
}

fn timestamp(item: &Item, field: &str) -> Result<Option<Timestamp>, StoreError> {
    match item.get(field) {
        None => Ok(None),
        Some(AttributeValue::S(text)) => Timestamp::parse_rfc3339(text)
            .map(Some)
            .ok_or_else(|| malformed(item, field, "is not an RFC 3339 date-time")),
        Some(_) => Err(malformed(item, field, "is not a string")),
    }
}

fn malformed(item: &Item, field: &str, why: &str) -> StoreError {
    let id = match item.get(ID) {
        Some(AttributeValue::S(id)) => id.as_str(),
        _ => "?",
    };
    StoreError::backend_msg(format!("item {id}: attribute {field} {why}"))
}

/// The key of the table for one id.
pub(crate) fn key(id: &str) -> Item {
    Item::from([(ID.to_string(), s(id))])
}

/// A page position of a list (a scan, or a query of `bySpecialty`): the DynamoDB key of the
/// last item of the page, as compact JSON (`{"id":"..."}`). The index's other key attribute,
/// `specialty`, is the query's, which the page token binds already.
pub(crate) fn encode_position(id: &TrainerId) -> Vec<u8> {
    serde_json::json!({ ID: id.as_str() })
        .to_string()
        .into_bytes()
}

/// A page position of `bySpecialtyLastName`: the id and last name of the page's last item
/// (`{"id":"...","lastName":"..."}`); its specialty is the query's.
pub(crate) fn encode_index_position(t: &Trainer) -> Vec<u8> {
    serde_json::json!({ ID: t.id.as_str(), LAST_NAME: t.last_name })
        .to_string()
        .into_bytes()
}

/// The non-empty strings of a position, by name; exactly `names`, or the position is refused.
fn position_fields<const N: usize>(
    bytes: &[u8],
    names: [&str; N],
) -> Result<[String; N], StoreError> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|_| StoreError::InvalidPosition)?;
    let fields = value.as_object().ok_or(StoreError::InvalidPosition)?;
    if fields.len() != N {
        return Err(StoreError::InvalidPosition);
    }
    let mut out: [String; N] = std::array::from_fn(|_| String::new());
    for (slot, name) in out.iter_mut().zip(names) {
        match fields.get(name).and_then(|v| v.as_str()) {
            Some(text) if !text.is_empty() => *slot = text.to_string(),
            _ => return Err(StoreError::InvalidPosition),
        }
    }
    Ok(out)
}

/// The id in a position of a list; anything [`encode_position`] did not make is refused.
pub(crate) fn decode_position(bytes: &[u8]) -> Result<String, StoreError> {
    let [id] = position_fields(bytes, [ID])?;
    Ok(id)
}

/// The start key on `bySpecialtyLastName` of a position that [`encode_index_position`] made;
/// anything else is refused.
pub(crate) fn index_start_key(bytes: &[u8], specialty: Specialty) -> Result<Item, StoreError> {
    let [id, last_name] = position_fields(bytes, [ID, LAST_NAME])?;
    Ok(Item::from([
        (ID.to_string(), s(id)),
        (LAST_NAME.to_string(), s(last_name)),
        (SPECIALTY.to_string(), s(specialty.as_str())),
    ]))
}

/// The start key of a scan (`specialty` none) or of a query on the index.
pub(crate) fn start_key(id: String, specialty: Option<Specialty>) -> Item {
    let mut item = Item::from([(ID.to_string(), s(id))]);
    if let Some(sp) = specialty {
        item.insert(SPECIALTY.to_string(), s(sp.as_str()));
    }
    item
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trainer(specialty: Option<Specialty>) -> Trainer {
        Trainer {
            id: TrainerId::generate(),
            first_name: "Ann".into(),
            last_name: "Lee".into(),
            age: 44,
            specialty,
            created_at: Timestamp::from_millis(1_795_988_333_123),
            updated_at: Timestamp::from_millis(1_795_988_334_456),
            version: 3,
            owner: None,
        }
    }

    #[test]
    fn a_trainer_round_trips_through_its_item() {
        for sp in [None, Some(Specialty::YouthFitness)] {
            let t = trainer(sp);
            let item = to_item(&t);
            assert_eq!(item.contains_key(SPECIALTY), sp.is_some());
            assert_eq!(item.get(AGE), Some(&n(44)));
            assert_eq!(item.get(CREATED_AT), Some(&s("2026-11-29T21:38:53.123Z")));
            assert_eq!(from_item(&item).ok(), Some(t));
        }
    }

    /// An item's size as DynamoDB counts it for read units: each attribute's name in UTF-8
    /// bytes, plus a string's UTF-8 bytes or a number's (1 byte per 2 significant digits, plus
    /// 1).
    fn dynamodb_size(item: &Item) -> usize {
        item.iter()
            .map(|(name, value)| {
                name.len()
                    + match value {
                        AttributeValue::S(text) => text.len(),
                        AttributeValue::N(digits) => {
                            let significant = digits.trim_start_matches(['-', '0']).len().max(1);
                            significant.div_ceil(2) + 1
                        }
                        other => panic!("not in a trainer's item: {other:?}"),
                    }
            })
            .sum()
    }

    /// The figure docs/stores.md computes scan costs from: a trainer with a 6-letter first
    /// name, a 7-letter last name and a 13-letter specialty is 170 bytes; 148 without one.
    #[test]
    fn a_trainers_item_is_about_170_bytes() {
        let mut t = trainer(Some(Specialty::SeniorFitness));
        t.first_name = "Sophie".into();
        t.last_name = "Johnson".into();
        t.age = 36;
        t.version = 1;
        assert_eq!(dynamodb_size(&to_item(&t)), 170);
        t.specialty = None;
        assert_eq!(dynamodb_size(&to_item(&t)), 148);
    }

    #[test]
    fn an_owner_round_trips_as_amplifys_owner_attribute() {
        let t = Trainer {
            owner: Some(Owner::of("sub-1", "jane")),
            ..trainer(None)
        };
        let item = to_item(&t);
        assert_eq!(item.get(OWNER), Some(&s("sub-1::jane")));
        assert_eq!(from_item(&item).ok(), Some(t));
        assert!(!to_item(&trainer(None)).contains_key(OWNER));
        let mut bad = item.clone();
        bad.insert(OWNER.to_string(), n(1));
        assert!(from_item(&bad).is_err());
        bad.insert(OWNER.to_string(), AttributeValue::Null(true));
        assert_eq!(from_item(&bad).ok().and_then(|t| t.owner), None);
    }

    #[test]
    fn a_tutorial_item_reads_with_the_documented_defaults() {
        let item = Item::from([
            (ID.to_string(), s("4f1c7b9e-0000-4000-8000-000000000001")),
            (FIRST_NAME.to_string(), s("Ann")),
            (LAST_NAME.to_string(), s("Lee")),
            (AGE.to_string(), n(30)),
            (SPECIALTY.to_string(), AttributeValue::Null(true)),
        ]);
        let t = from_item(&item).expect("a tutorial item");
        assert_eq!(t.created_at.to_rfc3339(), LEGACY_TIMESTAMP);
        assert_eq!(t.updated_at.to_rfc3339(), LEGACY_TIMESTAMP);
        assert_eq!((t.version, t.specialty, t.age), (LEGACY_VERSION, None, 30));
    }

    #[test]
    fn a_malformed_item_is_an_error_not_a_panic() {
        let mut item = to_item(&trainer(None));
        item.insert(AGE.to_string(), s("old"));
        assert!(
            matches!(from_item(&item), Err(StoreError::Backend { context, .. }) if context.contains("age"))
        );
        item.insert(AGE.to_string(), n("1e99"));
        assert!(from_item(&item).is_err());
        item.insert(AGE.to_string(), n(30));
        item.insert(SPECIALTY.to_string(), s("YOGA"));
        assert!(from_item(&item).is_err());
        item.remove(ID);
        assert!(from_item(&item).is_err());
    }

    #[test]
    fn positions_round_trip_and_garbage_is_refused() {
        let id = TrainerId::generate();
        let pos = encode_position(&id);
        assert_eq!(decode_position(&pos).ok().as_deref(), Some(id.as_str()));
        for bad in [
            &b"x"[..],
            &[0u8; 3][..],
            &[0xff; 40][..],
            b"{}",
            b"{\"id\":\"\"}",
            b"{\"id\":7}",
            b"{\"id\":\"a\",\"x\":1}",
            b"[\"id\"]",
        ] {
            assert!(
                matches!(decode_position(bad), Err(StoreError::InvalidPosition)),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn index_positions_hold_the_start_key_and_are_not_list_positions() {
        let t = trainer(Some(Specialty::SeniorFitness));
        let pos = encode_index_position(&t);
        let key = index_start_key(&pos, Specialty::SeniorFitness).expect("a start key");
        assert_eq!(key.get(ID), Some(&s(t.id.as_str())));
        assert_eq!(key.get(LAST_NAME), Some(&s("Lee")));
        assert_eq!(key.get(SPECIALTY), Some(&s("SENIORFITNESS")));
        assert_eq!(key.len(), 3);
        assert!(matches!(
            decode_position(&pos),
            Err(StoreError::InvalidPosition)
        ));
        let list_position = encode_position(&t.id);
        for bad in [
            &list_position[..],
            b"{\"id\":\"a\",\"lastName\":\"\"}",
            b"{\"id\":\"a\",\"lastName\":1}",
            b"{\"id\":\"a\",\"lastName\":\"b\",\"x\":1}",
            b"{\"id\":\"a\",\"x\":\"b\"}",
        ] {
            assert!(
                matches!(
                    index_start_key(bad, Specialty::SeniorFitness),
                    Err(StoreError::InvalidPosition)
                ),
                "{bad:?}"
            );
        }
    }
}
