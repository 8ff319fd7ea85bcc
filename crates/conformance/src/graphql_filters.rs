//! The API contract's section 10 at the GraphQL level: filters, counts, `trainersBySpecialty`
//! and conditions, as every way of running the API answers them (cases of `graphql_suite!`).

use serde_json::{json, Value};

use crate::graphql_suite::{create, ALL_FIELDS};
use crate::target::{GraphqlResponse, Target};

async fn filtered(
    t: &dyn Target,
    filter: Value,
    limit: i64,
    token: Option<&str>,
) -> GraphqlResponse {
    t.graphql(
        &format!(
            "query($f: ModelTrainersFilterInput, $l: Int, $t: String) {{
                allTrainers(filter: $f, limit: $l, nextToken: $t) {{ items {{ {ALL_FIELDS} }} nextToken }} }}"
        ),
        json!({ "f": filter, "l": limit, "t": token }),
    )
    .await
}

async fn by_specialty(t: &dyn Target, args: Value) -> GraphqlResponse {
    t.graphql(
        "query($s: Specialty!, $k: ModelStringKeyConditionInput, $d: ModelSortDirection,
               $f: ModelTrainersFilterInput, $l: Int, $t: String) {
            trainersBySpecialty(specialty: $s, lastName: $k, sortDirection: $d, filter: $f,
                                limit: $l, nextToken: $t) { items { id lastName } nextToken } }",
        args,
    )
    .await
}

/// Every page of a query answering `PaginatedTrainers` at `field`, by `page(token)`.
async fn pages<'a, F, Fut>(field: &str, page: F) -> Vec<Vec<Value>>
where
    F: Fn(Option<String>) -> Fut,
    Fut: std::future::Future<Output = GraphqlResponse> + 'a,
{
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let resp = page(token).await;
        let data = resp.ok()[field].clone();
        out.push(data["items"].as_array().cloned().unwrap_or_default());
        match data["nextToken"].as_str() {
            Some(next) => token = Some(next.to_string()),
            None => return out,
        }
        assert!(out.len() < 100, "a walk that does not end");
    }
}

fn field(items: &[Value], name: &str) -> Vec<String> {
    items
        .iter()
        .map(|i| match &i[name] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect()
}

pub async fn filtered_pages_are_exact_and_their_tokens_bound_to_the_filter(t: &dyn Target) {
    // 14 trainers; the 4 of age 60 or more are spread out, so that pages read past others.
    let mut old = Vec::new();
    for n in 0..14 {
        let age = if n % 4 == 1 { 60 + n } else { 20 + n };
        let made = create(t, &format!("F{n}"), &format!("L{n}"), age, None).await;
        if age >= 60 {
            old.push(made["id"].as_str().unwrap_or_default().to_string());
        }
    }
    let f = json!({"age": {"ge": 60}});
    let walked = pages("allTrainers", |token| {
        let f = f.clone();
        async move { filtered(t, f, 3, token.as_deref()).await }
    })
    .await;
    let sizes: Vec<usize> = walked.iter().map(Vec::len).collect();
    assert_eq!(sizes, vec![3, 1], "limit counts matches; no empty page");
    let mut got: Vec<String> = walked.iter().flat_map(|p| field(p, "id")).collect();
    got.sort();
    old.sort();
    assert_eq!(got, old);

    let first = filtered(t, f.clone(), 3, None).await;
    let token = first.ok()["allTrainers"]["nextToken"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    filtered(t, json!({"age": {"ge": 61}}), 3, Some(&token))
        .await
        .expect_error("ValidationError", "another query or filter");
    let unfiltered = t
        .graphql(
            "query($t: String) { allTrainers(nextToken: $t) { nextToken } }",
            json!({ "t": token }),
        )
        .await;
    unfiltered.expect_error("ValidationError", "nextToken");
    // An empty filter is no filter.
    let all = filtered(t, json!({}), 100, None).await;
    assert_eq!(
        all.ok()["allTrainers"]["items"].as_array().map(Vec::len),
        Some(14)
    );
}

pub async fn count_trainers_counts_those_that_match(t: &dyn Target) {
    let count = |filter: Value| async move {
        let resp = t
            .graphql(
                "query($f: ModelTrainersFilterInput) { countTrainers(filter: $f) }",
                json!({ "f": filter }),
            )
            .await;
        resp.ok()["countTrainers"].as_i64()
    };
    assert_eq!(count(Value::Null).await, Some(0));
    for (n, specialty) in ["YOUTHFITNESS", "BODYBUILDING", "YOUTHFITNESS"]
        .iter()
        .enumerate()
    {
        create(
            t,
            "Ada",
            &format!("Last{n}"),
            30 + n as i32,
            Some(specialty),
        )
        .await;
    }
    create(t, "Bo", "None", 50, None).await;
    assert_eq!(count(Value::Null).await, Some(4));
    assert_eq!(
        count(json!({"specialty": {"eq": "YOUTHFITNESS"}})).await,
        Some(2)
    );
    assert_eq!(
        count(json!({"specialty": {"attributeExists": false}})).await,
        Some(1)
    );
    assert_eq!(
        count(json!({"or": [{"age": {"gt": 40}}, {"lastName": {"eq": "Last1"}}]})).await,
        Some(2)
    );
    assert_eq!(
        count(json!({"not": {"firstName": {"eq": "Ada"}}})).await,
        Some(1)
    );
}

pub async fn trainers_by_specialty_are_in_last_name_order_both_ways(t: &dyn Target) {
    for (last, specialty) in [
        ("Moreau", "YOUTHFITNESS"),
        ("Adams", "YOUTHFITNESS"),
        ("Zola", "YOUTHFITNESS"),
        ("Mori", "YOUTHFITNESS"),
        ("Baker", "BODYBUILDING"),
        ("Monet", "YOUTHFITNESS"),
        ("Yu", "YOUTHFITNESS"),
    ] {
        create(t, "X", last, 30, Some(specialty)).await;
    }
    let walk = |key: Value, direction: Value, filter: Value| async move {
        let pages = pages("trainersBySpecialty", |token| {
            let args = json!({
                "s": "YOUTHFITNESS", "k": key.clone(), "d": direction.clone(),
                "f": filter.clone(), "l": 2, "t": token,
            });
            async move { by_specialty(t, args).await }
        })
        .await;
        assert!(
            pages.iter().take(pages.len() - 1).all(|p| p.len() == 2),
            "full pages before the last"
        );
        pages
            .iter()
            .flat_map(|p| field(p, "lastName"))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        walk(Value::Null, Value::Null, Value::Null).await,
        ["Adams", "Monet", "Moreau", "Mori", "Yu", "Zola"]
    );
    assert_eq!(
        walk(Value::Null, json!("DESC"), Value::Null).await,
        ["Zola", "Yu", "Mori", "Moreau", "Monet", "Adams"]
    );
    assert_eq!(
        walk(json!({"beginsWith": "Mo"}), json!("DESC"), Value::Null).await,
        ["Mori", "Moreau", "Monet"]
    );
    assert_eq!(
        walk(json!({"between": ["B", "Mz"]}), json!("ASC"), Value::Null).await,
        ["Monet", "Moreau", "Mori"]
    );
    assert_eq!(
        walk(
            Value::Null,
            Value::Null,
            json!({"lastName": {"contains": "o"}})
        )
        .await,
        ["Monet", "Moreau", "Mori", "Zola"]
    );
    by_specialty(t, json!({"s": "YOUTHFITNESS", "k": {"eq": "a", "gt": "b"}}))
        .await
        .expect_error("ValidationError", "lastName takes one key condition");
    // A token of one sort order is refused by the other.
    let first = by_specialty(t, json!({"s": "YOUTHFITNESS", "l": 2})).await;
    let token = first.ok()["trainersBySpecialty"]["nextToken"].clone();
    by_specialty(
        t,
        json!({"s": "YOUTHFITNESS", "l": 2, "d": "DESC", "t": token}),
    )
    .await
    .expect_error("ValidationError", "another query or filter");
}

pub async fn a_condition_that_does_not_hold_changes_nothing(t: &dyn Target) {
    let made = create(t, "Ada", "Lovelace", 36, Some("BODYBUILDING")).await;
    let id = made["id"].as_str().unwrap_or_default().to_string();
    let update = |condition: Value| {
        let id = id.clone();
        async move {
            t.graphql(
                "mutation($id: ID!, $c: ModelTrainersConditionInput) {
                    updateTrainers(id: $id, age: 37, condition: $c) { id age version } }",
                json!({ "id": id, "c": condition }),
            )
            .await
        }
    };
    let refused = update(json!({"age": {"gt": 40}})).await;
    refused.expect_error("ConditionalCheckFailedException", &id);
    assert_eq!(refused.data()["updateTrainers"], Value::Null);
    let delete = t
        .graphql(
            "mutation($id: ID!, $c: ModelTrainersConditionInput) {
                deleteTrainer(id: $id, condition: $c) { id } }",
            json!({ "id": id, "c": {"specialty": {"attributeExists": false}} }),
        )
        .await;
    delete.expect_error("ConditionalCheckFailedException", &id);
    let now = t
        .graphql(
            "query($id: ID!) { getTrainer(id: $id) { age version } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(now.ok()["getTrainer"], json!({"age": 36, "version": 1}));
    // An unknown id is NotFound whatever the condition.
    t.graphql(
        "mutation($c: ModelTrainersConditionInput) {
            updateTrainers(id: \"0190f2a4-5b6c-7d8e-9f00-112233445566\", age: 37, condition: $c) { id } }",
        json!({ "c": {"age": {"gt": 40}} }),
    )
    .await
    .expect_error("NotFound", "0190f2a4");
    let holds = update(
        json!({"and": [{"firstName": {"eq": "Ada"}}, {"specialty": {"eq": "BODYBUILDING"}}]}),
    )
    .await;
    assert_eq!(holds.ok()["updateTrainers"]["version"], json!(2));
}

pub async fn filters_beyond_their_bounds_are_validation_errors(t: &dyn Target) {
    let many: Vec<Value> = (0..26).map(|i| json!({"age": {"ne": i}})).collect();
    filtered(t, json!({ "and": many }), 5, None)
        .await
        .expect_error("ValidationError", "filter has more than 25 conditions");
    let mut deep = json!({"age": {"eq": 1}});
    for _ in 0..5 {
        deep = json!({ "not": deep });
    }
    filtered(t, deep.clone(), 5, None)
        .await
        .expect_error("ValidationError", "filter is nested more than 5 levels");
    t.graphql(
        "mutation($c: ModelTrainersConditionInput) {
            deleteTrainer(id: \"0190f2a4-5b6c-7d8e-9f00-112233445566\", condition: $c) { id } }",
        json!({ "c": deep }),
    )
    .await
    .expect_error("ValidationError", "condition is nested more than 5 levels");
    filtered(t, json!({"age": {"between": [1]}}), 5, None)
        .await
        .expect_error(
            "ValidationError",
            "filter.age.between takes exactly two values",
        );
}
