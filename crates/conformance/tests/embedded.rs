//! The shared suites against the local server on the embedded store.

use std::sync::Arc;

use trainers_conformance::server::embedded_store;
use trainers_conformance::{
    graphql_suite, http_suite, key_source_suite, spawn_embedded, store_suite,
};
use trainers_core::{KeySource, TrainerStore};
use trainers_store_embedded::KeyStore;

async fn store() -> (Arc<dyn TrainerStore>, tempfile::TempDir) {
    let (store, dir) = embedded_store();
    (store, dir)
}

/// A fresh SQLite key store in its own temporary directory.
async fn key_source() -> (Arc<dyn KeySource>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let keys = KeyStore::open(dir.path()).expect("a key store");
    (Arc::new(keys), dir)
}

mod store {
    super::store_suite!(super::store);
}

mod keys {
    super::key_source_suite!(super::key_source);
}

mod graphql {
    super::graphql_suite!(super::spawn_embedded);
}

mod http {
    super::http_suite!(super::spawn_embedded);
}
