//! `handle` without the Lambda runtime: AppSync direct-resolver events in, `{data, errorType,
//! errorMessage}` out. (The GraphQL suite runs through it too: crates/conformance/tests/lambda.rs.)

use std::sync::Arc;

use serde_json::{json, Value};
use trainers_core::TrainerService;
use trainers_lambda::{handle, INTERNAL_MESSAGE};
use trainers_store_embedded::EmbeddedStore;

fn service() -> (TrainerService, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = EmbeddedStore::open(dir.path()).expect("an embedded store");
    (TrainerService::new(Arc::new(store)), dir)
}

fn event(parent: &str, field: &str, arguments: Value) -> Value {
    json!({
        "arguments": arguments,
        "identity": null,
        "source": null,
        "info": {
            "fieldName": field,
            "parentTypeName": parent,
            "variables": {},
            "selectionSetList": ["id", "firstName", "specialty", "version"],
            "selectionSetGraphQL": "{\n  id\n  firstName\n  specialty\n  version\n}",
        },
        "stash": {},
    })
}

async fn create(s: &TrainerService) -> Value {
    let out = handle(
        s,
        event(
            "Mutation",
            "createTrainer",
            json!({ "firstName": " Ann ", "lastName": "Lee", "age": 40, "specialty": "BODYBUILDING" }),
        ),
    )
    .await;
    assert_eq!(out["errorType"], Value::Null, "{out}");
    out["data"].clone()
}

#[tokio::test]
async fn create_answers_the_whole_trainer_and_no_error() {
    let (s, _dir) = service();
    let t = create(&s).await;
    assert_eq!(t["firstName"], "Ann");
    assert_eq!(t["specialty"], "BODYBUILDING");
    assert_eq!(t["version"], 1);
    for field in ["id", "lastName", "age", "createdAt", "updatedAt"] {
        assert!(t.get(field).is_some_and(|v| !v.is_null()), "{field} in {t}");
    }
}

#[tokio::test]
async fn absent_arguments_are_not_given_and_null_specialty_clears_it() {
    let (s, _dir) = service();
    let t = create(&s).await;
    let id = t["id"].clone();
    let out = handle(
        &s,
        event("Mutation", "updateTrainers", json!({ "id": id, "age": 41 })),
    )
    .await;
    assert_eq!(out["data"]["specialty"], "BODYBUILDING", "left out: kept");
    assert_eq!(out["data"]["firstName"], "Ann");
    let out = handle(
        &s,
        event(
            "Mutation",
            "updateTrainers",
            json!({ "id": id, "specialty": null }),
        ),
    )
    .await;
    assert_eq!(out["errorType"], Value::Null, "{out}");
    assert_eq!(out["data"]["specialty"], Value::Null, "null: cleared");
    let out = handle(
        &s,
        event(
            "Mutation",
            "updateTrainers",
            json!({ "id": id, "firstName": null }),
        ),
    )
    .await;
    assert_eq!(out["errorType"], "ValidationError");
    assert_eq!(out["data"], Value::Null);
}

#[tokio::test]
async fn errors_carry_the_contracts_error_type_and_message() {
    let (s, _dir) = service();
    let missing = "0190f2a4-5b6c-7d8e-9f00-112233445566";
    let out = handle(
        &s,
        event("Mutation", "deleteTrainer", json!({ "id": missing })),
    )
    .await;
    assert_eq!(
        out,
        json!({
            "data": null,
            "errorType": "NotFound",
            "errorMessage": format!("No trainer with id {missing}"),
        })
    );
    let t = create(&s).await;
    let out = handle(
        &s,
        event(
            "Mutation",
            "deleteTrainer",
            json!({ "id": t["id"], "expectedVersion": 7 }),
        ),
    )
    .await;
    assert_eq!(out["errorType"], "ConflictError");
    let out = handle(&s, event("Query", "allTrainers", json!({ "limit": 0 }))).await;
    assert_eq!(out["errorType"], "ValidationError");
    assert!(out["errorMessage"]
        .as_str()
        .is_some_and(|m| m.contains("limit")));
}

#[tokio::test]
async fn get_and_list_answer_data_shaped_as_the_schema() {
    let (s, _dir) = service();
    let t = create(&s).await;
    let out = handle(&s, event("Query", "getTrainer", json!({ "id": t["id"] }))).await;
    assert_eq!(out["data"], t);
    let out = handle(&s, event("Query", "getTrainer", json!({ "id": "nope" }))).await;
    assert_eq!(
        out,
        json!({ "data": null, "errorType": null, "errorMessage": null })
    );
    let out = handle(&s, event("Query", "allTrainers", json!({}))).await;
    assert_eq!(out["data"], json!({ "items": [t], "nextToken": null }));
}

#[tokio::test]
async fn a_batch_answers_in_order() {
    let (s, _dir) = service();
    let t = create(&s).await;
    let out = handle(
        &s,
        json!([
            event("Query", "getTrainer", json!({ "id": t["id"] })),
            event("Mutation", "deleteTrainer", json!({ "id": "x" })),
            event("Query", "allTrainers", json!({ "limit": 5 })),
        ]),
    )
    .await;
    let out = out.as_array().cloned().unwrap_or_default();
    assert_eq!(out.len(), 3);
    assert_eq!(out[0]["data"], t);
    assert_eq!(out[1]["errorType"], "NotFound");
    assert_eq!(out[2]["data"]["items"], json!([t]));
}

#[tokio::test]
async fn malformed_events_never_panic() {
    let (s, _dir) = service();
    let cases = [
        (json!({}), "InternalFailure"),
        (json!(null), "InternalFailure"),
        (json!("text"), "InternalFailure"),
        (event("Query", "nosuchField", json!({})), "InternalFailure"),
        (
            event("Subscription", "onCreateTrainer", json!({})),
            "InternalFailure",
        ),
        (event("Query", "getTrainer", json!({})), "ValidationError"),
        (
            event("Query", "getTrainer", json!({ "id": 5 })),
            "ValidationError",
        ),
        (
            event(
                "Mutation",
                "createTrainer",
                json!({ "firstName": "A", "lastName": "B", "age": 4_000_000_000i64 }),
            ),
            "ValidationError",
        ),
        (
            event(
                "Mutation",
                "createTrainer",
                json!({ "firstName": "A", "lastName": "B", "age": 30, "specialty": "ZUMBA" }),
            ),
            "ValidationError",
        ),
        (
            event(
                "Mutation",
                "createTrainer",
                json!({ "firstName": "A", "age": 30 }),
            ),
            "ValidationError",
        ),
        (
            event("Query", "allTrainers", json!({ "limit": "ten" })),
            "ValidationError",
        ),
    ];
    for (e, error_type) in cases {
        let out = handle(&s, e.clone()).await;
        assert_eq!(out["errorType"], error_type, "{e} -> {out}");
        assert_eq!(out["data"], Value::Null);
        if error_type == "InternalFailure" {
            assert_eq!(out["errorMessage"], INTERNAL_MESSAGE);
        }
    }
    let out = handle(&s, event("Query", "allTrainers", json!({}))).await;
    assert_eq!(out["data"]["items"], json!([]), "nothing was stored");
}

/// AppSync's `identity` for a Cognito user pool caller (as a direct Lambda resolver gets it).
fn cognito(sub: &str, username: &str, groups: &[&str]) -> Value {
    json!({
        "sub": sub,
        "issuer": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_pool",
        "username": username,
        "claims": {"sub": sub, "cognito:username": username, "cognito:groups": groups,
                   "token_use": "id", "aud": "client"},
        "sourceIp": ["203.0.113.7"],
        "defaultAuthStrategy": "ALLOW",
        "groups": groups,
    })
}

fn as_caller(mut event: Value, identity: Value) -> Value {
    event["identity"] = identity;
    event
}

#[test]
fn the_caller_is_the_identity_appsync_verified() {
    use trainers_core::{Caller, User};
    use trainers_lambda::caller;
    assert_eq!(caller(&Value::Null), Caller::ApiKey);
    // IAM: no user.
    assert_eq!(
        caller(&json!({"accountId": "1", "userArn": "arn:aws:iam::1:user/x"})),
        Caller::ApiKey
    );
    assert_eq!(
        caller(&cognito("s-1", "jane", &["Admins"])),
        Caller::User(User {
            sub: "s-1".into(),
            username: "jane".into(),
            groups: vec!["Admins".into()],
        })
    );
    // OpenID Connect: claims only.
    let oidc = json!({"sub": "u-7", "issuer": "https://idp.example", "claims": {"preferred_username": "pat"}});
    assert_eq!(
        caller(&oidc),
        Caller::User(User {
            sub: "u-7".into(),
            username: "pat".into(),
            groups: vec![],
        })
    );
    // A sub that could pass for another's owner, or none: no user.
    assert_eq!(caller(&cognito("s-1::jane", "x", &[])), Caller::ApiKey);
    assert_eq!(caller(&cognito("", "x", &[])), Caller::ApiKey);
}

#[tokio::test]
async fn with_accounts_the_function_applies_owner_rules_from_the_identity() {
    use trainers_core::AccessPolicy;
    let (s, _dir) = service();
    let s = s.with_access(AccessPolicy::Owners {
        admin_group: Some("Admins".into()),
    });
    let create = event(
        "Mutation",
        "createTrainer",
        json!({ "firstName": "Ann", "lastName": "Lee", "age": 40 }),
    );
    let refused = handle(&s, create.clone()).await;
    assert_eq!(refused["data"], Value::Null, "{refused}");
    assert_eq!(refused["errorType"], "Unauthorized");
    assert_eq!(
        refused["errorMessage"],
        "Not Authorized to access createTrainer on type Mutation"
    );
    let made = handle(&s, as_caller(create, cognito("s-1", "jane", &[]))).await;
    assert_eq!(made["errorType"], Value::Null, "{made}");
    assert_eq!(made["data"]["owner"], "s-1::jane");
    let id = made["data"]["id"].clone();

    let update = event("Mutation", "updateTrainers", json!({ "id": id, "age": 41 }));
    for identity in [Value::Null, cognito("s-2", "joe", &["Staff"])] {
        let out = handle(&s, as_caller(update.clone(), identity)).await;
        assert_eq!(out["errorType"], "Unauthorized", "{out}");
        assert_eq!(
            out["errorMessage"],
            "Not Authorized to access updateTrainers on type Mutation"
        );
    }
    let by_admin = handle(&s, as_caller(update, cognito("s-3", "ann", &["Admins"]))).await;
    assert_eq!(by_admin["data"]["age"], 41, "{by_admin}");
    let delete = event("Mutation", "deleteTrainer", json!({ "id": id }));
    let by_joe = handle(&s, as_caller(delete.clone(), cognito("s-2", "joe", &[]))).await;
    assert_eq!(by_joe["errorType"], "Unauthorized", "{by_joe}");
    let by_jane = handle(&s, as_caller(delete, cognito("s-1", "jane", &[]))).await;
    assert_eq!(by_jane["data"]["owner"], "s-1::jane", "{by_jane}");
}
