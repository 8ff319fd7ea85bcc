//! Who is calling: the credentials a request presents, decided once at the edge (HTTP, and each
//! WebSocket protocol's handshake and messages): an API key ([`keys`]) or a signed-in user's
//! token ([`tokens`]; [`local`]: the data directory's own issuer, for development); where they
//! are presented is named here once.

pub mod keys;
pub mod local;
pub mod tokens;

pub use keys::{KeyRing, KeySource};

/// The header (HTTP), or key of a header object (AppSync's real-time handshake and `start`,
/// `graphql-transport-ws`'s `connection_init`), that carries an API key. Matched in any case.
pub const API_KEY_HEADER: &str = "x-api-key";
