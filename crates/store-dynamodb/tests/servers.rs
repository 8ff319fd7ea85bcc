//! What only the DynamoDB store does, on dynalite and on moto_server: items of the original
//! tutorial, the table's making and checking. The shared suites are in `trainers-conformance`.
//!
//! Ignored by a plain `cargo test`: `make test` (or `scripts/dynamodb-servers.sh cargo test --
//! --include-ignored`) starts both servers, sets `TRAINERS_TEST_DYNALITE` and
//! `TRAINERS_TEST_MOTO`, and runs them; without those variables they fail and say so.

use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use trainers_core::{
    Age, KeySource, Specialty, StoreError, Timestamp, TokenKey, TrainerId, TrainerPatch,
    TrainerStore,
};
use trainers_store_dynamodb::{
    create_keys_table, create_table, exists_already, keys_table_name, local_client, Client,
    DynamoKeys, DynamoStore, LEGACY_TIMESTAMP, LEGACY_VERSION,
};

fn client(var: &str) -> Client {
    let endpoint = match std::env::var(var) {
        Ok(endpoint) if !endpoint.is_empty() => endpoint,
        _ => panic!(
            "{var} is not set: this test needs dynalite and moto_server; run \
             `scripts/dynamodb-servers.sh cargo test -- --include-ignored` (after \
             `bash scripts/setup-tools.sh`), or `make test`"
        ),
    };
    local_client(&endpoint)
}

fn table_name() -> String {
    format!("trainers-test-{}", TrainerId::generate())
}

async fn fresh_store(var: &str) -> Arc<DynamoStore> {
    let client = client(var);
    let table = table_name();
    create_table(&client, &table).await.expect("create_table");
    Arc::new(DynamoStore::new(client, table, None))
}

/// Writes an item as the original tutorial's resolver did: no timestamps, no version.
async fn put_tutorial_item(store: &DynamoStore, specialty: Option<&str>) -> TrainerId {
    let id = TrainerId::generate();
    let s = |v: &str| AttributeValue::S(v.to_string());
    let mut put = store
        .client()
        .put_item()
        .table_name(store.table())
        .item("id", s(id.as_str()))
        .item("firstName", s("Tut"))
        .item("lastName", s("Orial"))
        .item("age", AttributeValue::N("33".into()));
    if let Some(sp) = specialty {
        put = put.item("specialty", s(sp));
    }
    put.send().await.expect("put a tutorial item");
    id
}

async fn raw_attributes(store: &DynamoStore, id: &TrainerId) -> Vec<String> {
    let out = store
        .client()
        .get_item()
        .table_name(store.table())
        .key("id", AttributeValue::S(id.to_string()))
        .consistent_read(true)
        .send()
        .await
        .expect("get_item");
    let mut names: Vec<String> = out.item.unwrap_or_default().into_keys().collect();
    names.sort();
    names
}

fn patch_age(age: i32) -> TrainerPatch {
    TrainerPatch {
        age: Some(Age::parse(age).expect("a valid age")),
        ..Default::default()
    }
}

async fn tutorial_items_read_with_the_documented_defaults(var: &str) {
    let store = fresh_store(var).await;
    let id = put_tutorial_item(&store, Some("BODYBUILDING")).await;
    let t = store.get(&id).await.expect("get").expect("the item");
    assert_eq!(
        (
            t.created_at.to_rfc3339(),
            t.updated_at.to_rfc3339(),
            t.version
        ),
        (
            LEGACY_TIMESTAMP.to_string(),
            LEGACY_TIMESTAMP.to_string(),
            LEGACY_VERSION
        )
    );
    assert_eq!(
        (t.first_name.as_str(), t.age, t.specialty),
        ("Tut", 33, Some(Specialty::Bodybuilding))
    );
    let listed = store.list(None, None, 10).await.expect("list");
    assert_eq!(listed.items, vec![t.clone()]);
    let by_index = store
        .list(Some(Specialty::Bodybuilding), None, 10)
        .await
        .expect("list by specialty");
    assert_eq!(by_index.items, vec![t]);
}

async fn the_first_update_of_a_tutorial_item_adds_the_missing_fields(var: &str) {
    let store = fresh_store(var).await;
    let now = Timestamp::now();
    for expected in [None, Some(1)] {
        let id = put_tutorial_item(&store, None).await;
        let updated = store
            .update(&id, &patch_age(40), expected, now)
            .await
            .expect("the first update");
        assert_eq!((updated.version, updated.age), (2, 40), "{expected:?}");
        assert_eq!(updated.created_at.to_rfc3339(), LEGACY_TIMESTAMP);
        assert_eq!(updated.updated_at, now);
        assert_eq!(
            raw_attributes(&store, &id).await,
            [
                "age",
                "createdAt",
                "firstName",
                "id",
                "lastName",
                "updatedAt",
                "version"
            ]
        );
        assert_eq!(store.get(&id).await.expect("get"), Some(updated));
        let again = store
            .update(&id, &patch_age(41), Some(2), now)
            .await
            .expect("the second update, at version 2");
        assert_eq!(again.version, 3);
    }
}

async fn a_tutorial_item_is_at_version_1_for_conflicts_and_deletes(var: &str) {
    let store = fresh_store(var).await;
    let id = put_tutorial_item(&store, Some("YOUTHFITNESS")).await;
    let before = store.get(&id).await.expect("get");
    assert!(matches!(
        store
            .update(&id, &patch_age(50), Some(2), Timestamp::now())
            .await,
        Err(StoreError::VersionConflict { actual: 1 })
    ));
    assert!(matches!(
        store.delete(&id, Some(2)).await,
        Err(StoreError::VersionConflict { actual: 1 })
    ));
    assert_eq!(store.get(&id).await.expect("get"), before, "unchanged");
    let deleted = store.delete(&id, Some(1)).await.expect("delete at 1");
    assert_eq!(Some(deleted), before);
    assert!(matches!(
        store.delete(&id, Some(1)).await,
        Err(StoreError::NotFound)
    ));
}

async fn concurrent_first_updates_of_a_tutorial_item_have_one_winner(var: &str) {
    let store = fresh_store(var).await;
    let id = put_tutorial_item(&store, None).await;
    let attempts = (0..16).map(|i| {
        let store = store.clone();
        let id = id.clone();
        tokio::spawn(async move {
            store
                .update(&id, &patch_age(20 + i), Some(1), Timestamp::now())
                .await
        })
    });
    let mut wins = 0;
    let mut conflicts = 0;
    for attempt in attempts {
        match attempt.await.expect("task") {
            Ok(_) => wins += 1,
            Err(StoreError::VersionConflict { actual: 2 }) => conflicts += 1,
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!((wins, conflicts), (1, 15));
}

async fn the_table_is_checked_before_serving(var: &str) {
    let client = client(var);
    let missing = table_name();
    let err = DynamoStore::open(client.clone(), missing.clone(), None)
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("trainers table create") && err.contains(&missing),
        "{err}"
    );
    let table = table_name();
    create_table(&client, &table).await.expect("create_table");
    let err = create_table(&client, &table)
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("exists already"), "{err}");
    DynamoStore::open(client, table, Some("secret"))
        .await
        .expect("open an ACTIVE table");
}

/// A token made with `key`, to tell keys apart (a `TokenKey` does not show its bytes).
fn signed(key: &TokenKey) -> String {
    trainers_core::page_token::encode(key, None, b"position")
}

/// Servers on one keys table, each with its own client, starting at once, agree on one
/// page-token secret; the secret is no API key, and a second call reads the same one.
async fn the_page_token_secret_is_made_once_and_shared(var: &str) {
    let table = keys_table_name(&table_name());
    create_keys_table(&client(var), &table)
        .await
        .expect("create_keys_table");
    let servers: Vec<DynamoKeys> = (0..4)
        .map(|_| DynamoKeys::new(client(var), table.clone()))
        .collect();
    let keys = futures::future::join_all(servers.iter().map(|k| k.page_token_key())).await;
    let signed_by: Vec<String> = keys
        .iter()
        .map(|k| signed(k.as_ref().expect("page_token_key")))
        .collect();
    assert!(
        signed_by.iter().all(|t| *t == signed_by[0]),
        "one secret: {signed_by:?}"
    );
    let again = servers[3].page_token_key().await.expect("page_token_key");
    assert_eq!(signed(&again), signed_by[0]);
    let other = keys_table_name(&table_name());
    create_keys_table(&client(var), &other)
        .await
        .expect("create_keys_table");
    let elsewhere = DynamoKeys::new(client(var), other)
        .page_token_key()
        .await
        .expect("page_token_key");
    assert_ne!(
        signed(&elsewhere),
        signed_by[0],
        "a random secret per table"
    );
    let from_name = DynamoStore::new(client(var), "t", None).token_key();
    assert_ne!(signed(&from_name), signed_by[0]);

    let keys = &servers[0];
    assert!(
        keys.is_empty().await.expect("is_empty"),
        "the secret is no key"
    );
    assert_eq!(keys.list().await.expect("list"), vec![]);
    assert_eq!(keys.active().await.expect("active"), vec![]);
    let first = keys
        .create_first(
            Timestamp::from_millis(Timestamp::now().millis() + 60_000),
            None,
        )
        .await
        .expect("create_first");
    assert!(first.is_some());
    let listed = keys.list().await.expect("list");
    assert_eq!(listed.len(), 1, "the marker is no key either: {listed:?}");
}

async fn the_keys_table_is_checked_and_made_once(var: &str) {
    let client = client(var);
    let table = keys_table_name(&table_name());
    let err = DynamoKeys::open(client.clone(), table.clone())
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("trainers table create") && err.contains(&table),
        "{err}"
    );
    create_keys_table(&client, &table)
        .await
        .expect("create_keys_table");
    let again = create_keys_table(&client, &table).await;
    assert!(
        again.as_ref().is_err_and(exists_already),
        "{:?}",
        again.err()
    );
    DynamoKeys::open(client, table)
        .await
        .expect("open an ACTIVE keys table");
}

macro_rules! on_server {
    ($server:ident, $var:literal; $($case:ident),* $(,)?) => {
        mod $server {
            $(
                #[ignore = "needs dynalite and moto_server: scripts/dynamodb-servers.sh cargo test -- --include-ignored (make test runs them)"]
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case($var).await;
                }
            )*
        }
    };
}

macro_rules! cases {
    ($server:ident, $var:literal) => {
        on_server!($server, $var;
            tutorial_items_read_with_the_documented_defaults,
            the_first_update_of_a_tutorial_item_adds_the_missing_fields,
            a_tutorial_item_is_at_version_1_for_conflicts_and_deletes,
            concurrent_first_updates_of_a_tutorial_item_have_one_winner,
            the_table_is_checked_before_serving,
            the_page_token_secret_is_made_once_and_shared,
            the_keys_table_is_checked_and_made_once,
        );
    };
}

cases!(dynalite, "TRAINERS_TEST_DYNALITE");
cases!(moto, "TRAINERS_TEST_MOTO");
