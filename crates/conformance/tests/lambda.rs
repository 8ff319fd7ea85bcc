//! The GraphQL suite through the Lambda resolver behind a simulated AppSync
//! (`trainers_conformance::appsync_sim`): on the DynamoDB store against dynalite (a fresh table
//! per test), and on the embedded store; each again with accounts on (a Cognito user pool as an
//! additional mode, every request signed in). Also the events themselves, as AppSync builds them,
//! and the owner rules as the function applies them from AppSync's `identity`.
//!
//! The DynamoDB cases need dynalite and are ignored by a plain `cargo test`: run them with
//! `scripts/dynamodb-servers.sh cargo test -- --include-ignored`, which sets
//! `TRAINERS_TEST_DYNALITE` (`make test` does).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde_json::{json, Value};
use trainers_conformance::appsync_sim::{AppSyncSim, Credential};
use trainers_conformance::server::{embedded_store, TEST_ADMIN_GROUP, TEST_USER};
use trainers_conformance::Target;
use trainers_conformance::TestIssuer;
use trainers_conformance::{dynamodb_endpoint, graphql_suite};
use trainers_core::page_token::{self, Scope};
use trainers_store_dynamodb::{
    create_keys_table, create_table, keys_table_name, local_client, Client, DynamoKeys, DynamoStore,
};

async fn on_embedded() -> AppSyncSim {
    let (store, dir) = embedded_store();
    AppSyncSim::new(store, Some(Box::new(dir)))
}

/// With accounts on (the stack's user pool, owner rules in the function), on the embedded store:
/// the API, and the issuer of its user pool's tokens.
fn with_accounts() -> (AppSyncSim, Arc<TestIssuer>) {
    let issuer = Arc::new(TestIssuer::new());
    let (store, dir) = embedded_store();
    let sim = AppSyncSim::with_accounts(
        store,
        Some(Box::new((dir, issuer.clone()))),
        issuer.verifier(),
    );
    (sim, issuer)
}

async fn on_embedded_signed_in() -> AppSyncSim {
    let (sim, issuer) = with_accounts();
    sim.signed_in(issuer.token(TEST_USER, &[]))
}

async fn on_dynalite_signed_in() -> AppSyncSim {
    let (client, table, keys) = fresh_tables().await;
    let key = trainers_lambda::token_key(&client, &table, None, Some(&keys))
        .await
        .expect("the page-token key");
    let issuer = Arc::new(TestIssuer::new());
    let store = Arc::new(DynamoStore::with_token_key(client, table, key));
    AppSyncSim::with_accounts(store, Some(Box::new(issuer.clone())), issuer.verifier())
        .signed_in(issuer.token(TEST_USER, &[]))
}

/// A fresh table and its keys table on dynalite, as the stack makes them: their names.
async fn fresh_tables() -> (Client, String, String) {
    static TABLES: AtomicUsize = AtomicUsize::new(0);
    let endpoint = dynamodb_endpoint("TRAINERS_TEST_DYNALITE");
    let client = local_client(&endpoint);
    let table = format!(
        "trainers-lambda-{}-{}",
        std::process::id(),
        TABLES.fetch_add(1, Ordering::Relaxed)
    );
    create_table(&client, &table)
        .await
        .expect("a fresh table on dynalite");
    let keys = keys_table_name(&table);
    create_keys_table(&client, &keys)
        .await
        .expect("its keys table");
    (client, table, keys)
}

/// The Lambda's store on fresh tables, its page tokens signed as the function signs them.
async fn on_dynalite() -> AppSyncSim {
    let (client, table, keys) = fresh_tables().await;
    let key = trainers_lambda::token_key(&client, &table, None, Some(&keys))
        .await
        .expect("the page-token key");
    AppSyncSim::new(
        Arc::new(DynamoStore::with_token_key(client, table, key)),
        None,
    )
}

/// A page-token secret of the length `TRAINERS_TOKEN_SECRET` needs.
const SECRET: &str = "s3cret-s3cret-s3cret-s3cret-s3cret";

/// The function signs page tokens with the secret of the keys table, which `trainers serve`
/// on the same table reads too: a token of one is the other's; a key derived from the table's
/// name (anyone's) signs none they accept.
#[ignore = "needs dynalite and moto_server: scripts/dynamodb-servers.sh cargo test -- --include-ignored (make test runs them)"]
#[tokio::test]
async fn the_function_signs_page_tokens_with_the_keys_tables_secret() {
    let (client, table, keys) = fresh_tables().await;
    let function = trainers_lambda::token_key(&client, &table, None, Some(&keys))
        .await
        .expect("the function's key");
    let server = DynamoKeys::new(client.clone(), keys.clone())
        .page_token_key()
        .await
        .expect("a server's key");
    let token = page_token::encode(&function, Scope::Specialty(None), b"position");
    assert_eq!(
        page_token::decode(&server, &token, Scope::Specialty(None)).ok(),
        Some(b"position".to_vec())
    );
    let again = trainers_lambda::token_key(&client, &table, None, Some(&keys))
        .await
        .expect("a second cold start's key");
    assert!(page_token::decode(&again, &token, Scope::Specialty(None)).is_ok());
    let by_name = trainers_lambda::token_key(&client, &table, None, None)
        .await
        .expect("the table-name key");
    assert!(page_token::decode(&by_name, &token, Scope::Specialty(None)).is_err());
    // TRAINERS_TOKEN_SECRET, when given, is the key, as for `trainers serve --token-secret`.
    let secret = trainers_lambda::token_secret(Some(SECRET))
        .expect("long enough")
        .expect("given");
    let given = trainers_lambda::token_key(&client, &table, Some(&secret), Some(&keys))
        .await
        .expect("the given secret's key");
    let token = page_token::encode(&given, Scope::Specialty(None), b"p");
    let same = trainers_store_dynamodb::token_key_from_secret(SECRET);
    assert!(page_token::decode(&same, &token, Scope::Specialty(None)).is_ok());
    assert!(page_token::decode(&server, &token, Scope::Specialty(None)).is_err());
}

mod dynalite {
    super::graphql_suite!(
        #[ignore = "needs dynalite and moto_server: scripts/dynamodb-servers.sh cargo test -- --include-ignored (make test runs them)"]
        super::on_dynalite
    );
}

mod embedded {
    super::graphql_suite!(super::on_embedded);
}

mod dynalite_signed_in {
    super::graphql_suite!(
        #[ignore = "needs dynalite and moto_server: scripts/dynamodb-servers.sh cargo test -- --include-ignored (make test runs them)"]
        super::on_dynalite_signed_in
    );
}

mod embedded_signed_in {
    super::graphql_suite!(super::on_embedded_signed_in);
}

/// The one event of a request, after it ran.
async fn event_of(query: &str, variables: Value) -> (Value, Value) {
    let sim = on_embedded().await;
    let made = sim
        .graphql(
            "mutation { createTrainer(firstName: \"Ann\", lastName: \"Lee\", age: 40, specialty: BODYBUILDING) { id } }",
            json!({}),
        )
        .await;
    let id = made.ok()["createTrainer"]["id"].clone();
    let mut variables = variables;
    if let Some(vars) = variables.as_object_mut() {
        if vars.contains_key("id") {
            vars.insert("id".into(), id);
        }
    }
    let resp = sim.graphql(query, variables).await;
    let events = sim.events();
    assert_eq!(events.len(), 2, "one event per root field: {events:?}");
    (events[1].clone(), resp.0)
}

#[tokio::test]
async fn events_are_built_as_appsync_builds_them() {
    let (event, resp) = event_of(
        "mutation Up($id: ID!, $age: Int, $s: Specialty, $first: String) {
            updateTrainers(id: $id, age: $age, specialty: $s, firstName: $first) {
                id ... on Trainers { age } specialty nick: lastName
            }
        }",
        json!({ "id": "", "age": 41, "s": null }),
    )
    .await;
    assert!(resp.get("errors").is_none(), "{resp}");
    let id = resp["data"]["updateTrainers"]["id"].clone();
    // `firstName` is bound to a variable the request left out: not given, so not in arguments.
    // `specialty` is given as null: present, as null (it clears the specialty).
    assert_eq!(
        event["arguments"],
        json!({ "id": id, "age": 41, "specialty": null })
    );
    assert_eq!(event["identity"], Value::Null, "API key: no identity");
    assert_eq!(event["source"], Value::Null);
    assert_eq!(event["stash"], json!({}));
    assert_eq!(event["info"]["fieldName"], "updateTrainers");
    assert_eq!(event["info"]["parentTypeName"], "Mutation");
    assert_eq!(
        event["info"]["variables"],
        json!({ "id": id, "age": 41, "s": null })
    );
    assert_eq!(
        event["info"]["selectionSetList"],
        json!(["id", "age", "specialty", "lastName"])
    );
    assert_eq!(
        event["info"]["selectionSetGraphQL"],
        "{\n  id\n  ... on Trainers {\n    age\n  }\n  specialty\n  nick: lastName\n}"
    );
    assert_eq!(resp["data"]["updateTrainers"]["specialty"], Value::Null);
    assert_eq!(resp["data"]["updateTrainers"]["nick"], "Lee");
}

#[tokio::test]
async fn nested_selections_are_listed_with_their_paths() {
    let (event, resp) = event_of(
        "{ allTrainers(limit: 5) { items { id firstName } nextToken } }",
        json!({}),
    )
    .await;
    assert!(resp.get("errors").is_none(), "{resp}");
    assert_eq!(event["arguments"], json!({ "limit": 5 }));
    assert_eq!(event["info"]["parentTypeName"], "Query");
    assert_eq!(
        event["info"]["selectionSetList"],
        json!(["items", "items/id", "items/firstName", "nextToken"])
    );
}

#[tokio::test]
async fn a_query_that_does_not_validate_never_reaches_the_function() {
    let sim = on_embedded().await;
    let resp = sim
        .graphql(
            "mutation { createTrainer(firstName: \"A\", lastName: \"B\", age: \"old\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(resp.error_types(), ["ValidationError"], "{}", resp.0);
    assert!(
        sim.events().is_empty(),
        "AppSync refuses it before any resolver"
    );
}

/// A subscription through the simulated AppSync runs the deployed subscription resolver
/// (infra/resolvers/subscriptions.js) on its arguments: what `setSubscriptionFilter` receives is
/// its `filter` ANDed with `id` and `specialty`, and the function is never invoked.
#[tokio::test]
async fn a_filtered_subscription_sets_its_filter_through_the_deployed_resolver() {
    let sim = on_embedded().await;
    let responses = sim
        .subscribe(
            "subscription On($f: ModelSubscriptionTrainersFilterInput, $s: Specialty) {
                onUpdateTrainer(id: \"t-1\", specialty: $s, filter: $f) { id age }
            }",
            json!({
                "s": "BODYBUILDING",
                "f": {
                    "age": { "ge": 30, "le": 40 },
                    "or": [{ "lastName": { "beginsWith": "L" } }, { "firstName": { "in": ["Ann", "Bo"] } }]
                }
            }),
        )
        .await;
    assert!(
        responses.iter().all(|r| r.0.get("errors").is_none()),
        "{responses:?}"
    );
    let filters = sim.subscription_filters();
    assert_eq!(filters.len(), 1, "{filters:?}");
    let started = &filters[0];
    assert_eq!(started.field, "onUpdateTrainer");
    // ctx.args: the arguments as given, the enum as its name.
    assert_eq!(
        started.arguments,
        json!({
            "id": "t-1",
            "specialty": "BODYBUILDING",
            "filter": {
                "age": { "ge": 30, "le": 40 },
                "or": [{ "lastName": { "beginsWith": "L" } }, { "firstName": { "in": ["Ann", "Bo"] } }]
            }
        })
    );
    // Two operators on one field become an explicit AND, one operator each.
    let filter = json!({
        "and": [
            {
                "or": [{ "lastName": { "beginsWith": "L" } }, { "firstName": { "in": ["Ann", "Bo"] } }],
                "and": [{ "age": { "ge": 30 } }, { "age": { "le": 40 } }]
            },
            { "id": { "eq": "t-1" } },
            { "specialty": { "eq": "BODYBUILDING" } }
        ]
    });
    assert_eq!(
        started.filter,
        Some(json!({ "toSubscriptionFilter": filter }))
    );
    assert!(
        sim.events().is_empty(),
        "a subscription invokes no function"
    );
}

#[tokio::test]
async fn a_subscription_without_arguments_sets_no_filter_and_one_too_deep_is_refused() {
    let sim = on_embedded().await;
    let plain = sim
        .subscribe("subscription { onCreateTrainer { id } }", json!({}))
        .await;
    assert!(
        plain.iter().all(|r| r.0.get("errors").is_none()),
        "{plain:?}"
    );
    let mut deep = json!({ "age": { "eq": 1 } });
    for _ in 0..9 {
        deep = json!({ "or": [deep] });
    }
    let refused = sim
        .subscribe(
            "subscription On($f: ModelSubscriptionTrainersFilterInput) { onDeleteTrainer(filter: $f) { id } }",
            json!({ "f": deep }),
        )
        .await;
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(
        refused[0].error_types(),
        ["ValidationError"],
        "{}",
        refused[0].0
    );
    let filters = sim.subscription_filters();
    assert_eq!(filters.len(), 1, "only the one that started: {filters:?}");
    assert_eq!(filters[0].field, "onCreateTrainer");
    assert_eq!(filters[0].arguments, json!({}));
    assert_eq!(filters[0].filter, None);
}

/// A short `TRAINERS_TOKEN_SECRET` stops the function, in a message that never shows it.
#[test]
fn a_short_token_secret_stops_the_function_without_showing_it() {
    let refused = trainers_lambda::token_secret(Some("s3cret")).expect_err("refused");
    assert!(
        refused.contains("TRAINERS_TOKEN_SECRET is refused"),
        "{refused}"
    );
    assert!(!refused.contains("s3cret"), "{refused}");
    assert_eq!(refused.lines().count(), 1, "{refused}");
    assert!(matches!(trainers_lambda::token_secret(Some("")), Ok(None)));
    assert!(matches!(trainers_lambda::token_secret(None), Ok(None)));
}

const CREATE: &str = "mutation { createTrainer(firstName: \"Ann\", lastName: \"Lee\", age: 40) { id owner version } }";

/// A signed-in request reaches the function with the `identity` AppSync builds for a Cognito
/// user pool: `sub`, `issuer`, `username`, the token's `claims`, `groups`; the new trainer's
/// owner is `"<sub>::<username>"`.
#[tokio::test]
async fn a_signed_in_caller_reaches_the_function_as_appsyncs_identity() {
    let (sim, issuer) = with_accounts();
    let token = issuer.token("ana", &[TEST_ADMIN_GROUP]);
    let made = sim
        .graphql_as(&Credential::UserPool(token), CREATE, json!({}))
        .await;
    let made = made.ok()["createTrainer"].clone();
    assert_eq!(made["owner"], json!(issuer.owner("ana")));
    let events = sim.events();
    assert_eq!(events.len(), 1, "{events:?}");
    let identity = &events[0]["identity"];
    assert_eq!(identity["sub"], json!(issuer.issuer.sub("ana")));
    assert_eq!(identity["username"], "ana");
    assert_eq!(identity["issuer"], "urn:trainers:local");
    assert_eq!(identity["groups"], json!([TEST_ADMIN_GROUP]));
    assert_eq!(identity["claims"]["token_use"], "access");
    assert_eq!(identity["claims"]["username"], "ana");
    assert_eq!(identity["defaultAuthStrategy"], "ALLOW");
}

/// AppSync decides by the schema's directives before the function runs: the API key may read
/// and subscribe, but a mutation is `@aws_cognito_user_pools` alone, so an API key's is refused
/// with `Unauthorized` and never reaches the function.
#[tokio::test]
async fn with_accounts_the_api_key_reads_but_its_mutations_never_reach_the_function() {
    let (sim, issuer) = with_accounts();
    let token = Credential::UserPool(issuer.token("ana", &[]));
    let made = sim.graphql_as(&token, CREATE, json!({})).await;
    let id = made.ok()["createTrainer"]["id"].clone();

    let refused = sim.graphql_as(&Credential::ApiKey, CREATE, json!({})).await;
    let e = refused.expect_error(
        "Unauthorized",
        "Not Authorized to access createTrainer on type Mutation",
    );
    assert_eq!(e["path"], json!(["createTrainer"]));
    assert_eq!(
        refused.data()["createTrainer"],
        Value::Null,
        "{}",
        refused.0
    );
    let update = format!("mutation {{ updateTrainers(id: {id}, age: 41) {{ id }} }}");
    sim.graphql_as(&Credential::ApiKey, &update, json!({}))
        .await
        .expect_error(
            "Unauthorized",
            "Not Authorized to access updateTrainers on type Mutation",
        );
    assert_eq!(
        sim.events().len(),
        1,
        "only the signed-in create reached the function"
    );

    let read = sim
        .graphql_as(
            &Credential::ApiKey,
            "query($id: ID!) { getTrainer(id: $id) { id age owner } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(read.ok()["getTrainer"]["age"], 40);
    assert_eq!(read.ok()["getTrainer"]["owner"], json!(issuer.owner("ana")));
    assert_eq!(
        sim.events()[1]["identity"],
        Value::Null,
        "API key: no identity"
    );
    let subscribed = sim
        .subscribe("subscription { onCreateTrainer { id owner } }", json!({}))
        .await;
    assert!(
        subscribed.iter().all(|r| r.0.get("errors").is_none()),
        "{subscribed:?}"
    );
    assert_eq!(
        sim.subscription_filters().len(),
        1,
        "the subscription's resolver ran"
    );
}

/// The function applies the owner rules from the identity: another user's update and delete
/// are `Unauthorized` and change nothing; a member of the admin group may change anyone's.
#[tokio::test]
async fn the_function_lets_owners_and_admins_change_a_trainer_and_no_one_else() {
    let (sim, issuer) = with_accounts();
    let ana = Credential::UserPool(issuer.token("ana", &[]));
    let bo = Credential::UserPool(issuer.token("bo", &[]));
    let admin = Credential::UserPool(issuer.token("root", &[TEST_ADMIN_GROUP]));
    let made = sim.graphql_as(&ana, CREATE, json!({})).await;
    let id = made.ok()["createTrainer"]["id"].clone();
    let update = |age: i32| {
        format!("mutation {{ updateTrainers(id: {id}, age: {age}) {{ age version owner }} }}")
    };
    let delete = format!("mutation {{ deleteTrainer(id: {id}) {{ id }} }}");

    let refused = sim.graphql_as(&bo, &update(50), json!({})).await;
    refused.expect_error(
        "Unauthorized",
        "Not Authorized to access updateTrainers on type Mutation",
    );
    assert_eq!(refused.data()["updateTrainers"], Value::Null);
    sim.graphql_as(&bo, &delete, json!({})).await.expect_error(
        "Unauthorized",
        "Not Authorized to access deleteTrainer on type Mutation",
    );
    let get = format!("{{ getTrainer(id: {id}) {{ age version }} }}");
    let unchanged = sim.graphql_as(&bo, &get, json!({})).await;
    assert_eq!(
        unchanged.ok()["getTrainer"],
        json!({"age": 40, "version": 1})
    );

    let own = sim.graphql_as(&ana, &update(41), json!({})).await;
    assert_eq!(own.ok()["updateTrainers"]["age"], 41);
    let by_admin = sim.graphql_as(&admin, &update(42), json!({})).await;
    assert_eq!(by_admin.ok()["updateTrainers"]["age"], 42);
    assert_eq!(
        by_admin.ok()["updateTrainers"]["owner"],
        json!(issuer.owner("ana")),
        "an admin's change keeps the owner"
    );
    let gone = sim.graphql_as(&admin, &delete, json!({})).await;
    assert_eq!(gone.ok()["deleteTrainer"]["id"], id);
}

/// A token AppSync cannot verify refuses the whole request with `UnauthorizedException`, and
/// the function never runs: one of another issuer, and one that has been tampered with.
#[tokio::test]
async fn a_token_that_does_not_verify_is_refused_before_the_function() {
    let (sim, issuer) = with_accounts();
    let stranger = TestIssuer::new().token("ana", &[]);
    let refused = sim
        .graphql_as(&Credential::UserPool(stranger), CREATE, json!({}))
        .await;
    assert_eq!(
        refused.error_types(),
        ["UnauthorizedException"],
        "{}",
        refused.0
    );
    assert_eq!(refused.data(), &Value::Null);
    let token = issuer.token("ana", &[]);
    let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
    parts[1] = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        br#"{"sub":"x","username":"root","cognito:groups":["Admins"]}"#,
    );
    let tampered = sim
        .graphql_as(&Credential::UserPool(parts.join(".")), CREATE, json!({}))
        .await;
    assert_eq!(
        tampered.error_types(),
        ["UnauthorizedException"],
        "{}",
        tampered.0
    );
    assert!(sim.events().is_empty(), "no request reached the function");
}

/// Without accounts (the stack deployed with the API key alone), a token is no credential, and
/// the API key may run every mutation, as in the tutorial.
#[tokio::test]
async fn without_accounts_the_api_key_does_everything_and_a_token_is_refused() {
    let sim = on_embedded().await;
    let made = sim.graphql_as(&Credential::ApiKey, CREATE, json!({})).await;
    assert_eq!(made.ok()["createTrainer"]["owner"], Value::Null);
    let token = TestIssuer::new().token("ana", &[]);
    let refused = sim
        .graphql_as(&Credential::UserPool(token), CREATE, json!({}))
        .await;
    assert_eq!(
        refused.error_types(),
        ["UnauthorizedException"],
        "{}",
        refused.0
    );
}
