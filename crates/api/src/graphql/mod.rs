//! The GraphQL layer: what a request asks, checked and answered. An entrypoint (HTTP or a
//! WebSocket protocol) reads the request's JSON ([`request`]), hands it to the one parse step
//! ([`parse`]: length, parse, [`limits`], operation choice, cache, in that order), and runs it on
//! the schema ([`schema`], its root types in [`query`], [`mutation`] and [`subscription`], their
//! arguments in [`inputs`] and outputs in [`types`]), which calls the service of
//! `trainers-core`. [`nulls`] nulls a failed field as the spec says; [`error`] writes every error
//! as AppSync does. Plain reads already seen take the fast path of [`plan`], which answers
//! them byte for byte as the schema would, without its per-request validation and futures.

pub mod error;
pub mod inputs;
pub mod limits;
pub mod mutation;
pub mod nulls;
pub mod parse;
pub mod plan;
pub mod query;
pub mod request;
pub mod schema;
pub mod subscription;
pub mod types;

pub use schema::{sdl, Engine, Ready, TrainersSchema};
