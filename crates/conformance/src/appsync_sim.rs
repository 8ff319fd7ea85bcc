//! AWS AppSync in front of the Lambda resolver, simulated in this process: a [`Target`] that runs
//! the Lambda handler as AppSync runs it.
//!
//! - The schema is built at run time (async-graphql's dynamic schema) from
//!   `graphql/schema.graphql`, the file the CDK app deploys, so a query is validated against the
//!   deployed schema, not against the local server's.
//! - Every root field of `Query` and `Mutation` is resolved as the deployed resolver
//!   (`infra/resolvers/trainers.js`) resolves it: its request handler builds the direct-resolver
//!   event (arguments as given, `identity` null for an API key, `source` null, `info` with
//!   `fieldName`, `parentTypeName`, `variables`, `selectionSetList`, `selectionSetGraphQL`,
//!   `stash` {}), the Lambda handler answers `{data, errorType, errorMessage}`, and its response
//!   handler raises `util.error(errorMessage, errorType)` when `errorType` is set, else returns
//!   `data`.
//! - Nested fields read the returned JSON by field name, as AppSync's default resolution does.
//! - Authorization, as AppSync decides it before any resolver runs ([`AppSyncSim::with_accounts`]):
//!   a request carries the API key or a Cognito user pool token ([`Credential`]); a token is
//!   verified (signature, issuer, client, expiry) or the request is refused whole with
//!   `UnauthorizedException`; each field is allowed to the modes its directives name
//!   (`@aws_api_key`, `@aws_cognito_user_pools`; a field's own, else its type's, else the default
//!   mode, the API key), and a field denied to the caller's mode is `null` with `Unauthorized`
//!   "Not Authorized to access F on type T", its resolver never run. The function gets the
//!   caller as AppSync hands it: `identity` null for the API key, else `sub`, `issuer`,
//!   `username`, `claims`, `sourceIp`, `defaultAuthStrategy` and `groups`. Without accounts the
//!   API has the API key alone, and every field allows it (as the stack deploys it then).
//! - A subscription runs the deployed subscription resolver (`infra/resolvers/subscriptions.js`)
//!   under Node.js with its `ctx.args` ([`crate::appsync_js`]), and records the filter it sets
//!   through `extensions.setSubscriptionFilter` ([`AppSyncSim::subscription_filters`]); a
//!   `util.error` of the resolver refuses the subscription with that error. No event is
//!   delivered: the stream ends once the resolver ran (AppSync delivers events itself).
//! - The response is written in AppSync's shape (`trainers_api::graphql::error`), with the GraphQL
//!   spec's null propagation (`trainers_api::graphql::nulls`).

use std::any::Any;
use std::sync::{Arc, Mutex};

use async_graphql::dynamic::{
    Enum, Field, FieldFuture, FieldValue, InputObject, InputValue, Object, ResolverContext, Scalar,
    Schema, SchemaBuilder, Subscription, SubscriptionField, SubscriptionFieldFuture, TypeRef,
};
use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextResolve, ResolveInfo,
};
use async_graphql::parser::types::{
    BaseType, Selection, SelectionSet, ServiceDocument, Type, TypeKind, TypeSystemDefinition,
};
use async_graphql::{
    ErrorExtensions, PathSegment, QueryPathNode, QueryPathSegment, ServerResult, Variables,
};
use async_trait::async_trait;
use futures::StreamExt;
use serde_json::{json, Map, Value};
use trainers_core::{Timestamp, TrainerService, TrainerStore};

use trainers_api::auth::tokens::Verifier;

use crate::appsync_js::{self, Failure};
use crate::target::{GraphqlResponse, Target};

/// The schema AppSync serves, as deployed by the CDK app.
pub const APPSYNC_SCHEMA: &str = include_str!("../../../graphql/schema.graphql");

/// Whether a string is a valid value of a scalar.
type ScalarCheck = fn(&str) -> bool;

/// The scalars AppSync declares itself, with the values it accepts.
const APPSYNC_SCALARS: &[(&str, ScalarCheck)] =
    &[("AWSDateTime", |s| Timestamp::parse_rfc3339(s).is_some())];

/// What the simulated AppSync sends to the function: one event, one answer, as the Lambda
/// runtime would carry them. Every event is also kept, for tests of the events themselves, and
/// every subscription's filter.
#[derive(Clone)]
pub struct Lambda {
    service: TrainerService,
    events: Arc<Mutex<Vec<Value>>>,
    subscription_filters: Arc<Mutex<Vec<SubscriptionFilter>>>,
    /// Which authorization modes may read each field; `None`: the API key alone, everywhere.
    fields: Option<Arc<FieldModes>>,
}

/// AppSync's authorization modes, as far as this API uses them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    ApiKey,
    UserPool,
    /// A mode this simulator does not model (`@aws_iam`, `@aws_oidc`, `@aws_lambda`).
    Other,
}

impl Mode {
    fn of_directive(name: &str) -> Option<Mode> {
        match name {
            "aws_api_key" => Some(Mode::ApiKey),
            "aws_cognito_user_pools" => Some(Mode::UserPool),
            "aws_iam" | "aws_oidc" | "aws_lambda" => Some(Mode::Other),
            _ => None,
        }
    }
}

/// The modes each `(type, field)` allows, from the schema's directives.
#[derive(Debug, Default)]
pub struct FieldModes(std::collections::HashMap<(String, String), Vec<Mode>>);

impl FieldModes {
    /// A field's own auth directives, else its type's, else the default mode (the API key).
    fn of_schema(doc: &ServiceDocument) -> FieldModes {
        let modes = |directives: &[async_graphql::Positioned<
            async_graphql::parser::types::ConstDirective,
        >]|
         -> Vec<Mode> {
            directives
                .iter()
                .filter_map(|d| Mode::of_directive(d.node.name.node.as_str()))
                .collect()
        };
        let mut map = std::collections::HashMap::new();
        for def in &doc.definitions {
            let TypeSystemDefinition::Type(ty) = def else {
                continue;
            };
            let TypeKind::Object(obj) = &ty.node.kind else {
                continue;
            };
            let type_modes = modes(&ty.node.directives);
            for f in &obj.fields {
                let mut allowed = modes(&f.node.directives);
                if allowed.is_empty() {
                    allowed = type_modes.clone();
                }
                if allowed.is_empty() {
                    allowed = vec![Mode::ApiKey];
                }
                map.insert(
                    (ty.node.name.node.to_string(), f.node.name.node.to_string()),
                    allowed,
                );
            }
        }
        FieldModes(map)
    }

    fn allows(&self, parent: &str, field: &str, mode: Mode) -> bool {
        self.0
            .get(&(parent.to_string(), field.to_string()))
            .is_some_and(|modes| modes.contains(&mode))
    }
}

/// How a request reaches the simulated AppSync.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credential {
    /// `x-api-key`.
    ApiKey,
    /// `Authorization: <JWT>` of the Cognito user pool.
    UserPool(String),
}

/// The caller of one request, once AppSync authorized it: its mode, and the `identity` the
/// function gets.
#[derive(Clone, Debug)]
struct Caller {
    mode: Mode,
    identity: Value,
}

/// AppSync's answer to a field the caller's mode may not read.
fn not_authorized(parent: &str, field: &str) -> async_graphql::Error {
    async_graphql::Error::new(format!("Not Authorized to access {field} on type {parent}"))
        .extend_with(|_, ext| ext.set("errorType", "Unauthorized"))
}

impl Lambda {
    /// Whether the request's caller may read `parent.field` (always, without accounts).
    fn authorized(&self, ctx: &ResolverContext<'_>, parent: &str, field: &str) -> bool {
        let Some(fields) = &self.fields else {
            return true;
        };
        let mode = ctx.data_opt::<Caller>().map_or(Mode::ApiKey, |c| c.mode);
        fields.allows(parent, field, mode)
    }
}

/// One subscription started through the simulator: its resolver's run.
#[derive(Clone, Debug, PartialEq)]
pub struct SubscriptionFilter {
    /// The subscription field (`onUpdateTrainer`).
    pub field: String,
    /// Its `ctx.args`: the arguments given, as AppSync hands them to the resolver.
    pub arguments: Value,
    /// What `extensions.setSubscriptionFilter` received, `None` when the resolver set no
    /// filter. The simulator's `util.transform.toSubscriptionFilter` answers
    /// `{"toSubscriptionFilter": <the filter it was given>}` (see [`crate::appsync_js`]).
    pub filter: Option<Value>,
}

impl Lambda {
    async fn invoke(&self, event: Value) -> Value {
        if let Ok(mut events) = self.events.lock() {
            events.push(event.clone());
        }
        trainers_lambda::handle(&self.service, event).await
    }

    /// The subscriptions started so far, in order, with the filter each set.
    pub fn subscription_filters(&self) -> Vec<SubscriptionFilter> {
        self.subscription_filters
            .lock()
            .map(|f| f.clone())
            .unwrap_or_default()
    }

    /// A subscription starts: its resolver runs on its arguments, and the filter it sets is
    /// kept. Its `util.error` is the subscription's error.
    async fn subscribe(&self, field: &str, arguments: Value) -> async_graphql::Result<()> {
        let ctx = appsync_js::subscription_ctx(field, &arguments);
        let run = tokio::task::spawn_blocking(move || appsync_js::run_subscription_resolver(&ctx))
            .await
            .expect("the subscription resolver's run ends");
        match run {
            Ok(resolution) => {
                assert!(
                    resolution.set_subscription_filter.len() <= 1,
                    "one filter per subscription: {resolution:?}"
                );
                if let Ok(mut filters) = self.subscription_filters.lock() {
                    filters.push(SubscriptionFilter {
                        field: field.to_string(),
                        arguments,
                        filter: resolution.set_subscription_filter.into_iter().next(),
                    });
                }
                Ok(())
            }
            Err(Failure::AppSync {
                message,
                error_type,
            }) => Err(async_graphql::Error::new(message).extend_with(|_, ext| {
                if let Some(t) = &error_type {
                    ext.set("errorType", t.clone());
                }
            })),
            Err(Failure::Run(why)) => panic!("the subscription resolver did not run: {why}"),
        }
    }
}

/// AppSync with the Lambda data source on every field of `Query` and `Mutation`.
pub struct AppSyncSim {
    schema: Schema,
    lambda: Lambda,
    /// The Cognito user pool's tokens, as AppSync verifies them; `None`: the API key alone.
    user_pool: Option<Verifier>,
    /// What requests sent as a [`Target`] carry.
    credential: Credential,
    /// What the store needs kept alive (its temporary directory, its table).
    _guard: Option<Box<dyn Any + Send + Sync>>,
}

impl AppSyncSim {
    /// The simulated API over the Lambda handler on `store`, with the API key as its only
    /// authorization mode (a stack deployed without accounts): the function's rules are open.
    pub fn new(store: Arc<dyn TrainerStore>, guard: Option<Box<dyn Any + Send + Sync>>) -> Self {
        Self::build(TrainerService::new(store), guard, None)
    }

    /// The simulated API with a Cognito user pool as an additional authorization mode, its
    /// tokens verified by `user_pool`, and the function's owner rules read as its `main` reads
    /// `TRAINERS_ACCESS=owners` and `TRAINERS_ADMIN_GROUP` (the verifier's admin group), which the
    /// stack sets: as the stack deploys it with accounts.
    pub fn with_accounts(
        store: Arc<dyn TrainerStore>,
        guard: Option<Box<dyn Any + Send + Sync>>,
        user_pool: Verifier,
    ) -> Self {
        // What the function's main makes of the environment the stack gives it.
        let policy = trainers_lambda::access_policy(
            Some("owners"),
            user_pool.settings().admin_group.as_deref(),
        )
        .expect("the stack's TRAINERS_ACCESS and TRAINERS_ADMIN_GROUP");
        let service = TrainerService::new(store).with_access(policy);
        Self::build(service, guard, Some(user_pool))
    }

    fn build(
        service: TrainerService,
        guard: Option<Box<dyn Any + Send + Sync>>,
        user_pool: Option<Verifier>,
    ) -> Self {
        let fields = user_pool.as_ref().map(|_| {
            let doc = async_graphql::parser::parse_schema(APPSYNC_SCHEMA)
                .expect("graphql/schema.graphql parses");
            Arc::new(FieldModes::of_schema(&doc))
        });
        let lambda = Lambda {
            service,
            events: Arc::default(),
            subscription_filters: Arc::default(),
            fields,
        };
        let schema = build_schema(APPSYNC_SCHEMA, &lambda).expect("graphql/schema.graphql builds");
        AppSyncSim {
            schema,
            lambda,
            user_pool,
            credential: Credential::ApiKey,
            _guard: guard,
        }
    }

    /// This API, its requests as a [`Target`] carrying `token` instead of the API key.
    pub fn signed_in(mut self, token: String) -> Self {
        self.credential = Credential::UserPool(token);
        self
    }

    /// Runs one request with `credential`, as AppSync would: a token that does not verify
    /// refuses the whole request (AppSync's 401 body); otherwise each field is authorized, and
    /// the function gets the caller's `identity`.
    pub async fn graphql_as(
        &self,
        credential: &Credential,
        query: &str,
        variables: Value,
    ) -> GraphqlResponse {
        let caller = match self.authorize(credential).await {
            Ok(caller) => caller,
            Err(refused) => return refused,
        };
        let request = async_graphql::Request::new(query)
            .variables(Variables::from_json(variables))
            .data(caller);
        let response = self.schema.execute(request).await;
        GraphqlResponse(trainers_api::graphql::error::response_json(&response))
    }

    /// The caller a credential makes, or AppSync's refusal of the request.
    async fn authorize(&self, credential: &Credential) -> Result<Caller, GraphqlResponse> {
        let unauthorized = |message: String| {
            GraphqlResponse(json!({
                "errors": [{ "errorType": "UnauthorizedException", "message": message }]
            }))
        };
        let token = match credential {
            Credential::ApiKey => {
                return Ok(Caller {
                    mode: Mode::ApiKey,
                    identity: Value::Null,
                })
            }
            Credential::UserPool(token) => token,
        };
        let Some(pool) = &self.user_pool else {
            return Err(unauthorized(
                "Valid authorization header not provided.".into(),
            ));
        };
        let verified = pool
            .verify(token)
            .await
            .map_err(|e| unauthorized(e.to_string()))?;
        // The token verified: its payload is the claims AppSync hands on.
        let claims = token
            .split('.')
            .nth(1)
            .and_then(|p| {
                base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, p).ok()
            })
            .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
            .unwrap_or(Value::Null);
        let user = verified.user;
        let groups = if user.groups.is_empty() {
            Value::Null
        } else {
            json!(user.groups)
        };
        Ok(Caller {
            mode: Mode::UserPool,
            identity: json!({
                "sub": user.sub,
                "issuer": pool.settings().issuer,
                "username": user.username,
                "claims": claims,
                "sourceIp": ["127.0.0.1"],
                "defaultAuthStrategy": "ALLOW",
                "groups": groups,
            }),
        })
    }

    /// The events the function received so far, in order.
    pub fn events(&self) -> Vec<Value> {
        self.lambda
            .events
            .lock()
            .map(|e| e.clone())
            .unwrap_or_default()
    }

    /// The subscriptions started so far, with the filter each set (see [`Lambda::subscribe`]).
    pub fn subscription_filters(&self) -> Vec<SubscriptionFilter> {
        self.lambda.subscription_filters()
    }

    /// Sends a subscription operation: the responses of its stream, which ends once its
    /// resolver ran (none when it ran, one with the error when it refused).
    pub async fn subscribe(&self, query: &str, variables: Value) -> Vec<GraphqlResponse> {
        let caller = match self.authorize(&self.credential).await {
            Ok(caller) => caller,
            Err(refused) => return vec![refused],
        };
        let request = async_graphql::Request::new(query)
            .variables(Variables::from_json(variables))
            .data(caller);
        self.schema
            .execute_stream(request)
            .map(|response| GraphqlResponse(trainers_api::graphql::error::response_json(&response)))
            .collect()
            .await
    }

    /// The schema's SDL, as this simulator serves it.
    pub fn sdl(&self) -> String {
        self.schema.sdl()
    }
}

#[async_trait]
impl Target for AppSyncSim {
    async fn graphql(&self, query: &str, variables: Value) -> GraphqlResponse {
        self.graphql_as(&self.credential, query, variables).await
    }
}

/// The dynamic schema of an AppSync SDL document, resolved through `lambda`.
pub fn build_schema(sdl: &str, lambda: &Lambda) -> Result<Schema, String> {
    let doc: ServiceDocument =
        async_graphql::parser::parse_schema(sdl).map_err(|e| e.to_string())?;
    let (mut query, mut mutation, mut subscription) = ("Query", None, None);
    for def in &doc.definitions {
        if let TypeSystemDefinition::Schema(s) = def {
            if let Some(q) = &s.node.query {
                query = q.node.as_str();
            }
            mutation = s.node.mutation.as_ref().map(|m| m.node.as_str());
            subscription = s.node.subscription.as_ref().map(|m| m.node.as_str());
        }
    }
    let mut builder: SchemaBuilder = Schema::build(query, mutation, subscription);
    for (name, valid) in APPSYNC_SCALARS {
        let valid = *valid;
        builder = builder.register(Scalar::new(*name).validator(move |v| match v {
            async_graphql::Value::String(s) => valid(s),
            _ => false,
        }));
    }
    for def in &doc.definitions {
        let TypeSystemDefinition::Type(ty) = def else {
            continue;
        };
        let name = ty.node.name.node.as_str();
        match &ty.node.kind {
            TypeKind::Enum(e) => {
                builder = builder.register(
                    Enum::new(name).items(e.values.iter().map(|v| v.node.value.node.to_string())),
                );
            }
            TypeKind::Scalar => builder = builder.register(Scalar::new(name)),
            TypeKind::InputObject(input) => {
                let mut object = InputObject::new(name);
                for f in &input.fields {
                    object = object.field(input_value(&f.node));
                }
                builder = builder.register(object);
            }
            TypeKind::Object(obj) if Some(name) == subscription => {
                let mut object = Subscription::new(name);
                for f in &obj.fields {
                    let lambda = lambda.clone();
                    let field_name = f.node.name.node.to_string();
                    let subscription_type = name.to_string();
                    let mut field = SubscriptionField::new(
                        f.node.name.node.as_str(),
                        type_ref(&f.node.ty.node),
                        move |ctx| {
                            let lambda = lambda.clone();
                            let field_name = field_name.clone();
                            let subscription_type = subscription_type.clone();
                            SubscriptionFieldFuture::new(async move {
                                if !lambda.authorized(&ctx, &subscription_type, &field_name) {
                                    return Err(not_authorized(&subscription_type, &field_name));
                                }
                                let arguments = Value::Object(arguments(&ctx));
                                lambda.subscribe(&field_name, arguments).await?;
                                // AppSync delivers the events itself: none here.
                                Ok(futures::stream::empty::<
                                    async_graphql::Result<FieldValue<'static>>,
                                >())
                            })
                        },
                    );
                    for arg in &f.node.arguments {
                        field = field.argument(input_value(&arg.node));
                    }
                    object = object.field(field);
                }
                builder = builder.register(object);
            }
            TypeKind::Object(obj) => {
                let root = name == query || Some(name) == mutation;
                let mut object = Object::new(name);
                for f in &obj.fields {
                    let field_name = f.node.name.node.to_string();
                    let ty = type_ref(&f.node.ty.node);
                    let mut field = if root {
                        let lambda = lambda.clone();
                        let parent = name.to_string();
                        Field::new(field_name, ty, move |ctx| {
                            let lambda = lambda.clone();
                            let parent = parent.clone();
                            FieldFuture::new(async move { invoke(&lambda, &parent, ctx).await })
                        })
                    } else {
                        let key = field_name.clone();
                        let lambda = lambda.clone();
                        let parent = name.to_string();
                        Field::new(field_name, ty, move |ctx| {
                            if !lambda.authorized(&ctx, &parent, &key) {
                                let refused = not_authorized(&parent, &key);
                                return FieldFuture::new(async move {
                                    Err::<Option<FieldValue<'_>>, _>(refused)
                                });
                            }
                            FieldFuture::Value(read_field(&ctx, &key))
                        })
                    };
                    for arg in &f.node.arguments {
                        field = field.argument(input_value(&arg.node));
                    }
                    object = object.field(field);
                }
                builder = builder.register(object);
            }
            other => return Err(format!("{name}: a {other:?} is not simulated")),
        }
    }
    builder
        .limit_depth(trainers_api::graphql::limits::MAX_DEPTH)
        .extension(trainers_api::graphql::nulls::SpecNulls)
        .extension(ErrorPaths)
        .finish()
        .map_err(|e| e.to_string())
}

fn type_ref(ty: &Type) -> TypeRef {
    let base = match &ty.base {
        BaseType::Named(name) => TypeRef::Named(name.to_string().into()),
        BaseType::List(inner) => TypeRef::List(Box::new(type_ref(inner))),
    };
    if ty.nullable {
        base
    } else {
        TypeRef::NonNull(Box::new(base))
    }
}

fn input_value(def: &async_graphql::parser::types::InputValueDefinition) -> InputValue {
    let arg = InputValue::new(def.name.node.as_str(), type_ref(&def.ty.node));
    match &def.default_value {
        Some(v) => arg.default_value(v.node.clone()),
        None => arg,
    }
}

/// A root field: the event to the function, and the response handler on its answer.
async fn invoke<'a>(
    lambda: &Lambda,
    parent: &str,
    ctx: ResolverContext<'a>,
) -> async_graphql::Result<Option<FieldValue<'a>>> {
    let field = ctx.item.node.name.node.to_string();
    if !lambda.authorized(&ctx, parent, &field) {
        return Err(not_authorized(parent, &field));
    }
    let event = event(parent, &ctx);
    let result = lambda.invoke(event).await;
    // The response handler of infra/resolvers/trainers.js.
    if let Some(error_type) = result["errorType"].as_str().filter(|t| !t.is_empty()) {
        let message = result["errorMessage"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let error_type = error_type.to_string();
        return Err(async_graphql::Error::new(message)
            .extend_with(|_, ext| ext.set("errorType", error_type)));
    }
    Ok(field_value(result["data"].clone()))
}

/// The direct-resolver event AppSync builds for this field (through the resolver's request
/// handler, which leaves the request headers out).
fn event(parent: &str, ctx: &ResolverContext<'_>) -> Value {
    let arguments = arguments(ctx);
    let variables: Map<String, Value> = ctx
        .query_env
        .variables
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone().into_json().unwrap_or(Value::Null)))
        .collect();
    let mut list = Vec::new();
    selection_list(ctx.field(), "", &mut list);
    let identity = ctx
        .data_opt::<Caller>()
        .map_or(Value::Null, |c| c.identity.clone());
    json!({
        "arguments": arguments,
        "identity": identity,
        "source": null,
        "info": {
            "fieldName": ctx.item.node.name.node.as_str(),
            "parentTypeName": parent,
            "variables": variables,
            "selectionSetList": list,
            "selectionSetGraphQL": selection_graphql(&ctx.item.node.selection_set.node),
        },
        "stash": {},
    })
}

/// The field's arguments as AppSync hands them to a resolver: those given, as given.
fn arguments(ctx: &ResolverContext<'_>) -> Map<String, Value> {
    let mut arguments = Map::new();
    for (name, value) in ctx.args.iter() {
        if given(ctx, name.as_str()) {
            arguments.insert(
                name.to_string(),
                value.as_value().clone().into_json().unwrap_or(Value::Null),
            );
        }
    }
    arguments
}

/// Whether the client gave this argument (AppSync leaves one out of `arguments` otherwise). One
/// not named in the query is present only through a schema default.
fn given(ctx: &ResolverContext<'_>, argument: &str) -> bool {
    trainers_api::graphql::mutation::argument_given(&ctx.item.node, ctx.query_env, argument)
        .unwrap_or(true)
}

/// `selectionSetList`: every selected field's path by name (not alias), parents first.
fn selection_list(field: async_graphql::SelectionField<'_>, prefix: &str, out: &mut Vec<String>) {
    for f in field.selection_set() {
        if f.name().starts_with("__") {
            continue;
        }
        let path = if prefix.is_empty() {
            f.name().to_string()
        } else {
            format!("{prefix}/{}", f.name())
        };
        if !out.contains(&path) {
            out.push(path.clone());
        }
        selection_list(f, &path, out);
    }
}

/// `selectionSetGraphQL`: the selection set as GraphQL text (fragment spreads left as spreads).
fn selection_graphql(set: &SelectionSet) -> String {
    let mut out = String::new();
    print_set(set, 0, &mut out);
    out
}

fn print_set(set: &SelectionSet, indent: usize, out: &mut String) {
    if set.items.is_empty() {
        return;
    }
    out.push_str("{\n");
    for item in &set.items {
        out.push_str(&"  ".repeat(indent + 1));
        match &item.node {
            Selection::Field(f) => {
                if let Some(alias) = &f.node.alias {
                    out.push_str(&format!("{}: ", alias.node));
                }
                out.push_str(f.node.name.node.as_str());
                if !f.node.arguments.is_empty() {
                    let args: Vec<String> = f
                        .node
                        .arguments
                        .iter()
                        .map(|(n, v)| format!("{}: {}", n.node, v.node))
                        .collect();
                    out.push_str(&format!("({})", args.join(", ")));
                }
                if !f.node.selection_set.node.items.is_empty() {
                    out.push(' ');
                    print_set(&f.node.selection_set.node, indent + 1, out);
                }
            }
            Selection::FragmentSpread(s) => {
                out.push_str(&format!("...{}", s.node.fragment_name.node));
            }
            Selection::InlineFragment(fragment) => {
                out.push_str("...");
                if let Some(cond) = &fragment.node.type_condition {
                    out.push_str(&format!(" on {}", cond.node.on.node));
                }
                out.push(' ');
                print_set(&fragment.node.selection_set.node, indent + 1, out);
            }
        }
        out.push('\n');
    }
    out.push_str(&"  ".repeat(indent));
    out.push('}');
}

/// A nested field: the value of the same name in the parent's JSON.
fn read_field<'a>(ctx: &ResolverContext<'a>, key: &str) -> Option<FieldValue<'a>> {
    let parent = ctx.parent_value.downcast_ref::<Value>()?;
    field_value(parent.get(key)?.clone())
}

/// JSON as the dynamic schema resolves it: objects stay JSON for their own fields to read.
fn field_value(v: Value) -> Option<FieldValue<'static>> {
    match v {
        Value::Null => None,
        Value::Object(_) => Some(FieldValue::owned_any(v)),
        Value::Array(items) => Some(FieldValue::list(
            items
                .into_iter()
                .map(|i| field_value(i).unwrap_or(FieldValue::NULL)),
        )),
        scalar => Some(FieldValue::value(
            async_graphql::Value::from_json(scalar).unwrap_or(async_graphql::Value::Null),
        )),
    }
}

/// Gives a resolver's error the path of its field, as AppSync writes it (the dynamic schema
/// leaves it empty). Registered after `SpecNulls`, so it runs first on the way out.
struct ErrorPaths;

impl ExtensionFactory for ErrorPaths {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ErrorPaths)
    }
}

#[async_trait]
impl Extension for ErrorPaths {
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<async_graphql::Value>> {
        let node = info.path_node;
        next.run(ctx, info).await.map_err(|mut e| {
            if e.path.is_empty() {
                e.path = path_of(node);
            }
            e
        })
    }
}

fn path_of(node: &QueryPathNode<'_>) -> Vec<PathSegment> {
    let mut path = Vec::new();
    let mut current = Some(node);
    while let Some(n) = current {
        path.push(match n.segment {
            QueryPathSegment::Name(name) => PathSegment::Field(name.to_string()),
            QueryPathSegment::Index(i) => PathSegment::Index(i),
        });
        current = n.parent;
    }
    path.reverse();
    path
}
