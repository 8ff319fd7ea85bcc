//! The root type `Mutation`: writes, each publishing its result to subscribers as it selected it.

use std::sync::Arc;

use async_graphql::{Context, MaybeUndefined, Object, ID};
use trainers_core::service::{CreateRequest, UpdateRequest};
use trainers_core::{Caller, FilterKind, Trainer};

use super::inputs::{self, ModelTrainersConditionInput};
use super::schema::{bus, gql_error, service};
use super::types::{Specialty, Trainers};
use crate::events::{EventKind, Selection, TrainerEvent};

/// Hands a committed mutation's result to subscribers, as the mutation selected it.
fn publish(ctx: &Context<'_>, kind: EventKind, trainer: &Trainer) {
    bus(ctx).sink.publish(TrainerEvent {
        kind,
        trainer: Arc::new(trainer.clone()),
        selected: selection(ctx),
    });
}

/// The fields this mutation selected, for its subscribers.
fn selection(ctx: &Context<'_>) -> Selection {
    let names: Vec<String> = ctx
        .field()
        .selection_set()
        .map(|f| f.name().to_string())
        .collect();
    Some(names.into())
}

/// Whether the client gave `argument` of `field`; `None` when the query does not name it. As the
/// GraphQL spec says (and AppSync does), an argument bound to a variable that the request left
/// out, with no default, was not given; async-graphql would read it as null, which for
/// `updateTrainers` would mean "clear this field". The AppSync simulator of the tests uses this
/// rule too.
pub fn argument_given(
    field: &async_graphql::parser::types::Field,
    env: &async_graphql::QueryEnvInner,
    argument: &str,
) -> Option<bool> {
    let (_, value) = field.arguments.iter().find(|(n, _)| n.node == argument)?;
    Some(match &value.node {
        async_graphql_value::Value::Variable(var) => {
            env.variables.contains_key(var)
                || env
                    .operation
                    .node
                    .variable_definitions
                    .iter()
                    .any(|d| d.node.name.node == *var && d.node.default_value.is_some())
        }
        _ => true,
    })
}

fn provided(ctx: &Context<'_>, argument: &str) -> bool {
    argument_given(&ctx.item.node, ctx.query_env, argument).unwrap_or(false)
}

/// An argument as given: `None` left out, `Some(None)` an explicit null.
fn given<T>(ctx: &Context<'_>, argument: &str, value: MaybeUndefined<T>) -> Option<Option<T>> {
    match value {
        MaybeUndefined::Undefined => None,
        _ if !provided(ctx, argument) => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(v)),
    }
}

pub struct Mutation;

#[Object]
impl Mutation {
    async fn create_trainer(
        &self,
        ctx: &Context<'_>,
        first_name: String,
        last_name: String,
        age: i32,
        specialty: Option<Specialty>,
    ) -> async_graphql::Result<Option<Trainers>> {
        let req = CreateRequest {
            first_name,
            last_name,
            age,
            specialty: specialty.map(Into::into),
        };
        let t = service(ctx)
            .create(caller(ctx), req)
            .await
            .map_err(gql_error)?;
        publish(ctx, EventKind::Created, &t);
        Ok(Some(Trainers::full(t)))
    }

    #[allow(clippy::too_many_arguments)]
    async fn update_trainers(
        &self,
        ctx: &Context<'_>,
        id: ID,
        first_name: MaybeUndefined<String>,
        last_name: MaybeUndefined<String>,
        age: MaybeUndefined<i32>,
        specialty: MaybeUndefined<Specialty>,
        expected_version: Option<i32>,
        condition: Option<ModelTrainersConditionInput>,
    ) -> async_graphql::Result<Option<Trainers>> {
        let condition =
            inputs::filter(FilterKind::Condition, condition.as_ref()).map_err(gql_error)?;
        let req = UpdateRequest {
            id: id.0,
            first_name: given(ctx, "firstName", first_name),
            last_name: given(ctx, "lastName", last_name),
            age: given(ctx, "age", age),
            specialty: given(ctx, "specialty", specialty).map(|s| s.map(Into::into)),
            expected_version,
            condition,
        };
        let t = service(ctx)
            .update(caller(ctx), req)
            .await
            .map_err(gql_error)?;
        publish(ctx, EventKind::Updated, &t);
        Ok(Some(Trainers::full(t)))
    }

    async fn delete_trainer(
        &self,
        ctx: &Context<'_>,
        id: ID,
        expected_version: Option<i32>,
        condition: Option<ModelTrainersConditionInput>,
    ) -> async_graphql::Result<Option<Trainers>> {
        let condition =
            inputs::filter(FilterKind::Condition, condition.as_ref()).map_err(gql_error)?;
        let t = service(ctx)
            .delete(caller(ctx), &id, expected_version, condition)
            .await
            .map_err(gql_error)?;
        publish(ctx, EventKind::Deleted, &t);
        Ok(Some(Trainers::full(t)))
    }
}

/// Who runs this request: the [`Caller`] its entrypoint put in the request's data, else the API
/// key (every entrypoint that has no accounts). With accounts on, a request without a caller
/// is therefore refused every mutation.
fn caller<'a>(ctx: &Context<'a>) -> &'a Caller {
    ctx.data_opt::<Caller>().unwrap_or(&Caller::ApiKey)
}
