//! The shared suites against the local server on the embedded store.

use std::sync::Arc;

use trainers_conformance::server::embedded_store;
use trainers_conformance::{graphql_suite, http_suite, spawn_embedded, store_suite};
use trainers_core::TrainerStore;

async fn store() -> (Arc<dyn TrainerStore>, tempfile::TempDir) {
    let (store, dir) = embedded_store();
    (store, dir)
}

mod store {
    super::store_suite!(super::store);
}

mod graphql {
    super::graphql_suite!(super::spawn_embedded);
}

mod http {
    super::http_suite!(super::spawn_embedded);
}
