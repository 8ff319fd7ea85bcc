//! The HTTP edge: [`server`] accepts connections (TLS and plain on one port, with [`tls`]),
//! bounds them and stops them all at a shutdown; [`router`] routes a request to GraphQL, to a
//! WebSocket protocol of `realtime`, to [`health`] (`/healthz`, `/readyz`, `/metrics`) or to the
//! [`explorer`] page, and answers everything else with AppSync's error shape.

pub mod explorer;
pub mod health;
pub mod router;
pub mod server;
pub mod tls;
