//! What every `TrainerStore` must do, checked on the store itself.

use std::collections::HashSet;
use std::sync::Arc;

use futures::future::join_all;
use trainers_core::{
    Age, Specialty, StoreError, Timestamp, Trainer, TrainerId, TrainerName, TrainerPatch,
    TrainerStore,
};

/// Expands to one `#[tokio::test]` per case; `$make` is an async fn returning a fresh, empty
/// store and what must live as long as it (its directory, say). Attributes before `$make` (say
/// `#[ignore = "..."]`) go on every generated test.
#[macro_export]
macro_rules! store_suite {
    ($(#[$attr:meta])* $make:path) => {
        $crate::store_suite_cases!([$(#[$attr])*] $make;
            insert_then_get,
            insert_never_overwrites,
            insert_many_stores_all_and_skips_existing_ids,
            get_of_missing_is_none,
            update_applies_the_patch_and_bumps_the_version,
            update_checks_existence_then_version,
            delete_returns_the_old_trainer_and_checks_version,
            list_walks_everything_once_in_a_stable_order,
            list_filters_by_specialty,
            list_next_is_none_exactly_at_the_end,
            list_refuses_a_position_it_did_not_make,
            concurrent_updates_at_one_version_have_one_winner,
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! store_suite_cases {
    ([$(#[$attr:meta])*] $make:path;) => {};
    ([$(#[$attr:meta])*] $make:path; $case:ident $(, $rest:ident)* $(,)?) => {
        $(#[$attr])*
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $case() {
            $crate::init_test_logs();
            let (store, _guard) = $make().await;
            $crate::store_suite::$case(store).await;
        }
        $crate::store_suite_cases!([$(#[$attr])*] $make; $($rest),*);
    };
}

pub fn trainer(n: usize, specialty: Option<Specialty>) -> Trainer {
    let now = Timestamp::from_millis(Timestamp::now().millis() + n as i64);
    Trainer {
        id: TrainerId::generate(),
        first_name: format!("First{n}"),
        last_name: format!("Last{n}"),
        age: 16 + (n % 80) as i32,
        specialty,
        created_at: now,
        updated_at: now,
        version: 1,
    }
}

/// A valid age, for patches.
fn age(years: i32) -> Age {
    Age::parse(years).expect("a valid age")
}

async fn insert_all(store: &dyn TrainerStore, trainers: &[Trainer]) {
    for t in trainers {
        store.insert(t).await.expect("insert");
    }
}

async fn walk(
    store: &dyn TrainerStore,
    specialty: Option<Specialty>,
    limit: usize,
) -> Vec<Trainer> {
    let mut all = Vec::new();
    let mut after: Option<Vec<u8>> = None;
    loop {
        let page = store
            .list(specialty, after.as_deref(), limit)
            .await
            .expect("list");
        assert!(page.items.len() <= limit);
        assert!(
            !page.items.is_empty() || page.next.is_none(),
            "no empty page before the end"
        );
        all.extend(page.items);
        match page.next {
            Some(next) => after = Some(next),
            None => return all,
        }
    }
}

pub async fn insert_then_get(store: Arc<dyn TrainerStore>) {
    let t = trainer(1, Some(Specialty::CorrectiveExercise));
    store.insert(&t).await.expect("insert");
    assert_eq!(store.get(&t.id).await.expect("get"), Some(t));
}

pub async fn insert_never_overwrites(store: Arc<dyn TrainerStore>) {
    let t = trainer(1, None);
    store.insert(&t).await.expect("insert");
    let mut other = trainer(2, None);
    other.id = t.id.clone();
    assert!(matches!(
        store.insert(&other).await,
        Err(StoreError::AlreadyExists)
    ));
    assert_eq!(store.get(&t.id).await.expect("get"), Some(t));
}

pub async fn insert_many_stores_all_and_skips_existing_ids(store: Arc<dyn TrainerStore>) {
    let first: Vec<Trainer> = (0..30)
        .map(|n| trainer(n, Specialty::ALL.get(n % 5).copied()))
        .collect();
    assert_eq!(store.insert_many(&first).await.expect("insert_many"), 30);
    let mut again = first[..10].to_vec();
    again[0].first_name = "Changed".into();
    again.push(trainer(99, None));
    assert_eq!(
        store.insert_many(&again).await.expect("insert_many"),
        1,
        "only the new one"
    );
    assert_eq!(
        store.get(&first[0].id).await.expect("get"),
        Some(first[0].clone()),
        "never overwrites"
    );
    assert_eq!(walk(store.as_ref(), None, 100).await.len(), 31);
}

pub async fn get_of_missing_is_none(store: Arc<dyn TrainerStore>) {
    assert_eq!(store.get(&TrainerId::generate()).await.expect("get"), None);
}

pub async fn update_applies_the_patch_and_bumps_the_version(store: Arc<dyn TrainerStore>) {
    let t = trainer(1, Some(Specialty::Bodybuilding));
    store.insert(&t).await.expect("insert");
    let later = Timestamp::from_millis(t.updated_at.millis() + 5000);
    let patch = TrainerPatch {
        age: Some(age(55)),
        specialty: Some(None),
        ..Default::default()
    };
    let updated = store
        .update(&t.id, &patch, None, later)
        .await
        .expect("update");
    assert_eq!(updated, patch.apply(&t, later));
    assert_eq!(
        (updated.version, updated.age, updated.specialty),
        (2, 55, None)
    );
    assert_eq!(updated.updated_at, later);
    assert_eq!(store.get(&t.id).await.expect("get"), Some(updated));
}

pub async fn update_checks_existence_then_version(store: Arc<dyn TrainerStore>) {
    let patch = TrainerPatch {
        first_name: Some(TrainerName::parse("firstName", "X").expect("a valid name")),
        ..Default::default()
    };
    let now = Timestamp::now();
    let missing = TrainerId::generate();
    assert!(matches!(
        store.update(&missing, &patch, None, now).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.update(&missing, &patch, Some(1), now).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        store.get(&missing).await.expect("get"),
        None,
        "update never creates"
    );
    let t = trainer(1, None);
    store.insert(&t).await.expect("insert");
    assert!(matches!(
        store.update(&t.id, &patch, Some(2), now).await,
        Err(StoreError::VersionConflict { actual: 1 })
    ));
    assert_eq!(
        store.get(&t.id).await.expect("get"),
        Some(t.clone()),
        "unchanged"
    );
    let ok = store
        .update(&t.id, &patch, Some(1), now)
        .await
        .expect("update at v1");
    assert_eq!(ok.version, 2);
}

pub async fn delete_returns_the_old_trainer_and_checks_version(store: Arc<dyn TrainerStore>) {
    let t = trainer(1, None);
    store.insert(&t).await.expect("insert");
    assert!(matches!(
        store.delete(&t.id, Some(7)).await,
        Err(StoreError::VersionConflict { actual: 1 })
    ));
    assert_eq!(store.delete(&t.id, Some(1)).await.expect("delete"), t);
    assert_eq!(store.get(&t.id).await.expect("get"), None);
    assert!(matches!(
        store.delete(&t.id, None).await,
        Err(StoreError::NotFound)
    ));
}

pub async fn list_walks_everything_once_in_a_stable_order(store: Arc<dyn TrainerStore>) {
    let trainers: Vec<Trainer> = (0..37)
        .map(|n| trainer(n, Specialty::ALL.get(n % 5).copied()))
        .collect();
    insert_all(store.as_ref(), &trainers).await;
    let reference: Vec<TrainerId> = walk(store.as_ref(), None, 100)
        .await
        .into_iter()
        .map(|t| t.id)
        .collect();
    let want: HashSet<&TrainerId> = trainers.iter().map(|t| &t.id).collect();
    assert_eq!(reference.len(), 37);
    assert_eq!(reference.iter().collect::<HashSet<_>>(), want);
    for limit in [1, 4, 10, 36, 37, 38] {
        let ids: Vec<TrainerId> = walk(store.as_ref(), None, limit)
            .await
            .into_iter()
            .map(|t| t.id)
            .collect();
        assert_eq!(ids, reference, "limit {limit}");
    }
}

pub async fn list_filters_by_specialty(store: Arc<dyn TrainerStore>) {
    let trainers: Vec<Trainer> = (0..40)
        .map(|n| trainer(n, Specialty::ALL.get(n % 5).copied()))
        .collect();
    insert_all(store.as_ref(), &trainers).await;
    for s in Specialty::ALL {
        let got = walk(store.as_ref(), Some(s), 3).await;
        let want: HashSet<&TrainerId> = trainers
            .iter()
            .filter(|t| t.specialty == Some(s))
            .map(|t| &t.id)
            .collect();
        assert_eq!(got.len(), want.len(), "{s}");
        assert_eq!(
            got.iter().map(|t| &t.id).collect::<HashSet<_>>(),
            want,
            "{s}"
        );
    }
}

pub async fn list_next_is_none_exactly_at_the_end(store: Arc<dyn TrainerStore>) {
    let trainers: Vec<Trainer> = (0..6)
        .map(|n| trainer(n, Some(Specialty::SeniorFitness)))
        .collect();
    insert_all(store.as_ref(), &trainers).await;
    let first = store.list(None, None, 3).await.expect("list");
    assert_eq!(first.items.len(), 3);
    let next = first.next.expect("a next position");
    let second = store.list(None, Some(&next), 3).await.expect("list");
    assert_eq!((second.items.len(), second.next), (3, None));
    let filtered = store
        .list(Some(Specialty::SeniorFitness), None, 6)
        .await
        .expect("list");
    assert_eq!((filtered.items.len(), filtered.next), (6, None));
    let empty = store
        .list(Some(Specialty::Bodybuilding), None, 6)
        .await
        .expect("list");
    assert_eq!((empty.items.len(), empty.next), (0, None));
}

pub async fn list_refuses_a_position_it_did_not_make(store: Arc<dyn TrainerStore>) {
    store.insert(&trainer(1, None)).await.expect("insert");
    for bad in [&b"x"[..], &[0u8; 3][..], &[0xff; 40][..]] {
        assert!(
            matches!(
                store.list(None, Some(bad), 5).await,
                Err(StoreError::InvalidPosition)
            ),
            "{bad:?}"
        );
    }
}

pub async fn concurrent_updates_at_one_version_have_one_winner(store: Arc<dyn TrainerStore>) {
    let t = trainer(1, None);
    store.insert(&t).await.expect("insert");
    let attempts = (0..16).map(|i| {
        let store = store.clone();
        let id = t.id.clone();
        tokio::spawn(async move {
            let patch = TrainerPatch {
                age: Some(age(20 + i)),
                ..Default::default()
            };
            store.update(&id, &patch, Some(1), Timestamp::now()).await
        })
    });
    let results: Vec<_> = join_all(attempts)
        .await
        .into_iter()
        .map(|r| r.expect("task"))
        .collect();
    let wins = results.iter().filter(|r| r.is_ok()).count();
    let conflicts = results
        .iter()
        .filter(|r| matches!(r, Err(StoreError::VersionConflict { actual: 2 })))
        .count();
    assert_eq!((wins, conflicts), (1, 15));
    assert_eq!(
        store.get(&t.id).await.expect("get").map(|t| t.version),
        Some(2)
    );
}
