//! The project's shared test suites, written once and run against every way of running the API:
//!
//! - [`store_suite`]: what every `TrainerStore` must do, called on the store directly.
//! - [`graphql_suite`]: the API contract at the GraphQL level, through a [`Target`]: the local
//!   server over HTTP (on any store) and the Lambda resolver behind a simulated AppSync
//!   ([`appsync_sim`]).
//! - [`http_suite`]: what only an HTTP server answers: auth, malformed requests, limits.
//!
//! Each suite has a macro that expands to one `#[tokio::test]` per case, given an async function
//! that makes a fresh, empty target, and optionally attributes for every generated test first
//! (`graphql_suite!(#[ignore = "needs ..."] make)`).

pub mod appsync_sim;
pub mod graphql_suite;
pub mod http_suite;
pub mod server;
pub mod store_suite;
pub mod target;

pub use server::{spawn_embedded, TestServer};
pub use target::{GraphqlResponse, Target};

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
