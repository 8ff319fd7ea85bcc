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

/// `owner` (accounts): readable like the other fields; none for trainers the API key made.
mod accounts {
    use serde_json::json;
    use trainers_conformance::server::TEST_API_KEY;
    use trainers_conformance::spawn_embedded;
    use trainers_core::{Caller, CreateRequest, User};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn owner_is_read_like_the_other_fields() {
        let s = spawn_embedded().await;
        let jane = Caller::User(User {
            sub: "sub-1".into(),
            username: "jane".into(),
            groups: vec![],
        });
        let req = CreateRequest {
            first_name: "Ana".into(),
            last_name: "Lee".into(),
            age: 30,
            specialty: None,
        };
        let owned = s.service.create(&jane, req).await.expect("create");
        let query = json!({
            "query": "query($id: ID!) { getTrainer(id: $id) { id owner } }",
            "variables": {"id": owned.id.as_str()},
        });
        let (status, body) = s.post_json(Some(TEST_API_KEY), &query).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["data"]["getTrainer"]["owner"], "sub-1::jane", "{body}");

        let create = json!({"query": "mutation { createTrainer(firstName: \"Bo\", lastName: \"Ray\", age: 40) { id owner } }"});
        let (_, made) = s.post_json(Some(TEST_API_KEY), &create).await;
        assert_eq!(
            made["data"]["createTrainer"]["owner"],
            serde_json::Value::Null,
            "{made}"
        );
        assert!(made.get("errors").is_none(), "{made}");

        let list = json!({"query": "{ allTrainers { items { owner } } }"});
        let (_, listed) = s.post_json(Some(TEST_API_KEY), &list).await;
        let mut owners: Vec<String> = listed["data"]["allTrainers"]["items"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| t["owner"].to_string())
            .collect();
        owners.sort();
        assert_eq!(owners, ["\"sub-1::jane\"", "null"], "{listed}");
    }
}
