//! The Trainers API as AppSync serves it. Data flows one way: [`server`] (connections, TLS,
//! shutdown) → [`router`] (routes, auth, body limits) or [`realtime`] (the WebSocket protocols)
//! → [`request`] (reading a GraphQL request) → [`schema`] (GraphQL, with [`limits`] and
//! [`nulls`]) → the service of `trainers-core`. [`error`] writes every error as AppSync does;
//! [`keys`] holds the ring of API keys a server accepts (where keys are kept is a
//! `trainers_core::KeySource`); [`tls`] the certificates.

pub mod error;
pub mod events;
pub mod explorer;
pub mod inputs;
pub mod keys;
pub mod limits;
pub mod names;
pub mod nulls;
pub mod ops;
mod parse_cache;
pub mod realtime;
pub mod request;
pub mod router;
pub mod schema;
pub mod server;
pub mod tls;

pub use keys::{KeyRing, KeySource};
pub use schema::{build_schema, sdl, TrainersSchema};
pub use server::{Bound, HttpLimits, Running, Server};
