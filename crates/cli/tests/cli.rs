//! The `trainers` command as a user runs it (docs/contract.md, section 6).

mod common;

use std::process::Output;

use common::{serve, trainers, KEY};
use serde_json::json;

async fn run(args: &[&str]) -> Output {
    trainers().args(args).output().await.expect("trainers runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A failure is one clear line on stderr and a non-zero exit, never a panic.
fn assert_clean_failure(out: &Output, mentions: &str) {
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "should fail: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.contains(mentions),
        "stderr {stderr:?} should mention {mentions:?}"
    );
}

#[tokio::test]
async fn a_wrong_flag_is_refused_clearly() {
    let out = run(&["serve", "--no-such-flag"]).await;
    assert_clean_failure(&out, "--no-such-flag");
    let out = run(&["serve", "--addr", "not-an-address"]).await;
    assert_clean_failure(&out, "not-an-address");
    let out = run(&["frobnicate"]).await;
    assert_clean_failure(&out, "frobnicate");
}

/// Runs `trainers serve` that must fail at start: one clear line on stderr mentioning `mentions`.
async fn assert_serve_fails_in_one_line(data_dir: &std::path::Path, addr: &str, mentions: &str) {
    let out = trainers()
        .arg("--data-dir")
        .arg(data_dir)
        .args(["serve", "--api-key", KEY, "--addr", addr])
        .output()
        .await
        .expect("runs");
    assert_clean_failure(&out, mentions);
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[tokio::test]
async fn an_address_in_use_is_one_clear_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let addr = taken.local_addr().expect("addr").to_string();
    assert_serve_fails_in_one_line(dir.path(), &addr, &format!("cannot listen on {addr}")).await;
}

#[tokio::test]
async fn a_start_that_fails_makes_no_api_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let addr = taken.local_addr().expect("addr").to_string();
    let out = trainers()
        .arg("--data-dir")
        .arg(dir.path())
        .args(["serve", "--addr", &addr])
        .output()
        .await
        .expect("runs");
    assert_clean_failure(&out, "cannot listen");
    assert!(!text(&out.stdout).contains("da2-"), "no key printed");
    let data = dir.path().to_str().expect("utf-8 path");
    let list = text(&run(&["--data-dir", data, "api-key", "list"]).await.stdout);
    assert_eq!(list.lines().count(), 1, "only the header: {list}");
}

#[tokio::test]
async fn a_store_that_cannot_be_opened_is_one_clear_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a directory").expect("write");
    assert_serve_fails_in_one_line(&file, "127.0.0.1:0", "a-file").await;
}

#[tokio::test]
async fn the_first_serve_makes_and_prints_one_key_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = serve(dir.path(), &[]).await;
    let printed = first.banner.join("\n");
    let key = printed
        .split_whitespace()
        .find(|w| w.starts_with("da2-"))
        .unwrap_or_else(|| panic!("a key in {printed:?}"))
        .to_string();
    let (status, _) = first
        .graphql(&key, "{ allTrainers { nextToken } }", json!({}))
        .await
        .expect("answers");
    assert_eq!(status, 200);
    drop(first);
    let second = serve(dir.path(), &[]).await;
    assert!(
        !second.banner.join("\n").contains("da2-"),
        "the key is printed only once: {:?}",
        second.banner
    );
    let (status, _) = second
        .graphql(&key, "{ allTrainers { nextToken } }", json!({}))
        .await
        .expect("answers");
    assert_eq!(status, 200, "the stored key still works");
}

/// Polls with `key` until the server answers `want` (or 5 s pass); returns the last status.
async fn status_within_5s(server: &common::Server, key: &str, want: u16) -> u16 {
    let mut status = 0;
    for _ in 0..50 {
        status = server
            .graphql(key, "{ allTrainers { nextToken } }", json!({}))
            .await
            .expect("answers")
            .0;
        if status == want {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    status
}

#[tokio::test]
async fn api_keys_are_created_listed_and_revoked_against_a_running_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().to_str().expect("utf-8 path");
    let server = serve(dir.path(), &["--api-key", KEY]).await;
    let out = run(&[
        "--data-dir",
        data,
        "api-key",
        "create",
        "--description",
        "ci",
        "--expires-in",
        "2d",
    ])
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let key = text(&out.stdout).trim().to_string();
    assert!(key.starts_with("da2-") && key.len() == 30, "{key}");

    let list = text(&run(&["--data-dir", data, "api-key", "list"]).await.stdout);
    assert!(list.contains("ci") && list.contains("active"), "{list}");
    assert!(!list.contains(&key), "list never shows the key");
    let id = list
        .lines()
        .find(|l| l.contains("ci"))
        .and_then(|l| l.split_whitespace().next())
        .expect("an id")
        .to_string();

    // The running server picks the new key up within its reload interval.
    assert_eq!(
        status_within_5s(&server, &key, 200).await,
        200,
        "a created key works on the running server"
    );

    let out = run(&["--data-dir", data, "api-key", "revoke", &id]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        status_within_5s(&server, &key, 401).await,
        401,
        "a revoked key is refused"
    );
    let list = text(&run(&["--data-dir", data, "api-key", "list"]).await.stdout);
    assert!(list.contains("revoked"), "{list}");

    assert_clean_failure(
        &run(&["--data-dir", data, "api-key", "revoke", "key-nope"]).await,
        "key-nope",
    );
    for (expires_in, mentions) in [("400d", "365"), ("1h", "1 to 365"), ("soon", "soon")] {
        let args = [
            "--data-dir",
            data,
            "api-key",
            "create",
            "--expires-in",
            expires_in,
        ];
        assert_clean_failure(&run(&args).await, mentions);
    }
}

#[tokio::test]
async fn schema_prints_the_served_schema() {
    let out = run(&["schema"]).await;
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), trainers_api::sdl());
    assert!(text(&out.stdout).contains("updateTrainers("));
}

/// An empty key given at start, however it comes (an unset variable in a compose file, a
/// trailing comma, an empty argument), stops the server in one line: it used to make the empty
/// key valid, so that a request with an empty `x-api-key` read and wrote everything.
#[tokio::test]
async fn an_empty_or_malformed_fixed_key_stops_the_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let serve_with = |env: Option<&'static str>, args: Vec<&'static str>| {
        let mut cmd = trainers();
        cmd.arg("--data-dir").arg(dir.path());
        cmd.args(["serve", "--addr", "127.0.0.1:0"]).args(args);
        if let Some(value) = env {
            cmd.env("TRAINERS_API_KEY", value);
        }
        cmd
    };
    let trailing_comma: &'static str = "da2-clitestkey000000000000000,";
    let cases = [
        (Some(""), vec![], "key 1 of 1 is refused: it is empty"),
        (
            Some(trailing_comma),
            vec![],
            "key 2 of 2 is refused: it is empty",
        ),
        (None, vec!["--api-key", ""], "it is empty"),
        (None, vec!["--api-key", "da2-short"], "it has 9 characters"),
        (
            None,
            vec!["--api-key", "da2-with space-0000000"],
            "holds a space",
        ),
    ];
    for (env, args, says) in cases {
        let out = tokio::time::timeout(
            std::time::Duration::from_secs(20),
            serve_with(env, args).output(),
        )
        .await
        .expect("the server stops at start instead of serving")
        .expect("runs");
        assert_clean_failure(&out, says);
        let stderr = text(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            !stderr.contains("da2-short") && !stderr.contains("with space"),
            "{stderr}"
        );
        assert!(
            text(&out.stdout).is_empty(),
            "no first key printed, nothing served"
        );
    }
}

/// A short page-token secret stops the server in one line that never shows it, with either
/// store and from the flag or the environment: anyone who guesses a short secret forges page
/// tokens every server on the table accepts.
#[tokio::test]
async fn a_short_token_secret_stops_the_server_without_showing_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    const SHORT: &str = "s3cret-but-short";
    let cases: [(Option<&str>, Vec<&str>); 3] = [
        (None, vec!["--token-secret", SHORT]),
        (Some(SHORT), vec![]),
        (
            Some(SHORT),
            // No DynamoDB here: the secret is refused before anything is opened.
            vec![
                "--store",
                "dynamodb",
                "--endpoint-url",
                "http://127.0.0.1:9",
            ],
        ),
    ];
    for (env, args) in cases {
        let mut cmd = trainers();
        cmd.arg("--data-dir").arg(dir.path());
        cmd.args(["serve", "--addr", "127.0.0.1:0", "--api-key", KEY])
            .args(&args);
        if let Some(value) = env {
            cmd.env("TRAINERS_TOKEN_SECRET", value);
        }
        let out = tokio::time::timeout(std::time::Duration::from_secs(20), cmd.output())
            .await
            .expect("the server stops at start instead of serving")
            .expect("runs");
        assert_clean_failure(
            &out,
            "--token-secret (TRAINERS_TOKEN_SECRET) is refused: it has 16 bytes",
        );
        let stderr = text(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(!stderr.contains(SHORT), "{stderr}");
        assert!(text(&out.stdout).is_empty(), "nothing served: {args:?}");
    }
    // A long one serves.
    let server = serve(
        dir.path(),
        &[
            "--api-key",
            KEY,
            "--token-secret",
            "a-page-token-secret-of-32-bytes-or-more",
        ],
    )
    .await;
    drop(server);
}

/// `--help` shows the environment's value of each option: never of one that holds a secret (the
/// fixed API keys, the Redis URL with its password, the page-token secret). `trainers serve
/// --help` run in a container or CI log printed them.
#[tokio::test]
async fn help_never_shows_a_secret_from_the_environment() {
    let out = trainers()
        .args(["serve", "--help"])
        .env("TRAINERS_API_KEY", "da2-helpleakskey0000000000000")
        .env(
            "TRAINERS_EVENTS",
            "redis://:hunter2-password@127.0.0.1:6379",
        )
        .env(
            "TRAINERS_TOKEN_SECRET",
            "a-page-token-secret-of-32-bytes-or-more",
        )
        .output()
        .await
        .expect("runs");
    assert!(out.status.success());
    let help = text(&out.stdout);
    assert!(help.contains("TRAINERS_API_KEY"), "{help}");
    for secret in ["helpleakskey", "hunter2", "a-page-token-secret"] {
        assert!(!help.contains(secret), "--help shows {secret}: {help}");
    }
}
