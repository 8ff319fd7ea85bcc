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
//! that makes a fresh, empty target.

pub mod appsync_sim;
pub mod graphql_suite;
pub mod http_suite;
pub mod key_suite;
pub mod server;
pub mod store_suite;
pub mod target;

pub use server::{spawn_embedded, TestServer};
pub use target::{GraphqlResponse, Target};
