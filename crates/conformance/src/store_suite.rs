//! What every `TrainerStore` must do, checked on the store itself.

use std::collections::HashSet;
use std::sync::Arc;

use futures::future::join_all;
use serde_json::json;
use trainers_core::{
    Age, Filter, FilterKind, KeyCondition, ListQuery, Owner, Precondition, SortDirection,
    Specialty, SpecialtyQuery, StoreError, Timestamp, Trainer, TrainerId, TrainerName,
    TrainerPatch, TrainerStore,
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
            a_condition_that_fails_changes_nothing,
            filtered_pages_count_matches_and_are_never_empty_before_the_end,
            counts_are_of_the_trainers_that_match,
            by_specialty_is_in_last_name_order_both_ways_and_narrows_by_key,
            every_answer_is_what_the_filter_says_of_random_trainers,
            an_owner_is_stored_read_and_kept_by_updates,
            a_write_for_another_owner_changes_nothing,
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
        owner: None,
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

/// No precondition; at a version.
fn any() -> Precondition {
    Precondition::default()
}

fn at(version: i64) -> Precondition {
    Precondition {
        version: Some(version),
        condition: None,
        owner: None,
    }
}

fn of(specialty: Option<Specialty>) -> ListQuery<'static> {
    ListQuery {
        specialty,
        filter: None,
    }
}

/// A filter of the list kind, from its JSON.
pub fn filter(value: serde_json::Value) -> Filter {
    Filter::parse(FilterKind::List, &value)
        .expect("a valid filter")
        .expect("not an empty filter")
}

async fn walk(
    store: &dyn TrainerStore,
    specialty: Option<Specialty>,
    limit: usize,
) -> Vec<Trainer> {
    walk_query(store, &of(specialty), limit).await
}

/// The pages a walk follows: a list's, or `trainersBySpecialty`'s.
#[derive(Clone, Copy)]
enum Pages<'a> {
    List(&'a ListQuery<'a>),
    BySpecialty(&'a SpecialtyQuery<'a>),
}

/// Every page of a list, checking that no page is empty before the end.
async fn walk_query(store: &dyn TrainerStore, query: &ListQuery<'_>, limit: usize) -> Vec<Trainer> {
    walk_pages(store, Pages::List(query), limit).await
}

/// Every page of `trainersBySpecialty`, checking that no page is empty before the end.
async fn walk_by_specialty(
    store: &dyn TrainerStore,
    query: &SpecialtyQuery<'_>,
    limit: usize,
) -> Vec<Trainer> {
    walk_pages(store, Pages::BySpecialty(query), limit).await
}

async fn walk_pages(store: &dyn TrainerStore, pages: Pages<'_>, limit: usize) -> Vec<Trainer> {
    let mut all = Vec::new();
    let mut after: Option<Vec<u8>> = None;
    loop {
        let page = match pages {
            Pages::List(query) => store.list(query, after.as_deref(), limit).await,
            Pages::BySpecialty(query) => {
                store
                    .list_by_specialty(query, after.as_deref(), limit)
                    .await
            }
        }
        .expect("a page");
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
        .update(&t.id, &patch, &any(), later)
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
        store.update(&missing, &patch, &any(), now).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.update(&missing, &patch, &at(1), now).await,
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
        store.update(&t.id, &patch, &at(2), now).await,
        Err(StoreError::VersionConflict { actual: 1 })
    ));
    assert_eq!(
        store.get(&t.id).await.expect("get"),
        Some(t.clone()),
        "unchanged"
    );
    let ok = store
        .update(&t.id, &patch, &at(1), now)
        .await
        .expect("update at v1");
    assert_eq!(ok.version, 2);
}

pub async fn delete_returns_the_old_trainer_and_checks_version(store: Arc<dyn TrainerStore>) {
    let t = trainer(1, None);
    store.insert(&t).await.expect("insert");
    assert!(matches!(
        store.delete(&t.id, &at(7)).await,
        Err(StoreError::VersionConflict { actual: 1 })
    ));
    assert_eq!(store.delete(&t.id, &at(1)).await.expect("delete"), t);
    assert_eq!(store.get(&t.id).await.expect("get"), None);
    assert!(matches!(
        store.delete(&t.id, &any()).await,
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
    let first = store.list(&of(None), None, 3).await.expect("list");
    assert_eq!(first.items.len(), 3);
    let next = first.next.expect("a next position");
    let second = store.list(&of(None), Some(&next), 3).await.expect("list");
    assert_eq!((second.items.len(), second.next), (3, None));
    let filtered = store
        .list(&of(Some(Specialty::SeniorFitness)), None, 6)
        .await
        .expect("list");
    assert_eq!((filtered.items.len(), filtered.next), (6, None));
    let empty = store
        .list(&of(Some(Specialty::Bodybuilding)), None, 6)
        .await
        .expect("list");
    assert_eq!((empty.items.len(), empty.next), (0, None));
}

pub async fn list_refuses_a_position_it_did_not_make(store: Arc<dyn TrainerStore>) {
    store.insert(&trainer(1, None)).await.expect("insert");
    for bad in [&b"x"[..], &[0u8; 3][..], &[0xff; 40][..]] {
        assert!(
            matches!(
                store.list(&of(None), Some(bad), 5).await,
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
            store.update(&id, &patch, &at(1), Timestamp::now()).await
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

pub async fn a_condition_that_fails_changes_nothing(store: Arc<dyn TrainerStore>) {
    let t = trainer(1, Some(Specialty::Bodybuilding));
    store.insert(&t).await.expect("insert");
    let patch = TrainerPatch {
        age: Some(age(70)),
        ..Default::default()
    };
    let when = |value: serde_json::Value, version: Option<i64>| Precondition {
        version,
        condition: Filter::parse(FilterKind::Condition, &value).expect("a valid condition"),
        owner: None,
    };
    let now = Timestamp::now();
    let older = when(json!({"age": {"gt": 90}}), None);
    assert!(matches!(
        store.update(&t.id, &patch, &older, now).await,
        Err(StoreError::ConditionFailed)
    ));
    assert!(matches!(
        store.delete(&t.id, &older).await,
        Err(StoreError::ConditionFailed)
    ));
    assert_eq!(
        store.get(&t.id).await.expect("get"),
        Some(t.clone()),
        "unchanged"
    );
    // An unknown id is NotFound, a stale version a conflict, whatever the condition.
    assert!(matches!(
        store
            .update(&TrainerId::generate(), &patch, &older, now)
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store
            .update(
                &t.id,
                &patch,
                &when(json!({"age": {"gt": 90}}), Some(5)),
                now
            )
            .await,
        Err(StoreError::VersionConflict { actual: 1 })
    ));
    // A condition that holds: the write happens.
    let holds = when(
        json!({"specialty": {"eq": "BODYBUILDING"}, "or": [{"age": {"lt": 18}}, {"firstName": {"beginsWith": "First"}}]}),
        Some(1),
    );
    let updated = store
        .update(&t.id, &patch, &holds, now)
        .await
        .expect("the condition holds");
    assert_eq!(updated.age, 70);
    let gone = when(json!({"age": {"eq": 70}}), None);
    assert_eq!(store.delete(&t.id, &gone).await.expect("delete"), updated);
    assert_eq!(store.get(&t.id).await.expect("get"), None);
}

pub async fn filtered_pages_count_matches_and_are_never_empty_before_the_end(
    store: Arc<dyn TrainerStore>,
) {
    // 60 trainers, of which those aged 40 to 44 match: 5 in each 80 ages, here 4 of them
    // spread over the whole list, so that pages must read past many that do not match.
    let trainers: Vec<Trainer> = (0..60)
        .map(|n| {
            let mut t = trainer(n, Specialty::ALL.get(n % 5).copied());
            t.age = if n % 15 == 7 {
                42
            } else {
                20 + (n % 20) as i32
            };
            t
        })
        .collect();
    insert_all(store.as_ref(), &trainers).await;
    let everything = walk(store.as_ref(), None, 100).await;
    let f = filter(json!({"age": {"between": [40, 44]}}));
    let want: Vec<&TrainerId> = everything
        .iter()
        .filter(|t| f.matches(t))
        .map(|t| &t.id)
        .collect();
    assert_eq!(want.len(), 4);
    for limit in [1, 2, 3, 4, 5] {
        let query = ListQuery {
            specialty: None,
            filter: Some(&f),
        };
        let page = store.list(&query, None, limit).await.expect("list");
        assert_eq!(
            page.items.len(),
            limit.min(4),
            "limit {limit} counts matches"
        );
        let got = walk_query(store.as_ref(), &query, limit).await;
        let got: Vec<&TrainerId> = got.iter().map(|t| &t.id).collect();
        assert_eq!(
            got, want,
            "limit {limit}: the matches, in the store's order"
        );
    }
    // With a specialty too.
    let f = filter(json!({"firstName": {"contains": "st1"}}));
    let query = ListQuery {
        specialty: Some(Specialty::YouthFitness),
        filter: Some(&f),
    };
    let got = walk_query(store.as_ref(), &query, 2).await;
    assert!(!got.is_empty());
    assert!(got
        .iter()
        .all(|t| t.specialty == Some(Specialty::YouthFitness) && t.first_name.contains("st1")));
    let want = trainers.iter().filter(|t| query.matches(t)).count();
    assert_eq!(got.len(), want);
}

pub async fn counts_are_of_the_trainers_that_match(store: Arc<dyn TrainerStore>) {
    assert_eq!(store.count(&of(None)).await.expect("count"), 0);
    let trainers: Vec<Trainer> = (0..23)
        .map(|n| trainer(n, Specialty::ALL.get(n % 5).copied()))
        .collect();
    insert_all(store.as_ref(), &trainers).await;
    assert_eq!(store.count(&of(None)).await.expect("count"), 23);
    for value in [
        json!({"specialty": {"attributeExists": false}}),
        json!({"age": {"ge": 30}}),
        json!({"not": {"lastName": {"beginsWith": "Last1"}}}),
        json!({"or": [{"specialty": {"eq": "SENIORFITNESS"}}, {"age": {"lt": 20}}]}),
    ] {
        let f = filter(value.clone());
        let want = trainers.iter().filter(|t| f.matches(t)).count() as u64;
        let query = ListQuery {
            specialty: None,
            filter: Some(&f),
        };
        assert_eq!(store.count(&query).await.expect("count"), want, "{value}");
    }
}

pub async fn by_specialty_is_in_last_name_order_both_ways_and_narrows_by_key(
    store: Arc<dyn TrainerStore>,
) {
    let names = [
        "Moreau", "adams", "Zola", "Émile", "Baker", "Mo", "Morel", "Yu",
    ];
    let trainers: Vec<Trainer> = (0..24)
        .map(|n| {
            let mut t = trainer(n, Specialty::ALL.get(n % 3).copied());
            t.last_name = names[n % names.len()].to_string();
            t
        })
        .collect();
    insert_all(store.as_ref(), &trainers).await;
    let sorted = |keep: &dyn Fn(&Trainer) -> bool, desc: bool| -> Vec<(String, TrainerId)> {
        let mut v: Vec<(String, TrainerId)> = trainers
            .iter()
            .filter(|t| keep(t))
            .map(|t| (t.last_name.clone(), t.id.clone()))
            .collect();
        v.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()).then(a.1.cmp(&b.1)));
        if desc {
            v.reverse();
        }
        v
    };
    let names_of =
        |ts: Vec<Trainer>| -> Vec<String> { ts.into_iter().map(|t| t.last_name).collect() };
    let f = filter(json!({"age": {"lt": 30}}));
    let keys = [
        None,
        Some(KeyCondition::BeginsWith("Mo".into())),
        Some(KeyCondition::Between("B".into(), "Z".into())),
        Some(KeyCondition::Gt("Mo".into())),
        Some(KeyCondition::Eq("Zola".into())),
    ];
    for specialty in [Specialty::Bodybuilding, Specialty::YouthFitness] {
        for key in &keys {
            for direction in [SortDirection::Asc, SortDirection::Desc] {
                for with_filter in [false, true] {
                    let query = SpecialtyQuery {
                        specialty,
                        last_name: key.as_ref(),
                        direction,
                        filter: with_filter.then_some(&f),
                    };
                    let want = sorted(&|t| query.matches(t), direction == SortDirection::Desc);
                    let got = walk_by_specialty(store.as_ref(), &query, 2).await;
                    let what = format!("{specialty:?} {key:?} {direction:?} filter {with_filter}");
                    // Last names in order; ties (same last name) in any order the index keeps.
                    assert_eq!(
                        names_of(got.clone()),
                        want.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>(),
                        "{what}"
                    );
                    let mut ids: Vec<&TrainerId> = got.iter().map(|t| &t.id).collect();
                    ids.sort();
                    let mut want_ids: Vec<&TrainerId> = want.iter().map(|(_, id)| id).collect();
                    want_ids.sort();
                    assert_eq!(ids, want_ids, "{what}: each once");
                }
            }
        }
    }
}

/// Random filters over random trainers: each store's pages, counts and index pages hold
/// exactly the trainers the core's model says match.
pub async fn every_answer_is_what_the_filter_says_of_random_trainers(store: Arc<dyn TrainerStore>) {
    use proptest::strategy::{Strategy, ValueTree};
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

    let seed = [7u8; 32];
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed),
    );
    let people = proptest::collection::vec(random_trainer(), 40);
    let trainers = people
        .new_tree(&mut runner)
        .expect("random trainers")
        .current();
    insert_all(store.as_ref(), &trainers).await;
    let order: Vec<TrainerId> = walk(store.as_ref(), None, 100)
        .await
        .into_iter()
        .map(|t| t.id)
        .collect();
    // Filters that keep some and drop some: those that tell a wrong store from a right one.
    let mut telling = 0;
    for case in 0..30 {
        let value = random_filter()
            .new_tree(&mut runner)
            .expect("a random filter")
            .current();
        let parsed = Filter::parse(FilterKind::List, &value).expect("generated filters are valid");
        let Some(f) = parsed else { continue };
        let query = ListQuery {
            specialty: None,
            filter: Some(&f),
        };
        let want: Vec<&TrainerId> = order
            .iter()
            .filter(|id| trainers.iter().any(|t| &t.id == *id && f.matches(t)))
            .collect();
        if !want.is_empty() && want.len() < order.len() {
            telling += 1;
        }
        let got = walk_query(store.as_ref(), &query, 7).await;
        let got: Vec<&TrainerId> = got.iter().map(|t| &t.id).collect();
        assert_eq!(got, want, "case {case}: {value}");
        assert_eq!(
            store.count(&query).await.expect("count"),
            want.len() as u64,
            "case {case}: count of {value}"
        );
        let specialty = Specialty::ALL[case % 4];
        let by = SpecialtyQuery {
            specialty,
            last_name: None,
            direction: SortDirection::Asc,
            filter: Some(&f),
        };
        let mut want: Vec<&TrainerId> = trainers
            .iter()
            .filter(|t| by.matches(t))
            .map(|t| &t.id)
            .collect();
        let got = walk_by_specialty(store.as_ref(), &by, 3).await;
        assert!(
            got.windows(2)
                .all(|w| w[0].last_name.as_bytes() <= w[1].last_name.as_bytes()),
            "case {case}: in lastName order"
        );
        let mut got: Vec<&TrainerId> = got.iter().map(|t| &t.id).collect();
        got.sort();
        want.sort();
        assert_eq!(got, want, "case {case}: {specialty:?} and {value}");
    }
    assert!(
        telling >= 10,
        "only {telling} of 30 random filters kept some and dropped some"
    );
}

/// Strings that compare in the ways that matter: case, accents, prefixes, one empty.
const WORDS: [&str; 9] = ["ana", "Ana", "anaïs", "Bo", "bo", "Émile", "zoë", "Z", "a"];

fn word() -> impl proptest::strategy::Strategy<Value = String> {
    proptest::sample::select(WORDS.to_vec()).prop_map(str::to_string)
}

use proptest::strategy::Strategy as _;

fn random_trainer() -> impl proptest::strategy::Strategy<Value = Trainer> {
    let specialty = proptest::option::of(proptest::sample::select(Specialty::ALL.to_vec()));
    (word(), word(), 16..30i32, specialty).prop_map(|(first, last, age, specialty)| {
        let mut t = trainer(0, specialty);
        t.first_name = first;
        t.last_name = last;
        t.age = age;
        t
    })
}

fn random_condition() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
    use proptest::prelude::*;
    let text = prop_oneof![word(), Just(String::new()), Just("n".to_string())];
    let string_op = (
        proptest::sample::select(vec![
            "eq",
            "ne",
            "lt",
            "le",
            "gt",
            "ge",
            "contains",
            "notContains",
            "beginsWith",
        ]),
        text.clone(),
    )
        .prop_map(|(op, v)| json!({ op: v }));
    let between = (word(), word()).prop_map(|(a, b)| {
        let (lo, hi) = if a.as_bytes() <= b.as_bytes() {
            (a, b)
        } else {
            (b, a)
        };
        json!({"between": [lo, hi]})
    });
    let string_cond = prop_oneof![string_op, between];
    let int_cond = prop_oneof![
        (
            proptest::sample::select(vec!["eq", "ne", "lt", "le", "gt", "ge"]),
            14..32i32
        )
            .prop_map(|(op, v)| json!({ op: v })),
        (14..32i32, 0..6i32).prop_map(|(lo, d)| json!({"between": [lo, lo + d]})),
    ];
    let specialty = proptest::sample::select(Specialty::ALL.to_vec()).prop_map(|s| s.as_str());
    let specialty_cond = prop_oneof![
        specialty.clone().prop_map(|s| json!({"eq": s})),
        specialty.prop_map(|s| json!({"ne": s})),
        any::<bool>().prop_map(|b| json!({"attributeExists": b})),
    ];
    prop_oneof![
        string_cond.clone().prop_map(|c| json!({"firstName": c})),
        string_cond.prop_map(|c| json!({"lastName": c})),
        int_cond.prop_map(|c| json!({"age": c})),
        specialty_cond.prop_map(|c| json!({"specialty": c})),
    ]
}

fn random_filter() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
    use proptest::prelude::*;
    random_condition().prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 1..4).prop_map(|v| json!({"and": v})),
            proptest::collection::vec(inner.clone(), 1..4).prop_map(|v| json!({"or": v})),
            inner.prop_map(|v| json!({"not": v})),
        ]
    })
}

/// A trainer's owner (accounts) is written, read by every read, carried by imports and never
/// changed by an update; a trainer without one reads as none.
pub async fn an_owner_is_stored_read_and_kept_by_updates(store: Arc<dyn TrainerStore>) {
    let owned = Trainer {
        owner: Some(Owner::of("sub-1", "jane")),
        ..trainer(1, Some(Specialty::Bodybuilding))
    };
    let unowned = trainer(2, Some(Specialty::Bodybuilding));
    store.insert(&owned).await.expect("insert");
    store.insert(&unowned).await.expect("insert");
    let imported = Trainer {
        owner: Some(Owner::of("sub-2", "joe")),
        ..trainer(3, None)
    };
    assert_eq!(
        store
            .insert_many(std::slice::from_ref(&imported))
            .await
            .expect("import"),
        1
    );
    assert_eq!(
        store.get(&owned.id).await.expect("get"),
        Some(owned.clone())
    );
    assert_eq!(
        store.get(&unowned.id).await.expect("get"),
        Some(unowned.clone())
    );
    assert_eq!(
        store.get(&imported.id).await.expect("get"),
        Some(imported.clone())
    );
    let listed = walk(&*store, None, 2).await;
    let owners: HashSet<_> = listed
        .iter()
        .map(|t| (t.id.clone(), t.owner.clone()))
        .collect();
    assert_eq!(
        owners,
        HashSet::from([
            (owned.id.clone(), owned.owner.clone()),
            (unowned.id.clone(), None),
            (imported.id.clone(), imported.owner.clone()),
        ])
    );
    let query = SpecialtyQuery {
        specialty: Specialty::Bodybuilding,
        last_name: None,
        direction: SortDirection::Asc,
        filter: None,
    };
    let page = store
        .list_by_specialty(&query, None, 10)
        .await
        .expect("by specialty");
    assert!(page.items.iter().any(|t| t.owner == owned.owner));
    let patch = TrainerPatch {
        age: Some(age(50)),
        ..TrainerPatch::default()
    };
    let updated = store
        .update(&owned.id, &patch, &at(1), Timestamp::now())
        .await
        .expect("update");
    assert_eq!(updated.owner, owned.owner);
    assert_eq!(
        store
            .get(&owned.id)
            .await
            .expect("get")
            .and_then(|t| t.owner),
        owned.owner
    );
    let deleted = store.delete(&owned.id, &any()).await.expect("delete");
    assert_eq!(deleted.owner, owned.owner);
}

/// An owner's write (accounts) happens only to a trainer of that owner, checked in the same
/// atomic step: another's trainer or one with no owner is `NotOwner` and unchanged; a missing
/// trainer is `NotFound` first; the owner is checked before the version.
pub async fn a_write_for_another_owner_changes_nothing(store: Arc<dyn TrainerStore>) {
    let jane = Owner::of("sub-1", "jane");
    let joe = Owner::of("sub-2", "joe");
    let janes = Trainer {
        owner: Some(jane.clone()),
        ..trainer(1, None)
    };
    let unowned = trainer(2, None);
    store.insert(&janes).await.expect("insert");
    store.insert(&unowned).await.expect("insert");
    let by = |owner: &Owner, version: Option<i64>| Precondition {
        version,
        condition: None,
        owner: Some(owner.clone()),
    };
    let patch = TrainerPatch {
        age: Some(age(70)),
        ..TrainerPatch::default()
    };
    let now = Timestamp::now();
    for (id, pre) in [
        (&janes.id, by(&joe, None)),
        (&janes.id, by(&joe, Some(1))),
        (&janes.id, by(&joe, Some(9))),
        (&unowned.id, by(&jane, None)),
    ] {
        assert!(matches!(
            store.update(id, &patch, &pre, now).await,
            Err(StoreError::NotOwner)
        ));
        assert!(matches!(
            store.delete(id, &pre).await,
            Err(StoreError::NotOwner)
        ));
    }
    assert_eq!(
        store.get(&janes.id).await.expect("get"),
        Some(janes.clone())
    );
    assert_eq!(
        store.get(&unowned.id).await.expect("get"),
        Some(unowned.clone())
    );
    let missing = TrainerId::generate();
    assert!(matches!(
        store.update(&missing, &patch, &by(&jane, None), now).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.delete(&missing, &by(&jane, None)).await,
        Err(StoreError::NotFound)
    ));
    // The owner's own write, with the rest of the precondition still checked.
    assert!(matches!(
        store
            .update(&janes.id, &patch, &by(&jane, Some(9)), now)
            .await,
        Err(StoreError::VersionConflict { actual: 1 })
    ));
    let updated = store
        .update(&janes.id, &patch, &by(&jane, Some(1)), now)
        .await
        .expect("the owner's update");
    assert_eq!(
        (updated.age, updated.owner.clone()),
        (70, Some(jane.clone()))
    );
    let deleted = store
        .delete(&janes.id, &by(&jane, None))
        .await
        .expect("the owner's delete");
    assert_eq!(deleted.id, janes.id);
}
