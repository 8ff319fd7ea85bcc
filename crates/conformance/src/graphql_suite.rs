//! The API contract at the GraphQL level (docs/contract.md, sections 1 to 3, the error rules
//! of 4, and 10 in `graphql_filters`). Every case starts from an empty store.

use std::collections::HashSet;

use futures::future::join_all;
use serde_json::{json, Value};

use crate::target::{GraphqlResponse, Target};

pub use crate::graphql_filters::*;

pub const ALL_FIELDS: &str = "id firstName lastName age specialty createdAt updatedAt version";

/// Expands to one `#[tokio::test]` per case; `$make` is an async fn returning a fresh target.
/// Attributes before `$make` (say `#[ignore = "..."]`) go on every generated test.
#[macro_export]
macro_rules! graphql_suite {
    ($(#[$attr:meta])* $make:path) => {
        $crate::graphql_suite_cases!([$(#[$attr])*] $make;
            tutorial_create_mutation_verbatim,
            tutorial_list_query_verbatim,
            create_sets_id_timestamps_and_version,
            names_are_stored_trimmed,
            create_rejects_bad_input_and_stores_nothing,
            get_returns_the_trainer,
            get_of_unknown_or_malformed_id_is_null_without_error,
            update_changes_only_the_given_fields,
            update_with_no_field_is_a_validation_error,
            update_rejects_bad_input_and_changes_nothing,
            update_of_unknown_id_is_not_found_and_creates_nothing,
            update_with_expected_version,
            update_specialty_null_clears_it,
            delete_returns_the_trainer_as_it_was,
            delete_of_unknown_id_is_not_found,
            delete_with_wrong_expected_version_is_a_conflict,
            concurrent_updates_at_one_version_have_one_winner,
            list_defaults_to_twenty,
            list_limit_out_of_range_is_a_validation_error,
            list_walk_returns_every_trainer_once,
            list_walk_with_specialty_returns_only_that_specialty,
            list_next_token_is_null_exactly_at_the_end,
            list_order_is_stable_across_walks,
            list_refuses_altered_truncated_made_up_or_misfiltered_tokens,
            list_of_empty_store,
            errors_have_the_appsync_shape,
            invalid_query_is_a_validation_error,
            variables_are_accepted,
            filtered_pages_are_exact_and_their_tokens_bound_to_the_filter,
            count_trainers_counts_those_that_match,
            trainers_by_specialty_are_in_last_name_order_both_ways,
            a_condition_that_does_not_hold_changes_nothing,
            filters_beyond_their_bounds_are_validation_errors,
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! graphql_suite_cases {
    ([$(#[$attr:meta])*] $make:path;) => {};
    ([$(#[$attr:meta])*] $make:path; $case:ident $(, $rest:ident)* $(,)?) => {
        $(#[$attr])*
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $case() {
            $crate::init_test_logs();
            let target = $make().await;
            $crate::graphql_suite::$case(&target).await;
        }
        $crate::graphql_suite_cases!([$(#[$attr])*] $make; $($rest),*);
    };
}

/// Creates a trainer and returns it with every field.
pub(crate) async fn create(
    t: &dyn Target,
    first: &str,
    last: &str,
    age: i32,
    specialty: Option<&str>,
) -> Value {
    let resp = t
        .graphql(
            &format!(
                "mutation($f: String!, $l: String!, $a: Int!, $s: Specialty) {{
                    createTrainer(firstName: $f, lastName: $l, age: $a, specialty: $s) {{ {ALL_FIELDS} }} }}"
            ),
            json!({ "f": first, "l": last, "a": age, "s": specialty }),
        )
        .await;
    resp.ok()["createTrainer"].clone()
}

async fn get(t: &dyn Target, id: &str) -> GraphqlResponse {
    t.graphql(
        &format!("query($id: ID!) {{ getTrainer(id: $id) {{ {ALL_FIELDS} }} }}"),
        json!({ "id": id }),
    )
    .await
}

async fn list(t: &dyn Target, args: Value) -> GraphqlResponse {
    t.graphql(
        &format!(
            "query($limit: Int, $nextToken: String, $specialty: Specialty) {{
                allTrainers(limit: $limit, nextToken: $nextToken, specialty: $specialty) {{
                    items {{ {ALL_FIELDS} }} nextToken }} }}"
        ),
        args,
    )
    .await
}

async fn update(t: &dyn Target, args: Value) -> GraphqlResponse {
    t.graphql(
        &format!(
            "mutation($id: ID!, $firstName: String, $lastName: String, $age: Int,
                      $specialty: Specialty, $expectedVersion: Int) {{
                updateTrainers(id: $id, firstName: $firstName, lastName: $lastName, age: $age,
                               specialty: $specialty, expectedVersion: $expectedVersion) {{ {ALL_FIELDS} }} }}"
        ),
        args,
    )
    .await
}

async fn delete(t: &dyn Target, id: &str, expected: Option<i64>) -> GraphqlResponse {
    t.graphql(
        &format!(
            "mutation($id: ID!, $v: Int) {{ deleteTrainer(id: $id, expectedVersion: $v) {{ {ALL_FIELDS} }} }}"
        ),
        json!({ "id": id, "v": expected }),
    )
    .await
}

/// Follows `nextToken` from the first page; returns the pages.
async fn walk(t: &dyn Target, limit: i64, specialty: Option<&str>) -> Vec<Vec<Value>> {
    let mut pages = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let resp = list(
            t,
            json!({ "limit": limit, "nextToken": token, "specialty": specialty }),
        )
        .await;
        let page = resp.ok()["allTrainers"].clone();
        let items = page["items"].as_array().cloned().unwrap_or_default();
        assert!(
            items.len() as i64 <= limit,
            "a page holds at most limit items"
        );
        token = page["nextToken"].as_str().map(str::to_string);
        assert!(
            !items.is_empty() || token.is_none(),
            "no page is empty while a later page has items"
        );
        pages.push(items);
        if token.is_none() {
            return pages;
        }
        assert!(pages.len() < 10_000, "the walk ends");
    }
}

fn ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|t| t["id"].as_str().unwrap_or_default().to_string())
        .collect()
}

async fn count(t: &dyn Target) -> usize {
    walk(t, 100, None).await.iter().map(Vec::len).sum()
}

fn is_aws_date_time(v: &Value) -> bool {
    let s = v.as_str().unwrap_or_default();
    // 2026-11-24T21:38:53.123Z
    s.len() == 24
        && s.ends_with('Z')
        && s.as_bytes()[10] == b'T'
        && s.as_bytes()[19] == b'.'
        && chrono_like_parse(s)
}

fn chrono_like_parse(s: &str) -> bool {
    let digits = [0..4, 5..7, 8..10, 11..13, 14..16, 17..19, 20..23];
    digits
        .iter()
        .all(|r| s[r.clone()].bytes().all(|b| b.is_ascii_digit()))
}

fn is_lowercase_uuid(v: &Value) -> bool {
    let s = v.as_str().unwrap_or_default();
    s.len() == 36
        && s.chars().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_digit() || ('a'..='f').contains(&c),
        })
}

// ---------------------------------------------------------------------------------------------

pub async fn tutorial_create_mutation_verbatim(t: &dyn Target) {
    let resp = t
        .graphql(
            r#"mutation { createTrainer(firstName: "John", lastName: "Doe", age: 30, specialty: BODYBUILDING) { id firstName lastName age specialty } }"#,
            json!({}),
        )
        .await;
    let trainer = &resp.ok()["createTrainer"];
    assert!(is_lowercase_uuid(&trainer["id"]), "{trainer}");
    assert_eq!(trainer["firstName"], "John");
    assert_eq!(trainer["lastName"], "Doe");
    assert_eq!(trainer["age"], 30);
    assert_eq!(trainer["specialty"], "BODYBUILDING");
    assert_eq!(
        trainer.as_object().map(|o| o.len()),
        Some(5),
        "only the selected fields"
    );
}

pub async fn tutorial_list_query_verbatim(t: &dyn Target) {
    let made = create(t, "John", "Doe", 30, Some("BODYBUILDING")).await;
    let resp = t
        .graphql(
            "query { allTrainers { items { id firstName } nextToken } }",
            json!({}),
        )
        .await;
    let page = &resp.ok()["allTrainers"];
    assert_eq!(
        page["items"],
        json!([{ "id": made["id"], "firstName": "John" }])
    );
    assert_eq!(page["nextToken"], Value::Null);
}

pub async fn create_sets_id_timestamps_and_version(t: &dyn Target) {
    let a = create(t, "Ann", "Lee", 16, None).await;
    let b = create(t, "Bob", "Ray", 100, Some("SENIORFITNESS")).await;
    for tr in [&a, &b] {
        assert!(is_lowercase_uuid(&tr["id"]), "{tr}");
        assert!(is_aws_date_time(&tr["createdAt"]), "{tr}");
        assert_eq!(tr["createdAt"], tr["updatedAt"]);
        assert_eq!(tr["version"], 1);
    }
    assert_ne!(a["id"], b["id"]);
    assert_eq!(a["specialty"], Value::Null);
    assert_eq!(b["age"], 100);
}

pub async fn names_are_stored_trimmed(t: &dyn Target) {
    let made = create(t, "  Ann \t", "\u{a0}Lee ", 40, None).await;
    assert_eq!(made["firstName"], "Ann");
    assert_eq!(made["lastName"], "Lee");
    let got = get(t, made["id"].as_str().unwrap_or_default()).await;
    assert_eq!(got.ok()["getTrainer"]["firstName"], "Ann");
}

pub async fn create_rejects_bad_input_and_stores_nothing(t: &dyn Target) {
    let long = "x".repeat(101);
    let cases: Vec<(Value, &str)> = vec![
        (json!({"f": "", "l": "Doe", "a": 30}), "firstName"),
        (json!({"f": "   ", "l": "Doe", "a": 30}), "firstName"),
        (json!({"f": "John", "l": long, "a": 30}), "lastName"),
        (json!({"f": "Jo\u{7}hn", "l": "Doe", "a": 30}), "firstName"),
        (json!({"f": "John", "l": "Do\ne", "a": 30}), "lastName"),
        (json!({"f": "John", "l": "Doe", "a": 15}), "age"),
        (json!({"f": "John", "l": "Doe", "a": 101}), "age"),
        (json!({"f": "John", "l": "Doe", "a": -2147483648i64}), "age"),
        (
            json!({"f": "John", "l": "Doe", "a": 30, "s": "ZUMBA"}),
            "ZUMBA",
        ),
        (json!({"f": "John", "l": "Doe", "a": 30.5}), "a"),
        (json!({"f": "John", "a": 30}), "l"),
        (json!({"f": 12, "l": "Doe", "a": 30}), "f"),
    ];
    for (vars, mentions) in cases {
        let resp = t
            .graphql(
                "mutation($f: String!, $l: String!, $a: Int!, $s: Specialty) {
                    createTrainer(firstName: $f, lastName: $l, age: $a, specialty: $s) { id } }",
                vars.clone(),
            )
            .await;
        let e = resp.expect_error("ValidationError", mentions);
        assert!(
            resp.data().is_null() || resp.data()["createTrainer"].is_null(),
            "{vars}: {}",
            resp.0
        );
        assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // 100 characters is the most, and allowed.
    create(t, &"y".repeat(100), "Doe", 30, None).await;
    assert_eq!(count(t).await, 1, "only the valid trainer was stored");
}

pub async fn get_returns_the_trainer(t: &dyn Target) {
    let made = create(t, "Ann", "Lee", 44, Some("YOUTHFITNESS")).await;
    let got = get(t, made["id"].as_str().unwrap_or_default()).await;
    assert_eq!(got.ok()["getTrainer"], made);
}

pub async fn get_of_unknown_or_malformed_id_is_null_without_error(t: &dyn Target) {
    create(t, "Ann", "Lee", 44, None).await;
    for id in [
        "0190f2a4-5b6c-7d8e-9f00-112233445566",
        "not-an-id",
        "",
        "'; DROP TABLE trainers; --",
    ] {
        let got = get(t, id).await;
        assert_eq!(got.ok()["getTrainer"], Value::Null, "id {id:?}");
    }
}

pub async fn update_changes_only_the_given_fields(t: &dyn Target) {
    let made = create(t, "Ann", "Lee", 44, Some("YOUTHFITNESS")).await;
    let id = made["id"].as_str().unwrap_or_default();
    let resp = update(t, json!({ "id": id, "age": 45 })).await;
    let updated = resp.ok()["updateTrainers"].clone();
    assert_eq!(updated["age"], 45);
    assert_eq!(updated["version"], 2);
    for same in ["id", "firstName", "lastName", "specialty", "createdAt"] {
        assert_eq!(updated[same], made[same], "{same} is unchanged");
    }
    assert!(updated["updatedAt"].as_str() >= made["updatedAt"].as_str());
    let resp = update(
        t,
        json!({ "id": id, "firstName": " Anna ", "lastName": "Li", "specialty": "BODYBUILDING" }),
    )
    .await;
    let again = resp.ok()["updateTrainers"].clone();
    assert_eq!(
        (
            &again["firstName"],
            &again["lastName"],
            &again["age"],
            &again["specialty"],
            &again["version"]
        ),
        (
            &json!("Anna"),
            &json!("Li"),
            &json!(45),
            &json!("BODYBUILDING"),
            &json!(3)
        )
    );
    assert_eq!(
        get(t, id).await.ok()["getTrainer"],
        again,
        "the update is stored"
    );
}

pub async fn update_with_no_field_is_a_validation_error(t: &dyn Target) {
    let made = create(t, "Ann", "Lee", 44, None).await;
    let id = made["id"].as_str().unwrap_or_default();
    let resp = update(t, json!({ "id": id })).await;
    resp.expect_error("ValidationError", "at least one");
    let resp = update(t, json!({ "id": id, "expectedVersion": 1 })).await;
    resp.expect_error("ValidationError", "at least one");
    assert_eq!(get(t, id).await.ok()["getTrainer"]["version"], 1);
}

pub async fn update_rejects_bad_input_and_changes_nothing(t: &dyn Target) {
    let made = create(t, "Ann", "Lee", 44, None).await;
    let id = made["id"].as_str().unwrap_or_default();
    let cases = [
        (json!({ "id": id, "age": 12 }), "age"),
        (json!({ "id": id, "age": 30, "firstName": "" }), "firstName"),
        (json!({ "id": id, "lastName": "z".repeat(101) }), "lastName"),
        (json!({ "id": id, "firstName": "a\u{0}b" }), "firstName"),
        (json!({ "id": id, "firstName": null }), "firstName"),
        (json!({ "id": id, "age": null }), "age"),
        (json!({ "id": id, "specialty": "yoga" }), "yoga"),
    ];
    for (vars, mentions) in cases {
        let resp = update(t, vars.clone()).await;
        resp.expect_error("ValidationError", mentions);
    }
    assert_eq!(get(t, id).await.ok()["getTrainer"], made, "nothing changed");
}

pub async fn update_of_unknown_id_is_not_found_and_creates_nothing(t: &dyn Target) {
    for id in ["0190f2a4-5b6c-7d8e-9f00-112233445566", "nope"] {
        let resp = update(t, json!({ "id": id, "age": 30 })).await;
        let e = resp.expect_error("NotFound", "");
        assert_eq!(resp.data()["updateTrainers"], Value::Null);
        assert_eq!(e["path"], json!(["updateTrainers"]));
    }
    assert_eq!(count(t).await, 0, "update never creates");
}

pub async fn update_with_expected_version(t: &dyn Target) {
    let made = create(t, "Ann", "Lee", 44, None).await;
    let id = made["id"].as_str().unwrap_or_default();
    let resp = update(t, json!({ "id": id, "age": 50, "expectedVersion": 1 })).await;
    assert_eq!(resp.ok()["updateTrainers"]["version"], 2);
    for stale in [1, 3, 0, -1] {
        let resp = update(t, json!({ "id": id, "age": 60, "expectedVersion": stale })).await;
        resp.expect_error("ConflictError", "version");
        assert_eq!(resp.data()["updateTrainers"], Value::Null);
    }
    let now = get(t, id).await.ok()["getTrainer"].clone();
    assert_eq!(
        (now["age"].clone(), now["version"].clone()),
        (json!(50), json!(2))
    );
}

pub async fn update_specialty_null_clears_it(t: &dyn Target) {
    let made = create(t, "Ann", "Lee", 44, Some("BODYBUILDING")).await;
    let id = made["id"].as_str().unwrap_or_default();
    let resp = update(t, json!({ "id": id, "specialty": null })).await;
    assert_eq!(resp.ok()["updateTrainers"]["specialty"], Value::Null);
    let resp = update(t, json!({ "id": id, "age": 45 })).await;
    assert_eq!(
        resp.ok()["updateTrainers"]["specialty"],
        Value::Null,
        "left out keeps it"
    );
}

pub async fn delete_returns_the_trainer_as_it_was(t: &dyn Target) {
    let made = create(t, "Ann", "Lee", 44, None).await;
    let id = made["id"].as_str().unwrap_or_default();
    let updated = update(t, json!({ "id": id, "age": 47 })).await.ok()["updateTrainers"].clone();
    let resp = delete(t, id, Some(2)).await;
    assert_eq!(resp.ok()["deleteTrainer"], updated);
    assert_eq!(get(t, id).await.ok()["getTrainer"], Value::Null);
    delete(t, id, None).await.expect_error("NotFound", "");
}

pub async fn delete_of_unknown_id_is_not_found(t: &dyn Target) {
    for id in ["0190f2a4-5b6c-7d8e-9f00-112233445566", "x"] {
        let resp = delete(t, id, None).await;
        resp.expect_error("NotFound", "");
        assert_eq!(resp.data()["deleteTrainer"], Value::Null);
    }
}

pub async fn delete_with_wrong_expected_version_is_a_conflict(t: &dyn Target) {
    let made = create(t, "Ann", "Lee", 44, None).await;
    let id = made["id"].as_str().unwrap_or_default();
    delete(t, id, Some(2))
        .await
        .expect_error("ConflictError", "version");
    assert_eq!(get(t, id).await.ok()["getTrainer"], made, "still there");
}

pub async fn concurrent_updates_at_one_version_have_one_winner(t: &dyn Target) {
    let made = create(t, "Ann", "Lee", 44, None).await;
    let id = made["id"].as_str().unwrap_or_default();
    let attempts =
        (0..16).map(|i| update(t, json!({ "id": id, "age": 20 + i, "expectedVersion": 1 })));
    let results = join_all(attempts).await;
    let wins: Vec<&GraphqlResponse> = results.iter().filter(|r| r.errors().is_empty()).collect();
    let conflicts = results
        .iter()
        .filter(|r| r.error_types() == ["ConflictError"])
        .count();
    assert_eq!((wins.len(), conflicts), (1, 15), "one winner, 15 conflicts");
    let now = get(t, id).await.ok()["getTrainer"].clone();
    assert_eq!(now["version"], 2);
    assert_eq!(
        now["age"],
        wins[0].ok()["updateTrainers"]["age"],
        "the winner's write stands"
    );
}

pub async fn list_defaults_to_twenty(t: &dyn Target) {
    for i in 0..25 {
        create(t, &format!("T{i}"), "Lee", 30, None).await;
    }
    let resp = t
        .graphql("{ allTrainers { items { id } nextToken } }", json!({}))
        .await;
    let page = &resp.ok()["allTrainers"];
    assert_eq!(page["items"].as_array().map(Vec::len), Some(20));
    let token = page["nextToken"]
        .as_str()
        .expect("a next token after 20 of 25");
    let rest = list(t, json!({ "nextToken": token })).await;
    assert_eq!(
        rest.ok()["allTrainers"]["items"].as_array().map(Vec::len),
        Some(5)
    );
    assert_eq!(rest.ok()["allTrainers"]["nextToken"], Value::Null);
}

pub async fn list_limit_out_of_range_is_a_validation_error(t: &dyn Target) {
    create(t, "Ann", "Lee", 44, None).await;
    for limit in [0, -1, 101, 1_000_000] {
        let resp = list(t, json!({ "limit": limit })).await;
        resp.expect_error("ValidationError", "limit");
    }
    let resp = list(t, json!({ "limit": 100 })).await;
    assert_eq!(
        resp.ok()["allTrainers"]["items"].as_array().map(Vec::len),
        Some(1)
    );
}

pub async fn list_walk_returns_every_trainer_once(t: &dyn Target) {
    let mut made = HashSet::new();
    for i in 0..23 {
        made.insert(create(t, &format!("T{i}"), "Lee", 30, None).await["id"].to_string());
    }
    for limit in [1, 5, 7, 23, 100] {
        let pages = walk(t, limit, None).await;
        let all: Vec<String> = pages
            .iter()
            .flat_map(|p| ids(p))
            .map(|s| format!("{s:?}"))
            .collect();
        let unique: HashSet<String> = all.iter().cloned().collect();
        assert_eq!(all.len(), 23, "limit {limit}: every trainer exactly once");
        assert_eq!(unique, made, "limit {limit}");
        assert_eq!(
            pages.len() as i64,
            (23 + limit - 1) / limit,
            "limit {limit}: no extra page"
        );
    }
}

pub async fn list_walk_with_specialty_returns_only_that_specialty(t: &dyn Target) {
    let specialties = [
        "BODYBUILDING",
        "YOUTHFITNESS",
        "SENIORFITNESS",
        "CORRECTIVEEXERCISE",
    ];
    let mut expected = 0;
    for i in 0..30 {
        let s = if i % 5 == 4 {
            None
        } else {
            Some(specialties[i % 3])
        };
        if s == Some("YOUTHFITNESS") {
            expected += 1;
        }
        create(t, &format!("T{i}"), "Lee", 30, s).await;
    }
    let pages = walk(t, 4, Some("YOUTHFITNESS")).await;
    let items: Vec<&Value> = pages.iter().flatten().collect();
    assert_eq!(items.len(), expected);
    assert!(items.iter().all(|t| t["specialty"] == "YOUTHFITNESS"));
    let none = walk(t, 4, Some("CORRECTIVEEXERCISE")).await;
    assert_eq!(none, vec![Vec::<Value>::new()], "one empty page, no token");
}

pub async fn list_next_token_is_null_exactly_at_the_end(t: &dyn Target) {
    for i in 0..10 {
        create(t, &format!("T{i}"), "Lee", 30, Some("BODYBUILDING")).await;
    }
    // Exactly two full pages: the second has no token, and there is no empty third.
    let pages = walk(t, 5, None).await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), vec![5, 5]);
    let pages = walk(t, 5, Some("BODYBUILDING")).await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), vec![5, 5]);
    let pages = walk(t, 10, None).await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), vec![10]);
}

pub async fn list_order_is_stable_across_walks(t: &dyn Target) {
    for i in 0..12 {
        create(t, &format!("T{i}"), "Lee", 30, None).await;
    }
    let by_3: Vec<String> = walk(t, 3, None).await.iter().flat_map(|p| ids(p)).collect();
    let by_5: Vec<String> = walk(t, 5, None).await.iter().flat_map(|p| ids(p)).collect();
    let all: Vec<String> = walk(t, 100, None)
        .await
        .iter()
        .flat_map(|p| ids(p))
        .collect();
    assert_eq!(by_3, all);
    assert_eq!(by_5, all);
}

pub async fn list_refuses_altered_truncated_made_up_or_misfiltered_tokens(t: &dyn Target) {
    for i in 0..6 {
        create(t, &format!("T{i}"), "Lee", 30, Some("BODYBUILDING")).await;
    }
    let first = list(t, json!({ "limit": 2 })).await;
    let token = first.ok()["allTrainers"]["nextToken"]
        .as_str()
        .expect("a token")
        .to_string();
    let mut flipped = token.clone().into_bytes();
    let mid = flipped.len() / 2;
    flipped[mid] = if flipped[mid] == b'A' { b'B' } else { b'A' };
    let bad = [
        String::from_utf8(flipped).unwrap_or_default(),
        token[..token.len() - 3].to_string(),
        format!("{token}xyz"),
        "eyJpZCI6IjEyMyJ9".to_string(),
        "not a token at all!".to_string(),
        String::new(),
        "🏋️".repeat(50),
        "A".repeat(5000),
    ];
    for bad in bad {
        let resp = list(t, json!({ "limit": 2, "nextToken": bad })).await;
        resp.expect_error("ValidationError", "nextToken");
    }
    let resp = list(
        t,
        json!({ "limit": 2, "nextToken": token, "specialty": "BODYBUILDING" }),
    )
    .await;
    resp.expect_error("ValidationError", "nextToken");
    // The genuine token still works.
    let resp = list(t, json!({ "limit": 2, "nextToken": token })).await;
    assert_eq!(
        resp.ok()["allTrainers"]["items"].as_array().map(Vec::len),
        Some(2)
    );
}

pub async fn list_of_empty_store(t: &dyn Target) {
    let resp = list(t, json!({})).await;
    assert_eq!(
        resp.ok()["allTrainers"],
        json!({ "items": [], "nextToken": null })
    );
}

pub async fn errors_have_the_appsync_shape(t: &dyn Target) {
    let resp = update(
        t,
        json!({ "id": "0190f2a4-5b6c-7d8e-9f00-112233445566", "age": 30 }),
    )
    .await;
    let e = resp.expect_error("NotFound", "");
    assert_eq!(e["path"], json!(["updateTrainers"]));
    assert!(
        e["locations"][0]["line"].is_u64() && e["locations"][0]["column"].is_u64(),
        "{e}"
    );
    assert_eq!(e["data"], Value::Null);
    assert_eq!(e["errorInfo"], Value::Null);
    assert!(e
        .as_object()
        .is_some_and(|o| o.contains_key("data") && o.contains_key("errorInfo")));
    assert_eq!(resp.data(), &json!({ "updateTrainers": null }));
}

pub async fn invalid_query_is_a_validation_error(t: &dyn Target) {
    for (query, mentions) in [
        ("{ nosuchField }", "nosuchField"),
        ("{ getTrainer { id } }", "id"),
        ("{ allTrainers { items { password } } }", "password"),
        (
            "mutation { createTrainer(firstName: \"a\") { id } }",
            "lastName",
        ),
        ("{ getTrainer(id: \"x\") ", ""),
    ] {
        let resp = t.graphql(query, json!({})).await;
        assert!(!resp.errors().is_empty(), "{query}: {}", resp.0);
        assert!(
            resp.error_types().iter().all(|t| t == "ValidationError"),
            "{query}: {}",
            resp.0
        );
        let messages: String = resp
            .errors()
            .iter()
            .map(|e| e["message"].to_string())
            .collect();
        assert!(messages.contains(mentions), "{query}: {messages}");
    }
    assert_eq!(count(t).await, 0);
}

pub async fn variables_are_accepted(t: &dyn Target) {
    let resp = t
        .graphql(
            "mutation Make($first: String!) { createTrainer(firstName: $first, lastName: \"Doe\", age: 30) { firstName } }",
            json!({ "first": "Var" }),
        )
        .await;
    assert_eq!(resp.ok()["createTrainer"]["firstName"], "Var");
}
