//! The fast path of planned reads (`crates/api/src/graphql/plan.rs`) answers byte for byte as
//! the general path (the schema, with its validation and resolvers):
//!
//! - every case of the GraphQL suite runs on a target that sends each request through both
//!   paths and compares the bytes of the two responses whenever the fast path answers;
//! - random reads (random fields, aliases and `__typename`, random arguments as literals or
//!   variables, good and bad values) are compared the same way, and most of them must be
//!   answered by the fast path, or the comparison would prove little.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use proptest::prelude::*;
use serde_json::{json, Value};
use trainers_api::events::Events;
use trainers_api::graphql::error::{response_bytes, response_json};
use trainers_api::graphql::Engine;
use trainers_conformance::server::embedded_store;
use trainers_conformance::{graphql_suite, GraphqlResponse, Target};
use trainers_core::TrainerService;

/// The API in this process, each request answered by both paths.
struct BothPaths {
    engine: Engine,
    /// Requests the fast path answered (and that matched).
    planned: AtomicUsize,
    _dir: tempfile::TempDir,
}

fn request(query: &str, variables: &Value) -> async_graphql::Request {
    async_graphql::Request::new(query)
        .variables(async_graphql::Variables::from_json(variables.clone()))
}

impl BothPaths {
    fn new() -> Self {
        let (store, dir) = embedded_store();
        let service = TrainerService::new(store);
        BothPaths {
            engine: Engine::new(service, Events::local(), false),
            planned: AtomicUsize::new(0),
            _dir: dir,
        }
    }

    /// Both paths' answers to one request: the general one, and whether the fast path answered
    /// (after asserting the bytes are the same).
    async fn compare(&self, query: &str, variables: &Value) -> (Value, bool) {
        let ready = match self.engine.prepare(request(query, variables)) {
            Ok(ready) => ready,
            // Refused by the parse step: neither path runs.
            Err(refused) => return (response_json(&refused), false),
        };
        // The fast path first: it only reads, so the general path sees the same store.
        let planned = match self.engine.prepare(request(query, variables)) {
            Ok(again) => self.engine.execute_planned(&again).await,
            Err(_) => None,
        };
        let general = self.engine.execute(ready).await;
        let general_bytes = response_bytes(&general);
        let general = response_json(&general);
        let Some(planned) = planned else {
            return (general, false);
        };
        assert_eq!(
            String::from_utf8_lossy(&general_bytes),
            String::from_utf8_lossy(&planned),
            "the fast path answers otherwise than the general path\nquery: {query}\nvariables: {variables}"
        );
        self.planned.fetch_add(1, Ordering::Relaxed);
        (general, true)
    }
}

#[async_trait]
impl Target for BothPaths {
    async fn graphql(&self, query: &str, variables: Value) -> GraphqlResponse {
        GraphqlResponse(self.compare(query, &variables).await.0)
    }
}

async fn both_paths() -> BothPaths {
    BothPaths::new()
}

mod suite {
    super::graphql_suite!(super::both_paths);
}

const FIELDS: &[&str] = &[
    "id",
    "firstName",
    "lastName",
    "age",
    "specialty",
    "createdAt",
    "updatedAt",
    "version",
    "owner",
    "__typename",
];
const SPECIALTIES: &[&str] = &[
    "BODYBUILDING",
    "YOUTHFITNESS",
    "SENIORFITNESS",
    "CORRECTIVEEXERCISE",
];

/// A selection of trainer fields: a non-empty subset, in any order, some aliased.
fn selection() -> impl Strategy<Value = String> {
    (
        prop::sample::subsequence(FIELDS, 1..=FIELDS.len()).prop_shuffle(),
        prop::collection::vec(any::<bool>(), FIELDS.len()),
    )
        .prop_map(|(fields, aliased)| {
            fields
                .iter()
                .zip(aliased)
                .enumerate()
                .map(|(i, (f, a))| {
                    if a {
                        format!("a{i}: {f}")
                    } else {
                        f.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
}

/// One argument: left out, a literal, or a variable (declared `ty`); `values` are the
/// literals and JSON values it may take.
#[derive(Clone, Debug)]
enum Given {
    Out,
    Literal(String),
    Variable(Value),
}

fn given(literals: Vec<String>, json: Vec<Value>) -> impl Strategy<Value = Given> {
    prop_oneof![
        Just(Given::Out),
        prop::sample::select(literals).prop_map(Given::Literal),
        prop::sample::select(json).prop_map(Given::Variable),
    ]
}

/// A query with its variables: one or two reads, each with a random selection.
fn read(ids: Vec<String>, token: String) -> impl Strategy<Value = (String, Value)> {
    let mut id_values: Vec<Value> = ids.iter().map(|i| json!(i)).collect();
    id_values.extend([json!("not-an-id"), json!(""), json!(7), Value::Null]);
    let id_literals: Vec<String> = ids
        .iter()
        .map(|i| format!("{i:?}"))
        .chain(["\"nope\"".to_string()])
        .collect();
    let limits_json = vec![
        json!(1),
        json!(3),
        json!(20),
        json!(0),
        json!(101),
        Value::Null,
        json!("2"),
        json!(2.5),
    ];
    let limits: Vec<String> = ["1", "2", "5", "0", "100", "101", "null"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let tokens_json = vec![
        json!(token.clone()),
        json!("garbage"),
        Value::Null,
        json!(3),
    ];
    let tokens = vec![format!("{token:?}"), "\"garbage\"".into(), "null".into()];
    let specs_json: Vec<Value> = SPECIALTIES
        .iter()
        .map(|s| json!(s))
        .chain([json!("YOGA"), Value::Null])
        .collect();
    let specs: Vec<String> = SPECIALTIES
        .iter()
        .map(|s| s.to_string())
        .chain(["null".into()])
        .collect();
    let root = (
        0..3usize,
        given(id_literals, id_values),
        given(limits, limits_json),
        given(tokens, tokens_json),
        given(specs, specs_json),
        given(
            vec!["ASC".into(), "DESC".into()],
            vec![json!("ASC"), json!("DESC"), json!("UP")],
        ),
        selection(),
        any::<bool>(),
    );
    prop::collection::vec(root, 1..=2).prop_map(|roots| {
        let mut defs = Vec::new();
        let mut vars = serde_json::Map::new();
        let mut body = Vec::new();
        for (n, (kind, id, limit, token, spec, dir, fields, page_typename)) in
            roots.into_iter().enumerate()
        {
            let mut args = Vec::new();
            let mut arg = |name: &str, ty: &str, g: &Given| match g {
                Given::Out => {}
                Given::Literal(l) => args.push(format!("{name}: {l}")),
                Given::Variable(v) => {
                    let var = format!("{name}{n}");
                    defs.push(format!("${var}: {ty}"));
                    vars.insert(var.clone(), v.clone());
                    args.push(format!("{name}: ${var}"));
                }
            };
            let items = if page_typename {
                format!("items {{ {fields} }} nextToken __typename")
            } else {
                format!("nextToken items {{ {fields} }}")
            };
            let field = match kind {
                0 => {
                    let id = match id {
                        Given::Out => Given::Literal("\"nope\"".into()),
                        g => g,
                    };
                    arg("id", "ID!", &id);
                    format!("r{n}: getTrainer({}) {{ {fields} }}", args.join(", "))
                }
                1 => {
                    arg("limit", "Int", &limit);
                    arg("nextToken", "String", &token);
                    arg("specialty", "Specialty", &spec);
                    let args = if args.is_empty() {
                        String::new()
                    } else {
                        format!("({})", args.join(", "))
                    };
                    format!("r{n}: allTrainers{args} {{ {items} }}")
                }
                _ => {
                    let spec = match spec {
                        Given::Out | Given::Literal(_) => Given::Literal("BODYBUILDING".into()),
                        g => g,
                    };
                    arg("specialty", "Specialty!", &spec);
                    arg("sortDirection", "ModelSortDirection", &dir);
                    arg("limit", "Int", &limit);
                    format!(
                        "r{n}: trainersBySpecialty({}) {{ {items} }}",
                        args.join(", ")
                    )
                }
            };
            body.push(field);
        }
        let defs = if defs.is_empty() {
            String::new()
        } else {
            format!("({})", defs.join(", "))
        };
        (
            format!("query{defs} {{ {} }}", body.join(" ")),
            Value::Object(vars),
        )
    })
}

/// 300 random reads over 30 trainers: the two paths answer the same bytes, and the fast path
/// answers most of them.
#[test]
fn random_reads_answer_the_same_bytes_on_both_paths() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let both = Arc::new(BothPaths::new());
    let (ids, token) = rt.block_on(async {
        let mut ids = Vec::new();
        for i in 0..30 {
            let specialty = SPECIALTIES.get(i % 5).map_or("null".to_string(), |s| s.to_string());
            let made = both
                .graphql(
                    &format!("mutation {{ createTrainer(firstName: \"F{i}\", lastName: \"L{}\", age: {}, specialty: {specialty}) {{ id }} }}", 30 - i, 20 + i),
                    json!({}),
                )
                .await;
            ids.push(made.ok()["createTrainer"]["id"].as_str().expect("an id").to_string());
        }
        let page = both.graphql("{ allTrainers(limit: 4) { nextToken } }", json!({})).await;
        let token = page.ok()["allTrainers"]["nextToken"].as_str().expect("a token").to_string();
        (ids[..5].to_vec(), token)
    });
    let before = both.planned.load(Ordering::Relaxed);
    let mut runner = proptest::test_runner::TestRunner::new(proptest::test_runner::Config {
        cases: 300,
        failure_persistence: None,
        ..proptest::test_runner::Config::default()
    });
    let runs = AtomicUsize::new(0);
    runner
        .run(&read(ids, token), |(query, variables)| {
            runs.fetch_add(1, Ordering::Relaxed);
            rt.block_on(both.compare(&query, &variables));
            Ok(())
        })
        .expect("the paths agree");
    let planned = both.planned.load(Ordering::Relaxed) - before;
    let runs = runs.load(Ordering::Relaxed);
    assert!(
        planned * 2 > runs,
        "the fast path answered {planned} of {runs} random reads: too few for the comparison to mean much"
    );
}

/// The reads real clients send are planned: the benchmark's, Amplify's (`__typename`, an
/// operation name), a page walk.
#[tokio::test]
async fn the_reads_clients_send_take_the_fast_path() {
    let both = BothPaths::new();
    let made = both
        .graphql(
            "mutation { createTrainer(firstName: \"Ann\", lastName: \"Lee\", age: 40, specialty: BODYBUILDING) { id } }",
            json!({}),
        )
        .await;
    let id = made.ok()["createTrainer"]["id"].clone();
    for (query, variables) in [
        (
            "query($id: ID!) { getTrainer(id: $id) { id firstName lastName age specialty version } }",
            json!({ "id": id }),
        ),
        (
            "query GetTrainer($id: ID!) { getTrainer(id: $id) { __typename id firstName createdAt updatedAt owner } }",
            json!({ "id": id }),
        ),
        (
            "query($t: String) { allTrainers(limit: 20, nextToken: $t) { items { id firstName lastName age specialty version } nextToken } }",
            json!({}),
        ),
        (
            "{ trainersBySpecialty(specialty: BODYBUILDING, sortDirection: DESC) { items { lastName } nextToken } }",
            json!({}),
        ),
    ] {
        let (answer, planned) = both.compare(query, &variables).await;
        assert!(planned, "not planned: {query}: {answer}");
        assert!(answer.get("errors").is_none(), "{answer}");
    }
}
