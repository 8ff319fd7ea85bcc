//! `trainers table create`, `export`, `import` and `serve --store dynamodb`, as a user runs
//! them, against dynalite. Ignored by a plain `cargo test`: `make test` (or
//! `scripts/dynamodb-servers.sh cargo test -- --include-ignored`) starts it, sets
//! `TRAINERS_TEST_DYNALITE` and runs them; without it they fail and say so.

mod common;

use std::collections::HashSet;
use std::path::Path;
use std::process::Output;

use common::{serve, trainers, KEY};
use serde_json::{json, Value};

fn endpoint() -> String {
    match std::env::var("TRAINERS_TEST_DYNALITE") {
        Ok(endpoint) if !endpoint.is_empty() => endpoint,
        _ => panic!(
            "TRAINERS_TEST_DYNALITE is not set: this test needs dynalite and moto_server; run \
             `scripts/dynamodb-servers.sh cargo test -- --include-ignored` (after \
             `bash scripts/setup-tools.sh`), or `make test`"
        ),
    }
}

fn table_name() -> String {
    format!("trainers-cli-{}", trainers_core::TrainerId::generate())
}

async fn run(data_dir: &Path, args: &[&str]) -> Output {
    trainers()
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .output()
        .await
        .expect("trainers runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[track_caller]
fn assert_ok(out: &Output) {
    assert!(out.status.success(), "failed: {}", stderr(out));
}

/// The ids of an export, checking that none is there twice.
fn ids(export: &[u8]) -> HashSet<String> {
    let text = String::from_utf8_lossy(export);
    let ids: Vec<String> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("a JSON line")["id"].to_string())
        .collect();
    let unique: HashSet<String> = ids.iter().cloned().collect();
    assert_eq!(unique.len(), ids.len(), "no trainer twice");
    unique
}

#[ignore = "needs dynalite and moto_server: scripts/dynamodb-servers.sh cargo test -- --include-ignored (make test runs them)"]
#[tokio::test]
async fn table_create_then_again_is_one_clear_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (table, url) = (table_name(), endpoint());
    let create = ["table", "create", "--table", &table, "--endpoint-url", &url];
    let out = run(dir.path(), &create).await;
    assert_ok(&out);
    let out = run(dir.path(), &create).await;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("exists already"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
}

#[ignore = "needs dynalite and moto_server: scripts/dynamodb-servers.sh cargo test -- --include-ignored (make test runs them)"]
#[tokio::test]
async fn serve_on_a_missing_table_says_how_to_make_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (table, url) = (table_name(), endpoint());
    let out = run(
        dir.path(),
        &[
            "serve",
            "--api-key",
            KEY,
            "--store",
            "dynamodb",
            "--table",
            &table,
            "--endpoint-url",
            &url,
        ],
    )
    .await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(&format!("trainers table create --table {table}")),
        "{}",
        stderr(&out)
    );
}

/// Trainers made through the API on the embedded store, exported, imported into DynamoDB,
/// served from there, exported again: the same trainers.
#[ignore = "needs dynalite and moto_server: scripts/dynamodb-servers.sh cargo test -- --include-ignored (make test runs them)"]
#[tokio::test]
async fn export_import_moves_trainers_to_dynamodb_and_serve_reads_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (table, url) = (table_name(), endpoint());
    let dynamo = [
        "--store",
        "dynamodb",
        "--table",
        table.as_str(),
        "--endpoint-url",
        url.as_str(),
    ];
    {
        let server = serve(dir.path(), &["--api-key", KEY]).await;
        for i in 0..30 {
            let (status, _) = server
                .graphql(
                    KEY,
                    "mutation($f: String!) { createTrainer(firstName: $f, lastName: \"Lee\", age: 30, specialty: BODYBUILDING) { id } }",
                    json!({ "f": format!("T{i}") }),
                )
                .await
                .expect("create");
            assert_eq!(status, 200);
        }
    }
    let embedded = run(dir.path(), &["export"]).await;
    assert_ok(&embedded);
    assert_eq!(ids(&embedded.stdout).len(), 30);
    let file = dir.path().join("trainers.jsonl");
    std::fs::write(&file, &embedded.stdout).expect("write the export");

    assert_ok(
        &run(
            dir.path(),
            &["table", "create", "--table", &table, "--endpoint-url", &url],
        )
        .await,
    );
    let file = file.to_string_lossy().into_owned();
    let import = run(
        dir.path(),
        &[&["import", file.as_str()][..], &dynamo].concat(),
    )
    .await;
    assert_ok(&import);
    assert!(
        stderr(&import).contains("imported 30 trainers"),
        "{}",
        stderr(&import)
    );
    let again = run(
        dir.path(),
        &[&["import", file.as_str()][..], &dynamo].concat(),
    )
    .await;
    assert!(
        stderr(&again).contains("imported 0 trainers"),
        "{}",
        stderr(&again)
    );
    assert!(stderr(&again).contains("30 skipped"), "{}", stderr(&again));

    let exported = run(dir.path(), &[&["export"][..], &dynamo].concat()).await;
    assert_ok(&exported);
    assert_eq!(ids(&exported.stdout), ids(&embedded.stdout));

    let server = serve(dir.path(), &[&["--api-key", KEY][..], &dynamo].concat()).await;
    let (_, body) = server
        .graphql(
            KEY,
            "{ allTrainers(limit: 100, specialty: BODYBUILDING) { items { id } nextToken } }",
            json!({}),
        )
        .await
        .expect("list");
    assert_eq!(
        body["data"]["allTrainers"]["items"]
            .as_array()
            .map(Vec::len),
        Some(30),
        "{body}"
    );
    assert_eq!(body["data"]["allTrainers"]["nextToken"], Value::Null);
}
