//! The GraphQL schema of `graphql/schema.graphql`, resolved by the service.

use std::sync::Arc;

use async_graphql::{Context, Request, Response, Schema};
use futures::stream::BoxStream;
use trainers_core::TrainerService;

use super::error::graphql_error;
use super::limits::MAX_DEPTH;
use super::mutation::Mutation;
use super::nulls::SpecNulls;
use super::parse::{ParseCache, Parser, Prepared};
use super::query::Query;
use super::subscription::SubscriptionRoot;
use crate::events::Events;

pub type TrainersSchema = Schema<Query, Mutation, SubscriptionRoot>;

/// The schema and its parse step: what every entrypoint runs a request on. Cloned per
/// connection, cheaply.
#[derive(Clone)]
pub struct Engine {
    schema: TrainersSchema,
    parser: Parser,
    /// What the fast path's plans read.
    service: TrainerService,
}

/// What [`Engine::answer`] answers: a planned read's JSON, or the schema's response.
pub enum Answer {
    Planned(Vec<u8>),
    Response(Response),
}

/// A request that has been through the parse step, ready to run.
pub struct Ready {
    request: Request,
    prepared: Arc<Prepared>,
}

impl Ready {
    /// What the parse step found: the operation's type, label and root field.
    pub fn prepared(&self) -> &Prepared {
        &self.prepared
    }

    /// The request, as the fan-out of identical subscriptions compares them.
    pub fn request(&self) -> &Request {
        &self.request
    }
}

impl Engine {
    /// The schema, resolved by `service`, its mutations publishing to `events` and its
    /// subscriptions reading them; `introspection: false` refuses `__schema` and `__type`.
    pub fn new(service: TrainerService, events: Events, introspection: bool) -> Self {
        let parser = Parser::default();
        let schema = Schema::build(Query, Mutation, SubscriptionRoot)
            .data(service.clone())
            .data(events)
            .limit_depth(MAX_DEPTH)
            .extension(ParseCache::new(parser.clone()))
            .extension(SpecNulls);
        let schema = if introspection {
            schema.finish()
        } else {
            schema.disable_introspection().finish()
        };
        Engine {
            schema,
            parser,
            service,
        }
    }

    /// The parse step (see [`super::parse`]): `Err` is the response that refuses the request.
    pub fn prepare(&self, mut request: Request) -> Result<Ready, Box<Response>> {
        match self.parser.prepare(&mut request) {
            Ok(prepared) => Ok(Ready { request, prepared }),
            Err(error) => Err(Box::new(Response::from_errors(vec![error]))),
        }
    }

    /// Answers a request as HTTP sends it: the bytes its plan wrote when it has one
    /// ([`super::plan`]) and the plan answers, else the schema's response.
    pub async fn answer(&self, ready: Ready) -> Answer {
        if let Some(plan) = ready.prepared.plan() {
            if let Some(body) = plan.run(&self.service, &ready.request).await {
                return Answer::Planned(body);
            }
        }
        Answer::Response(self.execute(ready).await)
    }

    /// Runs a request on the schema (the general path).
    pub async fn execute(&self, ready: Ready) -> Response {
        let Ready { request, prepared } = ready;
        let operation_name = request.operation_name.clone();
        let mut response = self.schema.execute(request).await;
        prepared.order_root(operation_name.as_deref(), &mut response.data);
        response
    }

    /// The bytes the request's plan writes, planned whether or not its document validated
    /// before; `None` when it has none or the plan leaves it to the general path. For the
    /// differential tests, which compare them with the bytes of [`Engine::execute`]'s answer.
    pub async fn execute_planned(&self, ready: &Ready) -> Option<Vec<u8>> {
        let plan = ready.prepared.plan_uncached()?;
        plan.run(&self.service, &ready.request).await
    }

    pub fn execute_stream(&self, ready: Ready) -> BoxStream<'static, Response> {
        self.schema.execute_stream(ready.request)
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
pub(super) fn gql_error(e: trainers_core::Error) -> async_graphql::Error {
    graphql_error(e.error_type(), e.to_string())
}

pub(super) fn service<'a>(ctx: &Context<'a>) -> &'a TrainerService {
    // The schema is always built with the service (build_schema).
    ctx.data_unchecked::<TrainerService>()
}

pub(super) fn bus<'a>(ctx: &Context<'a>) -> &'a Events {
    // The schema is always built with its events (build_schema).
    ctx.data_unchecked::<Events>()
}
