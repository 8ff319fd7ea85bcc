//! The GraphQL schema of `graphql/schema.graphql`, resolved by the service.

use std::sync::Arc;

use async_graphql::{
    Context, Enum, MaybeUndefined, Object, Scalar, ScalarType, Schema, Subscription, Value, ID,
};
use futures::Stream;
use tokio::sync::broadcast::error::RecvError;
use trainers_core::service::{BySpecialtyRequest, CreateRequest, ListRequest, UpdateRequest};
use trainers_core::{Field, Filter, FilterKind, Timestamp, Trainer, TrainerService};

use crate::error::{graphql_error, ErrorType};
use crate::events::{selects, EventKind, Events, Selection, TrainerEvent};
use crate::inputs::{
    self, ModelSortDirection, ModelStringKeyConditionInput, ModelSubscriptionTrainersFilterInput,
    ModelTrainersConditionInput, ModelTrainersFilterInput,
};
use crate::nulls::SpecNulls;
use crate::parse_cache::ParseCache;

pub type TrainersSchema = Schema<Query, Mutation, SubscriptionRoot>;

pub use crate::limits::MAX_DEPTH;

/// The schema, resolved by `service`, its mutations publishing to `events` and its subscriptions
/// reading them; `introspection: false` refuses `__schema` and `__type`.
pub fn build_schema(
    service: TrainerService,
    events: Events,
    introspection: bool,
) -> TrainersSchema {
    let schema = Schema::build(Query, Mutation, SubscriptionRoot)
        .data(service)
        .data(events)
        .limit_depth(MAX_DEPTH)
        .extension(ParseCache::default())
        .extension(SpecNulls);
    if introspection {
        schema.finish()
    } else {
        schema.disable_introspection().finish()
    }
}

/// The schema's SDL, as `trainers schema` prints it.
pub fn sdl() -> String {
    Schema::build(Query, Mutation, SubscriptionRoot)
        .finish()
        .sdl()
}

/// Turns a service error into a GraphQL error carrying its `errorType`. (An internal failure's
/// cause was logged where it arose, in the service.)
fn gql_error(e: trainers_core::Error) -> async_graphql::Error {
    graphql_error(e.error_type(), e.to_string())
}

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
    trainer: Arc<Trainer>,
    selected: Selection,
}

impl Trainers {
    fn full(trainer: Trainer) -> Self {
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

fn service<'a>(ctx: &Context<'a>) -> &'a TrainerService {
    // The schema is always built with the service (build_schema).
    ctx.data_unchecked::<TrainerService>()
}

fn bus<'a>(ctx: &Context<'a>) -> &'a Events {
    // The schema is always built with its events (build_schema).
    ctx.data_unchecked::<Events>()
}

/// Hands a committed mutation's result to subscribers, as the mutation selected it.
fn publish(ctx: &Context<'_>, kind: EventKind, trainer: &Trainer) {
    bus(ctx).sink.publish(TrainerEvent {
        kind,
        trainer: Arc::new(trainer.clone()),
        selected: selection(ctx),
    });
}

pub struct Query;

#[Object]
impl Query {
    async fn all_trainers(
        &self,
        ctx: &Context<'_>,
        limit: Option<i32>,
        next_token: Option<String>,
        specialty: Option<Specialty>,
        filter: Option<ModelTrainersFilterInput>,
    ) -> async_graphql::Result<PaginatedTrainers> {
        let filter = inputs::filter(FilterKind::List, filter.as_ref()).map_err(gql_error)?;
        let page = service(ctx)
            .list(ListRequest {
                limit,
                next_token,
                specialty: specialty.map(Into::into),
                filter,
            })
            .await
            .map_err(gql_error)?;
        Ok(PaginatedTrainers::from(page))
    }

    #[allow(clippy::too_many_arguments)]
    async fn trainers_by_specialty(
        &self,
        ctx: &Context<'_>,
        specialty: Specialty,
        last_name: Option<ModelStringKeyConditionInput>,
        sort_direction: Option<ModelSortDirection>,
        filter: Option<ModelTrainersFilterInput>,
        limit: Option<i32>,
        next_token: Option<String>,
    ) -> async_graphql::Result<PaginatedTrainers> {
        let req = BySpecialtyRequest {
            specialty: specialty.into(),
            last_name: inputs::key_condition(last_name.as_ref()).map_err(gql_error)?,
            direction: sort_direction.map(Into::into).unwrap_or_default(),
            filter: inputs::filter(FilterKind::List, filter.as_ref()).map_err(gql_error)?,
            limit,
            next_token,
        };
        let page = service(ctx).by_specialty(req).await.map_err(gql_error)?;
        Ok(PaginatedTrainers::from(page))
    }

    async fn count_trainers(
        &self,
        ctx: &Context<'_>,
        filter: Option<ModelTrainersFilterInput>,
    ) -> async_graphql::Result<i32> {
        let filter = inputs::filter(FilterKind::List, filter.as_ref()).map_err(gql_error)?;
        let n = service(ctx).count(filter).await.map_err(gql_error)?;
        Ok(i32::try_from(n).unwrap_or(i32::MAX))
    }

    async fn get_trainer(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<Trainers>> {
        let found = service(ctx).get(&id).await.map_err(gql_error)?;
        Ok(found.map(Trainers::full))
    }
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
        let t = service(ctx).create(req).await.map_err(gql_error)?;
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
        let t = service(ctx).update(req).await.map_err(gql_error)?;
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
            .delete(&id, expected_version, condition)
            .await
            .map_err(gql_error)?;
        publish(ctx, EventKind::Deleted, &t);
        Ok(Some(Trainers::full(t)))
    }
}

pub struct SubscriptionRoot;

/// What a subscription asks of the events it hears: each given argument must equal the field of
/// the same name in the payload, as the mutation selected it, and the payload must hold the
/// filter (a field the mutation did not select has no value).
struct Wanted {
    kind: EventKind,
    id: Option<ID>,
    specialty: Option<Specialty>,
    filter: Option<Filter>,
}

impl Wanted {
    fn new(
        kind: EventKind,
        id: Option<ID>,
        specialty: Option<Specialty>,
        filter: Option<ModelSubscriptionTrainersFilterInput>,
    ) -> async_graphql::Result<Self> {
        let filter =
            inputs::filter(FilterKind::Subscription, filter.as_ref()).map_err(gql_error)?;
        Ok(Wanted {
            kind,
            id,
            specialty,
            filter,
        })
    }

    fn passes(&self, event: &TrainerEvent) -> bool {
        let shown = |field: &str| selects(&event.selected, field);
        let id_ok = self
            .id
            .as_ref()
            .is_none_or(|id| shown("id") && id.as_str() == event.trainer.id.as_str());
        let specialty_ok = self
            .specialty
            .is_none_or(|s| shown("specialty") && event.trainer.specialty == Some(s.into()));
        let filter_ok = self.filter.as_ref().is_none_or(|f| {
            f.matches_with(&|field: Field| {
                if shown(field.name()) {
                    field.of(&event.trainer)
                } else {
                    None
                }
            })
        });
        event.kind == self.kind && id_ok && specialty_ok && filter_ok
    }
}

/// The events that a subscription wants. A subscriber that falls more than the event buffer
/// behind gets one error and its subscription ends, so it never slows anyone else.
fn events(
    ctx: &Context<'_>,
    wanted: Wanted,
) -> impl Stream<Item = async_graphql::Result<Option<Trainers>>> {
    let rx = bus(ctx).source.subscribe();
    let wanted = Arc::new(wanted);
    futures::stream::unfold(Some(rx), move |state| {
        let wanted = wanted.clone();
        async move {
            let mut rx = state?;
            loop {
                match rx.recv().await {
                    Ok(e) if wanted.passes(&e) => {
                        let payload = Trainers {
                            trainer: e.trainer.clone(),
                            selected: e.selected.clone(),
                        };
                        return Some((Ok(Some(payload)), Some(rx)));
                    }
                    Ok(_) => continue,
                    Err(RecvError::Lagged(missed)) => {
                        let error = graphql_error(
                            ErrorType::SubscriberTooSlow,
                            crate::events::fell_behind(missed),
                        );
                        return Some((Err(error), None));
                    }
                    Err(RecvError::Closed) => return None,
                }
            }
        }
    })
}

#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    async fn on_create_trainer(
        &self,
        ctx: &Context<'_>,
        specialty: Option<Specialty>,
        filter: Option<ModelSubscriptionTrainersFilterInput>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Option<Trainers>>>> {
        let wanted = Wanted::new(EventKind::Created, None, specialty, filter)?;
        Ok(events(ctx, wanted))
    }

    async fn on_update_trainer(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
        specialty: Option<Specialty>,
        filter: Option<ModelSubscriptionTrainersFilterInput>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Option<Trainers>>>> {
        let wanted = Wanted::new(EventKind::Updated, id, specialty, filter)?;
        Ok(events(ctx, wanted))
    }

    async fn on_delete_trainer(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
        specialty: Option<Specialty>,
        filter: Option<ModelSubscriptionTrainersFilterInput>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Option<Trainers>>>> {
        let wanted = Wanted::new(EventKind::Deleted, id, specialty, filter)?;
        Ok(events(ctx, wanted))
    }
}
