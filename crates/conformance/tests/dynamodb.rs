//! The shared suites against the DynamoDB store, on two DynamoDB-compatible servers that catch
//! different mistakes: dynalite and moto_server. They are ignored by a plain `cargo test`;
//! `make test` (or `scripts/dynamodb-servers.sh cargo test -- --include-ignored`) starts both on
//! loopback, passes their endpoints in `TRAINERS_TEST_DYNALITE` and `TRAINERS_TEST_MOTO` and runs
//! them; run without those variables, every test here fails and says so. Each test has a fresh
//! table of its own.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Value};

use trainers_conformance::server::embedded_store;
use trainers_conformance::store_suite::trainer;
use trainers_conformance::{dynamodb_endpoint, Target, TestServer};
use trainers_core::copy::for_each_page;
use trainers_core::KeySource;
use trainers_core::{copy_all, CopyCount, Specialty, Trainer, TrainerId, TrainerStore};
use trainers_store_dynamodb::{
    create_keys_table, create_table, local_client, DynamoKeys, DynamoStore,
};

/// A store on a new, uniquely named table of the server whose endpoint is in `var`.
async fn fresh_store(var: &str) -> Arc<DynamoStore> {
    let endpoint = dynamodb_endpoint(var);
    let client = local_client(&endpoint);
    let table = format!("trainers-test-{}", TrainerId::generate());
    if let Err(e) = create_table(&client, &table).await {
        panic!("cannot create table {table} at {endpoint} ({var}): {e}");
    }
    Arc::new(DynamoStore::new(client, table, None))
}

/// A key source on a new, uniquely named keys table of the server whose endpoint is in `var`.
async fn fresh_keys(var: &str) -> Arc<DynamoKeys> {
    let endpoint = std::env::var(var).unwrap_or_else(|_| {
        panic!(
            "{var} is not set: run `make test`, which installs and starts dynalite and \
             moto_server (or scripts/dynamodb-servers.sh cargo test ...)"
        )
    });
    let client = local_client(&endpoint);
    let table = format!("trainers-test-{}-keys", TrainerId::generate());
    if let Err(e) = create_keys_table(&client, &table).await {
        panic!("cannot create table {table} at {endpoint} ({var}): {e}");
    }
    Arc::new(DynamoKeys::new(client, table))
}

macro_rules! on_server {
    ($server:ident, $var:literal) => {
        mod $server {
            use super::*;

            async fn store() -> (Arc<dyn TrainerStore>, ()) {
                (fresh_store($var).await, ())
            }

            async fn server() -> TestServer {
                TestServer::start(fresh_store($var).await).await
            }

            async fn server_signed_in() -> TestServer {
                TestServer::start_signed_in(fresh_store($var).await, None).await
            }

            async fn key_source() -> (Arc<dyn KeySource>, ()) {
                (fresh_keys($var).await, ())
            }

            mod store {
                trainers_conformance::store_suite!(#[ignore = "needs dynalite and moto_server: scripts/dynamodb-servers.sh cargo test -- --include-ignored (make test runs them)"] super::store);
            }

            mod keys {
                trainers_conformance::key_source_suite!(#[ignore = "needs dynalite and moto_server: scripts/dynamodb-servers.sh cargo test -- --include-ignored (make test runs them)"] super::key_source);
            }

            mod graphql {
                trainers_conformance::graphql_suite!(#[ignore = "needs dynalite and moto_server: scripts/dynamodb-servers.sh cargo test -- --include-ignored (make test runs them)"] super::server);
            }

            /// The GraphQL suite with accounts on, every request signed in.
            mod graphql_signed_in {
                trainers_conformance::graphql_suite!(#[ignore = "needs dynalite and moto_server: scripts/dynamodb-servers.sh cargo test -- --include-ignored (make test runs them)"] super::server_signed_in);
            }

            mod http {
                trainers_conformance::http_suite!(#[ignore = "needs dynalite and moto_server: scripts/dynamodb-servers.sh cargo test -- --include-ignored (make test runs them)"] super::server);
            }

            #[ignore = "needs dynalite and moto_server: scripts/dynamodb-servers.sh cargo test -- --include-ignored (make test runs them)"]
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn round_trip_embedded_to_dynamodb_and_back() {
                trainers_conformance::init_test_logs();
                super::round_trip($var).await;
            }

            #[ignore = "needs dynalite and moto_server: scripts/dynamodb-servers.sh cargo test -- --include-ignored (make test runs them)"]
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn forty_counts_in_one_request_scan_four_at_a_time() {
                trainers_conformance::init_test_logs();
                super::forty_counts($var).await;
            }

            #[ignore = "needs dynalite and moto_server: scripts/dynamodb-servers.sh cargo test -- --include-ignored (make test runs them)"]
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn two_servers_side_by_side_on_one_table() {
                trainers_conformance::init_test_logs();
                super::side_by_side($var).await;
            }
        }
    };
}

on_server!(dynalite, "TRAINERS_TEST_DYNALITE");
on_server!(moto, "TRAINERS_TEST_MOTO");

const ROUND_TRIP_TRAINERS: usize = 250;

async fn all_by_id(store: &dyn TrainerStore) -> HashMap<TrainerId, Trainer> {
    let mut all = HashMap::new();
    for_each_page(store, |page| {
        for t in page {
            assert!(all.insert(t.id.clone(), t).is_none(), "listed twice");
        }
        Ok(())
    })
    .await
    .expect("list");
    all
}

async fn count_of(store: &dyn TrainerStore, specialty: Specialty) -> usize {
    let mut n = 0;
    let mut after: Option<Vec<u8>> = None;
    loop {
        let page = store
            .list(
                &trainers_core::ListQuery {
                    specialty: Some(specialty),
                    filter: None,
                },
                after.as_deref(),
                100,
            )
            .await
            .expect("list");
        n += page.items.len();
        match page.next {
            Some(next) => after = Some(next),
            None => return n,
        }
    }
}

/// Trainers made in an embedded store (some updated, some without specialty), copied to
/// DynamoDB, listed there with equal counts and fields, and copied back to a new embedded store.
async fn round_trip(var: &str) {
    let mut made: Vec<Trainer> = (0..ROUND_TRIP_TRAINERS)
        .map(|n| trainer(n, Specialty::ALL.get(n % 5).copied()))
        .collect();
    for (n, t) in made.iter_mut().enumerate() {
        t.version = 1 + (n % 4) as i64;
        t.updated_at = trainers_core::Timestamp::from_millis(t.created_at.millis() + n as i64);
    }
    let (embedded, _dir) = embedded_store();
    embedded.insert_many(&made).await.expect("insert_many");
    let want: HashMap<TrainerId, Trainer> =
        made.iter().map(|t| (t.id.clone(), t.clone())).collect();

    let dynamo = fresh_store(var).await;
    let started = Instant::now();
    let mut reported = 0;
    let there = copy_all(embedded.as_ref(), dynamo.as_ref(), |n| reported = n)
        .await
        .expect("copy to DynamoDB");
    let to_dynamo = started.elapsed();
    assert_eq!(
        (there, reported),
        (
            CopyCount {
                copied: ROUND_TRIP_TRAINERS as u64,
                skipped: 0
            },
            ROUND_TRIP_TRAINERS as u64
        )
    );
    assert_eq!(all_by_id(dynamo.as_ref()).await, want, "equal in DynamoDB");
    for s in Specialty::ALL {
        assert_eq!(
            count_of(dynamo.as_ref(), s).await,
            made.iter().filter(|t| t.specialty == Some(s)).count(),
            "{s}"
        );
    }
    let again = copy_all(embedded.as_ref(), dynamo.as_ref(), |_| {})
        .await
        .expect("copy again");
    assert_eq!(again.copied, 0, "a second copy overwrites nothing");

    let (back, _back_dir) = embedded_store();
    let started = Instant::now();
    let home = copy_all(dynamo.as_ref(), back.as_ref(), |_| {})
        .await
        .expect("copy back");
    let to_embedded = started.elapsed();
    assert_eq!(home.copied, ROUND_TRIP_TRAINERS as u64);
    assert_eq!(all_by_id(back.as_ref()).await, want, "equal back home");
    println!(
        "round trip on {var}: {} trainers, embedded -> DynamoDB {:?} ({} copied, then {} skipped \
         on a second copy), DynamoDB -> embedded {:?}, fields equal both ways",
        ROUND_TRIP_TRAINERS, to_dynamo, there.copied, again.skipped, to_embedded
    );
}

/// Two stateless servers, each with its own client, on one table: what one writes the other
/// reads, page tokens of one work on the other, and versions guard writes across them.
async fn side_by_side(var: &str) {
    let first = fresh_store(var).await;
    let endpoint = dynamodb_endpoint(var);
    let second = Arc::new(DynamoStore::new(
        local_client(&endpoint),
        first.table().to_string(),
        None,
    ));
    let (a, b) = (
        TestServer::start(first).await,
        TestServer::start(second).await,
    );
    let create =
        "mutation($f: String!) { createTrainer(firstName: $f, lastName: \"Lee\", age: 30) { id } }";
    let mut made = Vec::new();
    for i in 0..7 {
        let server = if i % 2 == 0 { &a } else { &b };
        let resp = server
            .graphql(create, json!({ "f": format!("T{i}") }))
            .await;
        made.push(
            resp.ok()["createTrainer"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
    }
    // Walk with limit 2, alternating servers: every trainer once.
    let list =
        "query($t: String) { allTrainers(limit: 2, nextToken: $t) { items { id } nextToken } }";
    let (mut seen, mut token, mut turn) = (Vec::new(), Value::Null, 0);
    loop {
        let server = if turn % 2 == 0 { &b } else { &a };
        let resp = server.graphql(list, json!({ "t": token })).await;
        let page = resp.ok()["allTrainers"].clone();
        for item in page["items"].as_array().cloned().unwrap_or_default() {
            seen.push(item["id"].as_str().unwrap_or_default().to_string());
        }
        token = page["nextToken"].clone();
        turn += 1;
        if token.is_null() {
            break;
        }
    }
    seen.sort();
    made.sort();
    assert_eq!(seen, made, "each trainer once, whichever server answers");
    // A version read on one server guards a write on the other.
    let update = "mutation($id: ID!, $v: Int) { updateTrainers(id: $id, age: 31, expectedVersion: $v) { version } }";
    let won = b.graphql(update, json!({ "id": made[0], "v": 1 })).await;
    assert_eq!(won.ok()["updateTrainers"]["version"], 2);
    let lost = a.graphql(update, json!({ "id": made[0], "v": 1 })).await;
    lost.expect_error("ConflictError", "version");
}

/// One request with 40 aliased filtered `countTrainers` (40 scans of the table) runs them 4 at
/// a time, as the store's scan counters show, and every one answers.
async fn forty_counts(var: &str) {
    let store = fresh_store(var).await;
    let made: Vec<Trainer> = (0..30)
        .map(|n| trainer(n, Specialty::ALL.get(n % 5).copied()))
        .collect();
    store.insert_many(&made).await.expect("insert_many");
    let server = TestServer::start(store.clone()).await;
    let fields: Vec<String> = (0..40)
        .map(|i| format!("c{i}: countTrainers(filter: {{age: {{ge: {}}}}})", i % 3))
        .collect();
    let query = format!("query {{ {} }}", fields.join(" "));
    let resp = server.graphql(&query, json!({})).await;
    let data = resp.ok();
    let want = made.len();
    for i in 0..40 {
        assert_eq!(data[format!("c{i}")], json!(want), "c{i}");
    }
    let stats = store.scan_stats();
    assert_eq!(stats.running, 0, "{stats:?}");
    assert!(
        (1..=4).contains(&stats.peak),
        "at most 4 scans at once: {stats:?}"
    );
    assert_eq!(stats.busy, 0, "{stats:?}");
    println!(
        "40 aliased countTrainers on {var}: at most {} scans at once",
        stats.peak
    );
}
