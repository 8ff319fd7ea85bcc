//! The Trainers API as AppSync serves it, by layer. Data flows one way, down this list:
//!
//! - [`http`]: the server (connections, TLS, shutdown), the routes, health and readiness, the
//!   explorer page;
//! - [`realtime`]: the two WebSocket protocols of subscriptions, on one connection loop;
//! - [`auth`]: who is calling (the API keys a server accepts);
//! - [`graphql`]: reading a request, the one parse step with its bounds, the schema and its
//!   resolvers, errors as AppSync writes them;
//! - [`events`]: mutations' results on their way to subscribers (in process, or through Redis);
//! - [`metrics`]: every metric's name and labels.
//!
//! Below them, the service of `trainers-core`, and a store behind its `TrainerStore` trait.

pub mod auth;
pub mod events;
pub mod graphql;
pub mod http;
pub mod metrics;
pub mod realtime;

pub use auth::{KeyRing, KeySource};
pub use graphql::{sdl, Engine, TrainersSchema};
pub use http::server::{Bound, HttpLimits, Running, Server};
