//! The GraphQL suite through the Lambda resolver behind a simulated AppSync
//! (`trainers_conformance::appsync_sim`): on the DynamoDB store against dynalite (a fresh table
//! per test), and on the embedded store. Also the events themselves, as AppSync builds them.
//!
//! The DynamoDB cases need dynalite and are ignored by a plain `cargo test`: run them with
//! `scripts/dynamodb-servers.sh cargo test -- --include-ignored`, which sets
//! `TRAINERS_TEST_DYNALITE` (`make test` does).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde_json::{json, Value};
use trainers_conformance::appsync_sim::AppSyncSim;
use trainers_conformance::server::embedded_store;
use trainers_conformance::Target;
use trainers_conformance::{dynamodb_endpoint, graphql_suite};
use trainers_core::page_token::{self, Scope};
use trainers_store_dynamodb::{
    create_keys_table, create_table, keys_table_name, local_client, Client, DynamoKeys, DynamoStore,
};

async fn on_embedded() -> AppSyncSim {
    let (store, dir) = embedded_store();
    AppSyncSim::new(store, Some(Box::new(dir)))
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
