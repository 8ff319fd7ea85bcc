//! What only an HTTP server answers (docs/contract.md, section 4): API keys, malformed requests,
//! limits. Runs against the local server on every store.

use serde_json::{json, Value};
use trainers_core::{KeySource, Timestamp};

use crate::server::{TestServer, TEST_API_KEY};
use crate::target::GraphqlResponse;

/// Expands to one `#[tokio::test]` per case; `$make` is an async fn returning a fresh
/// [`TestServer`]. Attributes before `$make` (say `#[ignore = "..."]`) go on every generated test.
#[macro_export]
macro_rules! http_suite {
    ($(#[$attr:meta])* $make:path) => {
        $crate::http_suite_cases!([$(#[$attr])*] $make;
            missing_or_unknown_key_is_401_with_appsync_body,
            stored_key_works_until_revoked,
            expired_key_is_401,
            malformed_requests_are_400_with_a_reason,
            body_over_1_mib_is_413_and_under_is_served,
            success_has_no_errors_key,
            operation_name_selects_the_operation,
            query_deeper_than_15_is_refused,
            more_than_50_top_level_fields_is_refused,
            standard_introspection_query_works,
            mangled_requests_get_a_clear_error_and_change_nothing,
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! http_suite_cases {
    ([$(#[$attr:meta])*] $make:path;) => {};
    ([$(#[$attr:meta])*] $make:path; $case:ident $(, $rest:ident)* $(,)?) => {
        $(#[$attr])*
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $case() {
            $crate::init_test_logs();
            let server = $make().await;
            $crate::http_suite::$case(&server).await;
        }
        $crate::http_suite_cases!([$(#[$attr])*] $make; $($rest),*);
    };
}

const SIMPLE: &str = r#"{"query": "{ allTrainers { nextToken } }"}"#;

fn unauthorized() -> Value {
    json!({"errors": [{"errorType": "UnauthorizedException", "message": "You are not authorized to make this call."}]})
}

pub async fn missing_or_unknown_key_is_401_with_appsync_body(s: &TestServer) {
    assert_eq!(s.post_raw(None, SIMPLE).await, (401, unauthorized()));
    assert_eq!(s.post_raw(Some(""), SIMPLE).await, (401, unauthorized()));
    assert_eq!(
        s.post_raw(Some("da2-wrong"), SIMPLE).await,
        (401, unauthorized())
    );
    let near = format!("{TEST_API_KEY}x");
    assert_eq!(s.post_raw(Some(&near), SIMPLE).await, (401, unauthorized()));
    // A mutation without a key changes nothing.
    let create = r#"{"query": "mutation { createTrainer(firstName: \"A\", lastName: \"B\", age: 30) { id } }"}"#;
    assert_eq!(s.post_raw(None, create).await.0, 401);
    let (_, body) = s.post_raw(Some(TEST_API_KEY), SIMPLE).await;
    assert_eq!(body, json!({"data": {"allTrainers": {"nextToken": null}}}));
}

pub async fn stored_key_works_until_revoked(s: &TestServer) {
    let store = s.key_store();
    let key = store
        .create_expiring_in(
            std::time::Duration::from_secs(7 * 86400),
            Some("test".into()),
        )
        .await
        .expect("a key");
    s.keys.reload().await.expect("reload");
    assert_eq!(s.post_raw(Some(&key.secret), SIMPLE).await.0, 200);
    let listed = store.list().await.expect("list");
    assert!(listed.iter().any(|k| k.id == key.info.id && !k.revoked));
    assert!(store.revoke(&key.info.id).await.expect("revoke"));
    s.keys.reload().await.expect("reload");
    assert_eq!(
        s.post_raw(Some(&key.secret), SIMPLE).await,
        (401, unauthorized())
    );
}

pub async fn expired_key_is_401(s: &TestServer) {
    let store = s.key_store();
    let past = Timestamp::from_millis(Timestamp::now().millis() - 1);
    let key = store.create(past, None).await.expect("a key");
    let soon = Timestamp::from_millis(Timestamp::now().millis() + 1500);
    let brief = store.create(soon, None).await.expect("a key");
    s.keys.reload().await.expect("reload");
    assert_eq!(
        s.post_raw(Some(&key.secret), SIMPLE).await,
        (401, unauthorized())
    );
    assert_eq!(s.post_raw(Some(&brief.secret), SIMPLE).await.0, 200);
    tokio::time::sleep(std::time::Duration::from_millis(1600)).await;
    assert_eq!(
        s.post_raw(Some(&brief.secret), SIMPLE).await,
        (401, unauthorized()),
        "expires without a reload"
    );
}

pub async fn malformed_requests_are_400_with_a_reason(s: &TestServer) {
    let cases: [(&str, &str); 9] = [
        ("", "empty"),
        ("   ", "empty"),
        ("{\"query\": ", "JSON"),
        ("query { allTrainers { nextToken } }", "JSON"),
        ("[]", "object"),
        ("{}", "query"),
        ("{\"query\": null}", "query"),
        ("{\"query\": 42}", "query"),
        (
            "{\"query\": \"{ allTrainers { nextToken } }\", \"variables\": [1]}",
            "variables",
        ),
    ];
    for (body, mentions) in cases {
        let (status, resp) = s.post_raw(Some(TEST_API_KEY), body).await;
        assert_eq!(status, 400, "{body:?}: {resp}");
        let e = &resp["errors"][0];
        assert_eq!(e["errorType"], "MalformedHttpRequestException", "{body:?}");
        let message = e["message"].as_str().unwrap_or_default();
        assert!(message.contains(mentions), "{body:?}: {message}");
    }
}

pub async fn body_over_1_mib_is_413_and_under_is_served(s: &TestServer) {
    // Padded with JSON's whitespace: the query and the variables have bounds of their own.
    let pad = |n: usize| {
        let q = r#"{"query": "{ allTrainers { nextToken } }"}"#;
        format!("{q}{}", " ".repeat(n - q.len()))
    };
    let big = pad(1024 * 1024 + 1);
    let (status, body) = s.post_raw(Some(TEST_API_KEY), big).await;
    assert_eq!(status, 413, "{body}");
    assert!(body["errors"][0]["message"]
        .as_str()
        .is_some_and(|m| m.contains("1 MiB")));
    let (status, _) = s.post_raw(Some(TEST_API_KEY), pad(1024 * 1024)).await;
    assert_eq!(status, 200, "exactly 1 MiB is served");
    // The server is unharmed.
    assert_eq!(s.post_raw(Some(TEST_API_KEY), SIMPLE).await.0, 200);
}

pub async fn success_has_no_errors_key(s: &TestServer) {
    let (status, body) = s.post_raw(Some(TEST_API_KEY), SIMPLE).await;
    assert_eq!(status, 200);
    assert!(body.get("errors").is_none(), "{body}");
    assert!(body.get("data").is_some(), "{body}");
}

pub async fn operation_name_selects_the_operation(s: &TestServer) {
    let body = json!({
        "query": "query A { allTrainers { nextToken } } mutation B { createTrainer(firstName: \"N\", lastName: \"M\", age: 20) { firstName } }",
        "operationName": "B",
    });
    let (status, resp) = s.post_json(Some(TEST_API_KEY), &body).await;
    assert_eq!(status, 200);
    assert_eq!(resp, json!({"data": {"createTrainer": {"firstName": "N"}}}));
    let (_, resp) = s
        .post_json(
            Some(TEST_API_KEY),
            &json!({"query": body["query"], "operationName": "C"}),
        )
        .await;
    assert_eq!(GraphqlResponse(resp).error_types(), ["ValidationError"]);
}

/// A query of `depth` nested levels, using introspection's recursive `ofType`.
fn nested(depth: usize) -> String {
    // __schema { types { ofType ... { name } } }: 2 levels plus the chain plus `name`.
    let chain = depth - 3;
    format!(
        "{{ __schema {{ types {{ {}name{} }} }} }}",
        "ofType { ".repeat(chain),
        " }".repeat(chain)
    )
}

pub async fn query_deeper_than_15_is_refused(s: &TestServer) {
    let (_, ok) = s
        .post_json(Some(TEST_API_KEY), &json!({"query": nested(15)}))
        .await;
    assert!(ok.get("errors").is_none(), "depth 15 is allowed: {ok}");
    let (status, deep) = s
        .post_json(Some(TEST_API_KEY), &json!({"query": nested(16)}))
        .await;
    assert_eq!(status, 200);
    let resp = GraphqlResponse(deep);
    resp.expect_error("ValidationError", "deep");
    assert_eq!(resp.data(), &Value::Null);
}

pub async fn more_than_50_top_level_fields_is_refused(s: &TestServer) {
    let fields = |n: usize| {
        (0..n)
            .map(|i| format!("a{i}: allTrainers(limit: 1) {{ nextToken }}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let (_, ok) = s
        .post_json(
            Some(TEST_API_KEY),
            &json!({"query": format!("{{ {} }}", fields(50))}),
        )
        .await;
    assert!(ok.get("errors").is_none(), "50 is allowed: {ok}");
    let (status, over) = s
        .post_json(
            Some(TEST_API_KEY),
            &json!({"query": format!("{{ {} }}", fields(51))}),
        )
        .await;
    assert_eq!(status, 200);
    GraphqlResponse(over).expect_error("ValidationError", "50");
    // Through a fragment, too.
    let q = format!("query {{ ...F }} fragment F on Query {{ {} }}", fields(51));
    let (_, over) = s.post_json(Some(TEST_API_KEY), &json!({"query": q})).await;
    GraphqlResponse(over).expect_error("ValidationError", "50");
}

/// The introspection query GraphiQL and code generators send (graphql-js `getIntrospectionQuery`).
pub const INTROSPECTION_QUERY: &str = r#"
query IntrospectionQuery {
  __schema {
    queryType { name }
    mutationType { name }
    subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) {
    name description
    args { ...InputValue }
    type { ...TypeRef }
    isDeprecated deprecationReason
  }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name
    ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }
}
"#;

pub async fn standard_introspection_query_works(s: &TestServer) {
    let (status, body) = s
        .post_json(
            Some(TEST_API_KEY),
            &json!({"query": INTROSPECTION_QUERY, "operationName": "IntrospectionQuery"}),
        )
        .await;
    assert_eq!(status, 200);
    let resp = GraphqlResponse(body);
    let schema = &resp.ok()["__schema"];
    assert_eq!(schema["queryType"]["name"], "Query");
    assert_eq!(schema["subscriptionType"]["name"], "Subscription");
    let names: Vec<&str> = schema["types"]
        .as_array()
        .map(|ts| ts.iter().filter_map(|t| t["name"].as_str()).collect())
        .unwrap_or_default();
    for want in ["Trainers", "PaginatedTrainers", "Specialty", "AWSDateTime"] {
        assert!(names.contains(&want), "{want} in {names:?}");
    }
}

/// A small deterministic generator, so that a failure reproduces.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Valid requests, mangled: bytes flipped, cut short, values of every JSON type in every
/// variable. Each answer is 200, 400 or 413 with AppSync-shaped errors, never an internal
/// failure; and only requests that answered success changed the store.
pub async fn mangled_requests_get_a_clear_error_and_change_nothing(s: &TestServer) {
    let create = "mutation($f: String!, $l: String!, $a: Int!, $s: Specialty) { createTrainer(firstName: $f, lastName: $l, age: $a, specialty: $s) { id } }";
    let update = "mutation($id: ID!, $a: Int, $v: Int) { updateTrainers(id: $id, age: $a, expectedVersion: $v) { id } }";
    let list = "query($n: Int, $t: String, $s: Specialty) { allTrainers(limit: $n, nextToken: $t, specialty: $s) { items { id } nextToken } }";
    let samples = [
        json!(null),
        json!(true),
        json!(-1),
        json!(16),
        json!(2147483648i64),
        json!(1.5),
        json!(""),
        json!(" "),
        json!("BODYBUILDING"),
        json!("\u{0}"),
        json!("x".repeat(300)),
        json!("0190f2a4-5b6c-7d8e-9f00-112233445566"),
        json!([]),
        json!({"a": 1}),
        json!("🏋️"),
    ];
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut created = 0;
    for round in 0..300 {
        // A valid request, then one variable replaced or left out, half of the time.
        let (query, mut vars) = match round % 3 {
            0 => (
                create,
                json!({"f": "Ann", "l": "Lee", "a": 40, "s": "YOUTHFITNESS"}),
            ),
            1 => (
                update,
                json!({"id": "0190f2a4-5b6c-7d8e-9f00-112233445566", "a": 40, "v": 1}),
            ),
            _ => (list, json!({"n": 5, "t": null, "s": null})),
        };
        if let Some(map) = vars.as_object_mut() {
            let names: Vec<String> = map.keys().cloned().collect();
            let name = names[rng.below(names.len())].clone();
            match rng.below(4) {
                0 => {
                    map.remove(&name);
                }
                1 | 2 => {
                    map.insert(name, samples[rng.below(samples.len())].clone());
                }
                _ => {}
            }
        }
        let mut body = json!({ "query": query, "variables": vars })
            .to_string()
            .into_bytes();
        match rng.below(4) {
            0 => {
                let at = rng.below(body.len());
                body[at] = (rng.next() & 0x7f) as u8;
            }
            1 => body.truncate(rng.below(body.len())),
            _ => {}
        }
        let (status, resp) = s.post_raw(Some(TEST_API_KEY), body.clone()).await;
        let shown = String::from_utf8_lossy(&body).into_owned();
        assert!([200, 400].contains(&status), "{status} for {shown}: {resp}");
        let errors = resp["errors"].as_array().cloned().unwrap_or_default();
        for e in &errors {
            let t = e["errorType"].as_str().unwrap_or_default();
            assert!(
                [
                    "ValidationError",
                    "NotFound",
                    "ConflictError",
                    "MalformedHttpRequestException"
                ]
                .contains(&t),
                "errorType {t:?} for {shown}: {resp}"
            );
            assert!(
                e["message"].as_str().is_some_and(|m| !m.is_empty()),
                "{resp}"
            );
        }
        if status == 200 && errors.is_empty() && resp["data"]["createTrainer"]["id"].is_string() {
            created += 1;
        }
    }
    let (_, all) = s
        .post_json(
            Some(TEST_API_KEY),
            &json!({"query": "{ allTrainers(limit: 100) { items { id } } }"}),
        )
        .await;
    let stored = all["data"]["allTrainers"]["items"]
        .as_array()
        .map_or(0, Vec::len);
    assert!(created > 0, "some mangled creates were still valid");
    assert_eq!(
        stored, created,
        "only the creates that answered success were stored"
    );
}
