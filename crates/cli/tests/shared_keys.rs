//! Servers side by side on one DynamoDB table share API keys and page tokens through the keys
//! table, with no configuration: real `trainers serve --store dynamodb` processes and `trainers
//! api-key`, against dynalite (`make test` starts it and sets `TRAINERS_TEST_DYNALITE`). Ignored by
//! a plain `cargo test`: `scripts/dynamodb-servers.sh cargo test -p trainers-cli --test shared_keys
//! -- --include-ignored` runs them.

mod common;

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use common::{serve, trainers, Server};
use serde_json::{json, Value};
use trainers_core::{page_token, TrainerStore};
use trainers_store_dynamodb::{create_table, local_client, DynamoStore};

fn endpoint() -> String {
    std::env::var("TRAINERS_TEST_DYNALITE").unwrap_or_else(|_| {
        panic!(
            "TRAINERS_TEST_DYNALITE is not set: run `make test`, which installs and starts \
             dynalite (or scripts/dynamodb-servers.sh cargo test ...)"
        )
    })
}

fn table_name() -> String {
    format!("trainers-keys-{}", trainers_core::TrainerId::generate())
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

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[track_caller]
fn assert_ok(out: &Output) {
    assert!(out.status.success(), "failed: {}", text(&out.stderr));
}

const QUERY: &str = "{ allTrainers { nextToken } }";

/// Polls `server` with `key` until it answers `want`; how long that took, or `None` after 5 s.
async fn time_until(server: &Server, key: &str, want: u16) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(5) {
        let (status, _) = server
            .graphql(key, QUERY, json!({}))
            .await
            .expect("answers");
        if status == want {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

/// `allTrainers(limit: 1)` with `token`: the page's ids and next token, or the first error.
async fn page(server: &Server, key: &str, token: &Value) -> Result<(Vec<String>, Value), Value> {
    let (status, body) = server
        .graphql(
            key,
            "query($t: String) { allTrainers(limit: 1, nextToken: $t) { items { id } nextToken } }",
            json!({ "t": token }),
        )
        .await
        .expect("answers");
    assert_eq!(status, 200, "{body}");
    if let Some(error) = body["errors"].get(0) {
        return Err(error.clone());
    }
    let page = &body["data"]["allTrainers"];
    let ids = page["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    Ok((ids, page["nextToken"].clone()))
}

/// A key made with `trainers api-key create --store dynamodb` works on two servers on one table;
/// a page token of one is followed by the other (no `TRAINERS_TOKEN_SECRET`), a token signed
/// with the key the table's name gave before is refused; `api-key revoke` reaches both within
/// 5 s.
#[tokio::test]
#[ignore = "needs dynalite: scripts/dynamodb-servers.sh cargo test -p trainers-cli --test shared_keys -- --include-ignored (make test runs them)"]
async fn two_servers_on_one_table_share_keys_and_page_tokens() {
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
    let made = run(
        dir.path(),
        &["table", "create", "--table", &table, "--endpoint-url", &url],
    )
    .await;
    assert_ok(&made);
    assert!(
        text(&made.stderr).contains(&format!("{table}-keys")),
        "{}",
        text(&made.stderr)
    );
    let created = run(
        dir.path(),
        &[
            &["api-key", "create", "--description", "shared"][..],
            &dynamo,
        ]
        .concat(),
    )
    .await;
    assert_ok(&created);
    let key = text(&created.stdout).trim().to_string();
    assert!(key.starts_with("da2-") && key.len() == 30, "{key}");

    // Two servers, each with a data directory of its own: nothing shared but the tables.
    let (a_dir, b_dir) = (
        tempfile::tempdir().expect("tempdir"),
        tempfile::tempdir().expect("tempdir"),
    );
    let (a, b) = tokio::join!(serve(a_dir.path(), &dynamo), serve(b_dir.path(), &dynamo));
    for server in [&a, &b] {
        assert!(
            !server.banner.join("\n").contains("da2-"),
            "a key exists, so none is made: {:?}",
            server.banner
        );
        assert_eq!(
            server
                .graphql(&key, QUERY, json!({}))
                .await
                .expect("answers")
                .0,
            200,
            "the key works on both servers"
        );
    }

    let create =
        "mutation($f: String!) { createTrainer(firstName: $f, lastName: \"Lee\", age: 30) { id } }";
    let mut ids = Vec::new();
    for i in 0..3 {
        let (_, body) = a
            .graphql(&key, create, json!({ "f": format!("T{i}") }))
            .await
            .expect("create");
        ids.push(
            body["data"]["createTrainer"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
    }
    // Walk the pages alternating servers: each follows the other's tokens.
    let (mut seen, mut token, mut turn) = (Vec::new(), Value::Null, 0);
    loop {
        let server = if turn % 2 == 0 { &a } else { &b };
        let (page_ids, next) = page(server, &key, &token)
            .await
            .unwrap_or_else(|e| panic!("page {turn}: {e}"));
        seen.extend(page_ids);
        turn += 1;
        if next.is_null() {
            break;
        }
        token = next;
    }
    seen.sort();
    ids.sort();
    assert_eq!(seen, ids, "every trainer once, across both servers");
    assert!(turn >= 3, "more than one page: {turn}");

    // What anyone who knows the table's name could sign before: refused by both.
    let from_name = DynamoStore::new(local_client(&url), table.clone(), None).token_key();
    let position = json!({ "id": ids[0] }).to_string();
    let forged = page_token::encode(
        &from_name,
        page_token::Scope::Specialty(None),
        position.as_bytes(),
    );
    for server in [&a, &b] {
        let error = page(server, &key, &json!(forged))
            .await
            .err()
            .unwrap_or_else(|| panic!("a forged token is refused"));
        assert_eq!(error["errorType"], "ValidationError", "{error}");
        assert!(
            error["message"]
                .as_str()
                .is_some_and(|m| m.contains("nextToken")),
            "{error}"
        );
    }

    let listed = run(dir.path(), &[&["api-key", "list"][..], &dynamo].concat()).await;
    assert_ok(&listed);
    let list = text(&listed.stdout);
    assert_eq!(list.lines().count(), 2, "the header and one key: {list}");
    assert!(list.contains("shared") && list.contains("active"), "{list}");
    assert!(!list.contains(&key) && !list.contains('#'), "{list}");
    let id = list
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().next())
        .expect("an id")
        .to_string();

    let revoked = run(
        dir.path(),
        &[&["api-key", "revoke", &id][..], &dynamo].concat(),
    )
    .await;
    assert_ok(&revoked);
    let (on_a, on_b) = tokio::join!(time_until(&a, &key, 401), time_until(&b, &key, 401));
    assert!(
        on_a.is_some() && on_b.is_some(),
        "both refuse a revoked key within 5 s: {on_a:?} {on_b:?}"
    );
    println!("revoked key refused after {on_a:?} on A, {on_b:?} on B");
    let refused = run(
        dir.path(),
        &[&["api-key", "revoke", "key-nope"][..], &dynamo].concat(),
    )
    .await;
    assert!(!refused.status.success());
    assert!(text(&refused.stderr).contains("key-nope"));
}

/// Servers starting together on a table with no key: one makes the first key and prints it,
/// and every server accepts it.
#[tokio::test]
#[ignore = "needs dynalite: scripts/dynamodb-servers.sh cargo test -p trainers-cli --test shared_keys -- --include-ignored (make test runs them)"]
async fn servers_starting_together_make_one_first_key() {
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
    assert_ok(
        &run(
            dir.path(),
            &["table", "create", "--table", &table, "--endpoint-url", &url],
        )
        .await,
    );
    let dirs: Vec<tempfile::TempDir> = (0..3)
        .map(|_| tempfile::tempdir().expect("tempdir"))
        .collect();
    let servers = futures::future::join_all(dirs.iter().map(|d| serve(d.path(), &dynamo))).await;
    let printed: Vec<String> = servers
        .iter()
        .flat_map(|s| s.banner.iter())
        .filter_map(|line| line.trim().strip_prefix("x-api-key: "))
        .map(str::to_string)
        .collect();
    assert_eq!(printed.len(), 1, "one server makes the key: {printed:?}");
    for server in &servers {
        assert!(
            time_until(server, &printed[0], 200).await.is_some(),
            "every server accepts the first key"
        );
    }
    let listed = run(dir.path(), &[&["api-key", "list"][..], &dynamo].concat()).await;
    assert_eq!(
        text(&listed.stdout).lines().count(),
        2,
        "{}",
        text(&listed.stdout)
    );
}

/// A table made before keys were kept in DynamoDB gets its keys table from `table create`.
#[tokio::test]
#[ignore = "needs dynalite: scripts/dynamodb-servers.sh cargo test -p trainers-cli --test shared_keys -- --include-ignored (make test runs them)"]
async fn table_create_adds_the_keys_table_beside_an_existing_table() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (table, url) = (table_name(), endpoint());
    create_table(&local_client(&url), &table)
        .await
        .expect("create_table");
    let keys_table = format!("{table}-other-keys");
    let args = [
        "table",
        "create",
        "--table",
        &table,
        "--keys-table",
        &keys_table,
        "--endpoint-url",
        &url,
    ];
    let out = run(dir.path(), &args).await;
    assert_ok(&out);
    let said = text(&out.stderr);
    assert!(
        said.contains("exists already") && said.contains(&format!("created {keys_table}")),
        "{said}"
    );
    let again = run(dir.path(), &args).await;
    assert!(!again.status.success());
    assert!(text(&again.stderr).contains("exists already"));
    let server = serve(
        dir.path(),
        &[
            "--store",
            "dynamodb",
            "--table",
            &table,
            "--keys-table",
            &keys_table,
            "--endpoint-url",
            &url,
        ],
    )
    .await;
    assert!(server.banner.join("\n").contains("x-api-key: da2-"));
}
