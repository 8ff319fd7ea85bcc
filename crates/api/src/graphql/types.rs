//! The schema's output types and scalars: `Trainers`, `PaginatedTrainers`, `Specialty`,
//! `AWSDateTime`.

use std::sync::Arc;

use async_graphql::{Enum, Object, Scalar, ScalarType, Value, ID};
use trainers_core::{Timestamp, Trainer};

use super::error::{graphql_error, ErrorType};
use crate::events::{selects, Selection};

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "Specialty", rename_items = "UPPERCASE")]
pub enum Specialty {
    Bodybuilding,
    Youthfitness,
    Seniorfitness,
    Correctiveexercise,
}

impl From<Specialty> for trainers_core::Specialty {
    fn from(s: Specialty) -> Self {
        match s {
            Specialty::Bodybuilding => trainers_core::Specialty::Bodybuilding,
            Specialty::Youthfitness => trainers_core::Specialty::YouthFitness,
            Specialty::Seniorfitness => trainers_core::Specialty::SeniorFitness,
            Specialty::Correctiveexercise => trainers_core::Specialty::CorrectiveExercise,
        }
    }
}

impl From<trainers_core::Specialty> for Specialty {
    fn from(s: trainers_core::Specialty) -> Self {
        match s {
            trainers_core::Specialty::Bodybuilding => Specialty::Bodybuilding,
            trainers_core::Specialty::YouthFitness => Specialty::Youthfitness,
            trainers_core::Specialty::SeniorFitness => Specialty::Seniorfitness,
            trainers_core::Specialty::CorrectiveExercise => Specialty::Correctiveexercise,
        }
    }
}

/// AppSync's `AWSDateTime`: RFC 3339 in UTC with milliseconds.
pub struct AwsDateTime(pub Timestamp);

#[Scalar(name = "AWSDateTime")]
impl ScalarType for AwsDateTime {
    fn parse(value: Value) -> async_graphql::InputValueResult<Self> {
        match &value {
            Value::String(s) => Timestamp::parse_rfc3339(s)
                .map(AwsDateTime)
                .ok_or_else(|| async_graphql::InputValueError::custom("not an RFC 3339 date-time")),
            _ => Err(async_graphql::InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_rfc3339())
    }
}

/// A trainer as GraphQL shows it. `selected`, when set, holds the fields a mutation selected:
/// a subscriber sees only those, as on AppSync.
pub struct Trainers {
    pub(super) trainer: Arc<Trainer>,
    pub(super) selected: Selection,
}

impl Trainers {
    pub(super) fn full(trainer: Trainer) -> Self {
        Trainers {
            trainer: Arc::new(trainer),
            selected: None,
        }
    }

    fn shows(&self, field: &str) -> bool {
        selects(&self.selected, field)
    }

    /// A non-null field that the mutation did not select: an error, as on AppSync.
    fn required<T>(&self, field: &str, value: T) -> async_graphql::Result<T> {
        if self.shows(field) {
            Ok(value)
        } else {
            Err(graphql_error(
                ErrorType::Validation,
                format!("Cannot return null for non-nullable type: '{field}': select it in the mutation to receive it in subscriptions"),
            ))
        }
    }
}

#[Object(name = "Trainers")]
impl Trainers {
    async fn id(&self) -> async_graphql::Result<ID> {
        self.required("id", ID(self.trainer.id.to_string()))
    }
    async fn first_name(&self) -> async_graphql::Result<&str> {
        self.required("firstName", self.trainer.first_name.as_str())
    }
    async fn last_name(&self) -> async_graphql::Result<&str> {
        self.required("lastName", self.trainer.last_name.as_str())
    }
    async fn age(&self) -> async_graphql::Result<i32> {
        self.required("age", self.trainer.age)
    }
    async fn specialty(&self) -> Option<Specialty> {
        self.trainer
            .specialty
            .filter(|_| self.shows("specialty"))
            .map(Specialty::from)
    }
    async fn created_at(&self) -> async_graphql::Result<AwsDateTime> {
        self.required("createdAt", AwsDateTime(self.trainer.created_at))
    }
    async fn updated_at(&self) -> async_graphql::Result<AwsDateTime> {
        self.required("updatedAt", AwsDateTime(self.trainer.updated_at))
    }
    async fn version(&self) -> async_graphql::Result<i32> {
        let v = i32::try_from(self.trainer.version).unwrap_or(i32::MAX);
        self.required("version", v)
    }
    /// Who created it (`"<sub>::<username>"`), when a signed-in user did; never an input.
    async fn owner(&self) -> Option<&str> {
        self.trainer
            .owner
            .as_ref()
            .filter(|_| self.shows("owner"))
            .map(|o| o.as_str())
    }
}

pub struct PaginatedTrainers {
    items: Vec<Trainers>,
    next_token: Option<String>,
}

impl From<trainers_core::Page> for PaginatedTrainers {
    fn from(page: trainers_core::Page) -> Self {
        PaginatedTrainers {
            items: page.items.into_iter().map(Trainers::full).collect(),
            next_token: page.next_token,
        }
    }
}

#[Object]
impl PaginatedTrainers {
    async fn items(&self) -> &[Trainers] {
        &self.items
    }
    async fn next_token(&self) -> Option<&str> {
        self.next_token.as_deref()
    }
}
