//! The project's shared test suites, written once and run against every way of running the API:
//!
//! - [`store_suite`]: what every `TrainerStore` must do, called on the store directly.
//! - [`graphql_suite`]: the API contract at the GraphQL level, through a [`Target`]: the local
//!   server over HTTP (on any store) and the Lambda resolver behind a simulated AppSync
//!   ([`appsync_sim`]).
//! - [`http_suite`]: what only an HTTP server answers: auth, malformed requests, limits.
//! - [`key_suite`]: what every `KeySource` (where API keys are kept) must do.
//!
//! Each suite has a macro that expands to one `#[tokio::test]` per case, given an async function
//! that makes a fresh, empty target, and optionally attributes for every generated test first
//! (`graphql_suite!(#[ignore = "needs ..."] make)`). Set `TEST_LOG` to see the server's logs of a
//! failing case (see [`init_test_logs`]).

pub mod appsync_js;
pub mod appsync_sim;
pub mod graphql_filters;
pub mod graphql_suite;
pub mod http_suite;
pub mod key_suite;
pub mod server;
pub mod store_suite;
pub mod target;

pub use server::{spawn_embedded, spawn_embedded_signed_in, TestIssuer, TestServer};
pub use target::{GraphqlResponse, Target};

use std::sync::Once;

/// The command that runs the tests needing DynamoDB-compatible servers (ignored by a plain
/// `cargo test`).
pub const DYNAMODB_TESTS_COMMAND: &str =
    "scripts/dynamodb-servers.sh cargo test -- --include-ignored";

/// The endpoint of the DynamoDB-compatible server in `var` (`TRAINERS_TEST_DYNALITE` or
/// `TRAINERS_TEST_MOTO`). Without it the test fails, naming the command that sets it: a test
/// that needs a server never passes without one.
#[track_caller]
pub fn dynamodb_endpoint(var: &str) -> String {
    match std::env::var(var) {
        Ok(endpoint) if !endpoint.is_empty() => endpoint,
        _ => panic!(
            "{var} is not set: this test needs dynalite and moto_server; run \
             `{DYNAMODB_TESTS_COMMAND}` (after `bash scripts/setup-tools.sh`), or `make test`"
        ),
    }
}

/// When `TEST_LOG` is set, sends the logs of the code under test (servers, stores, the service)
/// to the test's captured output, which `cargo test` shows for a failing test. The filter is
/// `TEST_LOG`'s value (e.g. `TEST_LOG=trainers_api=debug`) or, for `TEST_LOG=1`, `RUST_LOG` or
/// `info`. Once per test binary; every case of the suites calls it.
pub fn init_test_logs() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        let Some(value) = std::env::var_os("TEST_LOG") else {
            return;
        };
        let value = value.to_string_lossy();
        let filter = match value.trim() {
            "" | "1" | "true" | "yes" | "on" => std::env::var("RUST_LOG")
                .ok()
                .filter(|f| !f.trim().is_empty())
                .unwrap_or_else(|| "info".to_string()),
            filter => filter.to_string(),
        };
        let filter = tracing_subscriber::EnvFilter::try_new(&filter).unwrap_or_else(|e| {
            eprintln!("TEST_LOG: not a log filter ({e}): {filter:?}; logging at info");
            tracing_subscriber::EnvFilter::new("info")
        });
        // Another subscriber set first (by the test itself) wins: nothing to do then.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
            .try_init();
    });
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    /// The cases a suite defines (its `pub async fn`s) and the names its macro lists.
    fn defined_and_listed(source: &str, suite: &str) -> (BTreeSet<String>, BTreeSet<String>) {
        let defined = source
            .lines()
            .filter_map(|line| line.strip_prefix("pub async fn "))
            .filter_map(|rest| rest.split('(').next())
            .map(|name| name.trim().to_string())
            .collect();
        let start = source
            .find(&format!("macro_rules! {suite} {{"))
            .unwrap_or_else(|| panic!("{suite}: no macro_rules! {suite}"));
        let list = &source[start..];
        let list = list
            .find("$make;")
            .map(|at| &list[at + "$make;".len()..])
            .unwrap_or_else(|| panic!("{suite}: no `$make;` before the list of cases"));
        let list = &list[..list.find(");").unwrap_or(list.len())];
        let listed = list
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(str::to_string)
            .collect();
        (defined, listed)
    }

    /// A case written but left out of its macro's list would never run, silently; a name listed
    /// but not defined would not compile. Both are checked here on the suites' sources.
    #[test]
    fn every_suite_case_is_registered_in_its_macro() {
        let suites = [
            ("store_suite", include_str!("store_suite.rs")),
            // The GraphQL suite's cases of section 10 live in graphql_filters.rs.
            (
                "graphql_suite",
                concat!(
                    include_str!("graphql_suite.rs"),
                    include_str!("graphql_filters.rs")
                ),
            ),
            ("http_suite", include_str!("http_suite.rs")),
        ];
        let mut problems = Vec::new();
        for (suite, source) in suites {
            let (defined, listed) = defined_and_listed(source, suite);
            assert!(!defined.is_empty(), "{suite}: no case found");
            let missing: Vec<_> = defined.difference(&listed).cloned().collect();
            if !missing.is_empty() {
                problems.push(format!(
                    "{suite}.rs defines cases its macro `{suite}!` does not list (so they never run): {}",
                    missing.join(", ")
                ));
            }
            let unknown: Vec<_> = listed.difference(&defined).cloned().collect();
            if !unknown.is_empty() {
                problems.push(format!(
                    "{suite}! lists names that are not `pub async fn` cases of {suite}.rs: {}",
                    unknown.join(", ")
                ));
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn the_check_finds_a_case_left_out() {
        let source = "macro_rules! demo_suite {\n    ($(#[$attr:meta])* $make:path) => {\n        \
                      $crate::demo_suite_cases!([$(#[$attr])*] $make;\n            one,\n        );\n    };\n}\n\
                      pub async fn one(t: &T) {}\npub async fn two(t: &T) {}\nasync fn helper() {}\n";
        let (defined, listed) = defined_and_listed(source, "demo_suite");
        let missing: Vec<_> = defined.difference(&listed).cloned().collect();
        assert_eq!(missing, ["two"]);
    }
}
