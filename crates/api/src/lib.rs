//! The Trainers API as AppSync serves it: the GraphQL schema, the HTTP router with API-key auth
//! and limits, and the API keys themselves.

pub mod appsync;
pub mod graphql;
pub mod http;
pub mod keys;
pub mod limits;
pub mod nulls;
mod parse_cache;
pub mod realtime;

pub use graphql::{build_schema, sdl, TrainersSchema};
pub use http::{router, router_with_limits};
pub use keys::{KeyRing, KeyStore};
