//! The Amplify-shaped input types of filters, conditions and sorted lists (contract, section 10).
//! They only carry what the client wrote: each is turned into JSON and parsed once by the core's
//! filter model ([`trainers_core::Filter::parse`]), which the Lambda function uses too.

use async_graphql::{Enum, InputObject, InputType, ID};
use trainers_core::{Error, Filter, FilterKind, KeyCondition, SortDirection};

use super::types::Specialty;

#[derive(InputObject, Clone, Default)]
pub struct ModelStringInput {
    ne: Option<String>,
    eq: Option<String>,
    le: Option<String>,
    lt: Option<String>,
    ge: Option<String>,
    gt: Option<String>,
    contains: Option<String>,
    not_contains: Option<String>,
    between: Option<Vec<Option<String>>>,
    begins_with: Option<String>,
}

#[derive(InputObject, Clone, Default)]
pub struct ModelIntInput {
    ne: Option<i32>,
    eq: Option<i32>,
    le: Option<i32>,
    lt: Option<i32>,
    ge: Option<i32>,
    gt: Option<i32>,
    between: Option<Vec<Option<i32>>>,
}

#[derive(InputObject, Clone, Default)]
#[graphql(name = "ModelIDInput")]
pub struct ModelIdInput {
    ne: Option<ID>,
    eq: Option<ID>,
    le: Option<ID>,
    lt: Option<ID>,
    ge: Option<ID>,
    gt: Option<ID>,
    begins_with: Option<ID>,
}

#[derive(InputObject, Clone, Default)]
pub struct ModelSpecialtyInput {
    eq: Option<Specialty>,
    ne: Option<Specialty>,
    attribute_exists: Option<bool>,
}

#[derive(InputObject, Clone, Default)]
pub struct ModelTrainersFilterInput {
    id: Option<ModelIdInput>,
    first_name: Option<ModelStringInput>,
    last_name: Option<ModelStringInput>,
    age: Option<ModelIntInput>,
    specialty: Option<ModelSpecialtyInput>,
    and: Option<Vec<Option<ModelTrainersFilterInput>>>,
    or: Option<Vec<Option<ModelTrainersFilterInput>>>,
    not: Option<Box<ModelTrainersFilterInput>>,
}

#[derive(InputObject, Clone, Default)]
pub struct ModelTrainersConditionInput {
    first_name: Option<ModelStringInput>,
    last_name: Option<ModelStringInput>,
    age: Option<ModelIntInput>,
    specialty: Option<ModelSpecialtyInput>,
    and: Option<Vec<Option<ModelTrainersConditionInput>>>,
    or: Option<Vec<Option<ModelTrainersConditionInput>>>,
    not: Option<Box<ModelTrainersConditionInput>>,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(rename_items = "UPPERCASE")]
pub enum ModelSortDirection {
    Asc,
    Desc,
}

impl From<ModelSortDirection> for SortDirection {
    fn from(d: ModelSortDirection) -> Self {
        match d {
            ModelSortDirection::Asc => SortDirection::Asc,
            ModelSortDirection::Desc => SortDirection::Desc,
        }
    }
}

#[derive(InputObject, Clone, Default)]
pub struct ModelStringKeyConditionInput {
    eq: Option<String>,
    le: Option<String>,
    lt: Option<String>,
    ge: Option<String>,
    gt: Option<String>,
    between: Option<Vec<Option<String>>>,
    begins_with: Option<String>,
}

#[derive(InputObject, Clone, Default)]
pub struct ModelSubscriptionStringInput {
    ne: Option<String>,
    eq: Option<String>,
    le: Option<String>,
    lt: Option<String>,
    ge: Option<String>,
    gt: Option<String>,
    contains: Option<String>,
    not_contains: Option<String>,
    between: Option<Vec<Option<String>>>,
    begins_with: Option<String>,
    #[graphql(name = "in")]
    in_: Option<Vec<Option<String>>>,
    not_in: Option<Vec<Option<String>>>,
}

#[derive(InputObject, Clone, Default)]
pub struct ModelSubscriptionIntInput {
    ne: Option<i32>,
    eq: Option<i32>,
    le: Option<i32>,
    lt: Option<i32>,
    ge: Option<i32>,
    gt: Option<i32>,
    between: Option<Vec<Option<i32>>>,
    #[graphql(name = "in")]
    in_: Option<Vec<Option<i32>>>,
    not_in: Option<Vec<Option<i32>>>,
}

#[derive(InputObject, Clone, Default)]
pub struct ModelSubscriptionTrainersFilterInput {
    id: Option<ModelSubscriptionStringInput>,
    first_name: Option<ModelSubscriptionStringInput>,
    last_name: Option<ModelSubscriptionStringInput>,
    age: Option<ModelSubscriptionIntInput>,
    specialty: Option<ModelSubscriptionStringInput>,
    and: Option<Vec<Option<ModelSubscriptionTrainersFilterInput>>>,
    or: Option<Vec<Option<ModelSubscriptionTrainersFilterInput>>>,
}

/// Parses a filter or condition argument with the core's model.
pub fn filter(kind: FilterKind, input: Option<&impl InputType>) -> Result<Option<Filter>, Error> {
    match input {
        None => Ok(None),
        Some(input) => Filter::parse(kind, &json(input)?),
    }
}

/// Parses the `lastName` key condition of `trainersBySpecialty`.
pub fn key_condition(
    input: Option<&ModelStringKeyConditionInput>,
) -> Result<Option<KeyCondition>, Error> {
    match input {
        None => Ok(None),
        Some(input) => KeyCondition::parse(&json(input)?),
    }
}

fn json(input: &impl InputType) -> Result<serde_json::Value, Error> {
    // Only a non-finite number fails, which none of these types can hold.
    input.to_value().into_json().map_err(Error::internal)
}
