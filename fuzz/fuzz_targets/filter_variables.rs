//! Filters given as variables, as a client sends them: the input (JSON, or else a JSON string of
//! its bytes) is parsed by the core's filter model as each kind of filter (a list's `filter`, a
//! mutation's `condition`, a subscription's `filter`), then sent through the real router as the
//! `$f` of `countTrainers` and of `allTrainers`.
//!
//! A finding is a panic; an input over 1 s (`-timeout=1`: parsing is linear in the input, and
//! the store has a handful of rows); a filter the model accepts past its bounds (more than
//! `MAX_CONDITIONS` conditions, or more nodes than `MAX_PARTS`: each node of the parsed filter
//! stands for at least one part of the input); or an answer outside the contract (see
//! `common::post_and_check`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};
use trainers_core::filter::{MAX_CONDITIONS, MAX_PARTS};
use trainers_core::{Field, Filter, FilterKind, Scalar};

#[path = "common/mod.rs"]
mod common;

const QUERIES: [&str; 2] = [
    "query($f: ModelTrainersFilterInput) { countTrainers(filter: $f) }",
    "query($f: ModelTrainersFilterInput) { allTrainers(filter: $f, limit: 3) { items { id } nextToken } }",
];

fuzz_target!(|data: &[u8]| {
    let value: Value = serde_json::from_slice(data)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(data).into_owned()));
    for kind in [FilterKind::List, FilterKind::Condition, FilterKind::Subscription] {
        if let Ok(Some(filter)) = Filter::parse(kind, &value) {
            let (conditions, nodes) = size(&filter);
            assert!(conditions <= MAX_CONDITIONS, "{conditions} conditions: {value}");
            assert!(nodes <= MAX_PARTS, "{nodes} nodes: {value}");
            for record in [ada, nobody] {
                let _ = filter.matches_with(&record);
            }
        }
    }
    for query in QUERIES {
        let body = json!({"query": query, "variables": {"f": value}});
        common::post_and_check(body.to_string().as_bytes());
    }
});

/// Conditions and nodes of a parsed filter.
fn size(filter: &Filter) -> (usize, usize) {
    match filter {
        Filter::Cond(..) => (1, 1),
        Filter::Not(inner) => {
            let (c, n) = size(inner);
            (c, n + 1)
        }
        Filter::And(parts) | Filter::Or(parts) => parts
            .iter()
            .map(size)
            .fold((0, 1), |(c, n), (pc, pn)| (c + pc, n + pn)),
    }
}

fn ada(field: Field) -> Option<Scalar> {
    Some(match field {
        Field::Id => Scalar::Str("8f0c".into()),
        Field::FirstName => Scalar::Str("Ada".into()),
        Field::LastName => Scalar::Str("Lovelace".into()),
        Field::Age => Scalar::Int(36),
        Field::Specialty => Scalar::Str("YOUTHFITNESS".into()),
    })
}

fn nobody(_: Field) -> Option<Scalar> {
    None
}
