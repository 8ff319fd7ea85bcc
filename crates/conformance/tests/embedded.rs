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

/// The GraphQL suite again with accounts on, every request signed in (owner rules hold, and
/// every case's user owns what it creates).
mod graphql_signed_in {
    super::graphql_suite!(trainers_conformance::spawn_embedded_signed_in);
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

    use std::time::Duration;

    use async_graphql::{Request, Variables};
    use futures::StreamExt;
    use serde_json::Value;
    use trainers_api::events::Events;
    use trainers_api::graphql::error::response_json;
    use trainers_api::graphql::Engine;
    use trainers_conformance::server::embedded_store;
    use trainers_core::{AccessPolicy, TrainerService};

    fn user(sub: &str, name: &str) -> Caller {
        Caller::User(User {
            sub: sub.into(),
            username: name.into(),
            groups: vec![],
        })
    }

    /// Runs one operation as `caller` (none: as the API key is run today).
    async fn run(engine: &Engine, query: &str, vars: Value, caller: Option<Caller>) -> Value {
        let mut request = Request::new(query).variables(Variables::from_json(vars));
        if let Some(caller) = caller {
            request = request.data(caller);
        }
        match engine.prepare(request) {
            Ok(ready) => response_json(&engine.execute(ready).await),
            Err(refused) => response_json(&refused),
        }
    }

    /// The events one subscription hears, collected as they come.
    fn listen(engine: &Engine, query: &str) -> tokio::sync::mpsc::UnboundedReceiver<Value> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let ready = engine.prepare(Request::new(query)).expect("a subscription");
        let mut stream = engine.execute_stream(ready);
        tokio::spawn(async move {
            while let Some(response) = stream.next().await {
                if tx.send(response_json(&response)).is_err() {
                    break;
                }
            }
        });
        rx
    }

    fn not_authorized(response: &Value, field: &str) {
        assert_eq!(response["data"][field], Value::Null, "{response}");
        let error = &response["errors"][0];
        assert_eq!(error["errorType"], "Unauthorized", "{response}");
        assert_eq!(
            error["message"],
            format!("Not Authorized to access {field} on type Mutation"),
            "{response}"
        );
        assert_eq!(error["path"], json!([field]), "{response}");
    }

    /// With accounts, a refused mutation is AppSync's field error, changes nothing and fires no
    /// subscription; the owner's own mutations go through and are heard.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn refused_mutations_read_as_appsyncs_and_fire_no_subscription() {
        let (store, _dir) = embedded_store();
        let service = TrainerService::new(store).with_access(AccessPolicy::Owners {
            admin_group: Some("Admins".into()),
        });
        let engine = Engine::new(service.clone(), Events::local(), false);
        let mut created = listen(&engine, "subscription { onCreateTrainer { id firstName } }");
        let mut updated = listen(&engine, "subscription { onUpdateTrainer { id firstName } }");
        let mut deleted = listen(&engine, "subscription { onDeleteTrainer { id firstName } }");
        tokio::time::sleep(Duration::from_millis(300)).await;

        let create = "mutation { createTrainer(firstName: \"Ana\", lastName: \"Lee\", age: 30) { id firstName owner } }";
        not_authorized(
            &run(&engine, create, json!({}), None).await,
            "createTrainer",
        );
        let made = run(&engine, create, json!({}), Some(user("s1", "jane"))).await;
        let id = made["data"]["createTrainer"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert_eq!(made["data"]["createTrainer"]["owner"], "s1::jane", "{made}");

        let update = "mutation($id: ID!, $f: String) { updateTrainers(id: $id, firstName: $f) { id firstName } }";
        let delete = "mutation($id: ID!) { deleteTrainer(id: $id) { id firstName } }";
        for caller in [None, Some(user("s2", "joe")), Some(user("s9", "jane"))] {
            not_authorized(
                &run(
                    &engine,
                    update,
                    json!({"id": id, "f": "Eve"}),
                    caller.clone(),
                )
                .await,
                "updateTrainers",
            );
            not_authorized(
                &run(&engine, delete, json!({"id": id}), caller).await,
                "deleteTrainer",
            );
        }
        let stored = service.get(&id).await.expect("get").expect("still there");
        assert_eq!((stored.first_name.as_str(), stored.version), ("Ana", 1));

        let jane = Some(user("s1", "jane"));
        let renamed = run(&engine, update, json!({"id": id, "f": "Bo"}), jane.clone()).await;
        assert_eq!(
            renamed["data"]["updateTrainers"]["firstName"], "Bo",
            "{renamed}"
        );
        let gone = run(&engine, delete, json!({"id": id}), jane).await;
        assert_eq!(gone["data"]["deleteTrainer"]["id"], id.as_str(), "{gone}");

        // Each subscription heard exactly the mutation that went through.
        let heard = |rx: &mut tokio::sync::mpsc::UnboundedReceiver<Value>| {
            let mut events = Vec::new();
            while let Ok(event) = rx.try_recv() {
                events.push(event);
            }
            events
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        let created = heard(&mut created);
        assert_eq!(created.len(), 1, "{created:?}");
        assert_eq!(created[0]["data"]["onCreateTrainer"]["firstName"], "Ana");
        let updated = heard(&mut updated);
        assert_eq!(updated.len(), 1, "{updated:?}");
        assert_eq!(updated[0]["data"]["onUpdateTrainer"]["firstName"], "Bo");
        let deleted = heard(&mut deleted);
        assert_eq!(deleted.len(), 1, "{deleted:?}");
        assert_eq!(deleted[0]["data"]["onDeleteTrainer"]["id"], id.as_str());
    }
}
