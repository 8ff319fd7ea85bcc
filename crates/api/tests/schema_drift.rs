//! `graphql/schema.graphql` (what AppSync deploys) and the schema `trainers serve` serves must
//! not drift apart (types, fields, arguments, input fields, enum values). AppSync's directives
//! and scalars it declares itself are set aside.

use std::collections::BTreeSet;

use async_graphql::parser::parse_schema;
use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};

/// Every type, field, argument and enum value as one line each, order aside.
fn outline(sdl: &str) -> BTreeSet<String> {
    let doc = parse_schema(sdl).unwrap_or_else(|e| panic!("schema does not parse: {e}"));
    let mut lines = BTreeSet::new();
    for def in doc.definitions {
        match def {
            TypeSystemDefinition::Schema(s) => {
                let s = s.node;
                let name = |n: Option<async_graphql::Positioned<async_graphql::Name>>| {
                    n.map(|n| n.node.to_string()).unwrap_or_default()
                };
                lines.insert(format!(
                    "schema query={} mutation={} subscription={}",
                    name(s.query),
                    name(s.mutation),
                    name(s.subscription)
                ));
            }
            TypeSystemDefinition::Type(t) => {
                let t = t.node;
                let ty = t.name.node.to_string();
                match t.kind {
                    TypeKind::Scalar => {
                        // AppSync declares AWSDateTime itself; the local server must declare it.
                        if ty != "AWSDateTime" {
                            lines.insert(format!("scalar {ty}"));
                        }
                    }
                    TypeKind::Object(o) => {
                        lines.insert(format!("type {ty}"));
                        for f in o.fields {
                            let f = f.node;
                            let args: Vec<String> = f
                                .arguments
                                .iter()
                                .map(|a| format!("{}: {}", a.node.name.node, a.node.ty.node))
                                .collect();
                            lines.insert(format!(
                                "field {ty}.{}({}): {}",
                                f.name.node,
                                args.join(", "),
                                f.ty.node
                            ));
                        }
                    }
                    TypeKind::Enum(e) => {
                        for v in e.values {
                            lines.insert(format!("enum {ty}.{}", v.node.value.node));
                        }
                    }
                    TypeKind::InputObject(i) => {
                        for f in i.fields {
                            let f = f.node;
                            lines.insert(format!("input {ty}.{}: {}", f.name.node, f.ty.node));
                        }
                    }
                    other => {
                        lines.insert(format!("unexpected {ty}: {other:?}"));
                    }
                }
            }
            TypeSystemDefinition::Directive(_) => {}
        }
    }
    lines
}

#[test]
fn served_schema_matches_the_appsync_schema_file() {
    let file = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../graphql/schema.graphql"
    ))
    .expect("graphql/schema.graphql is readable");
    let served = trainers_api::sdl();
    let (want, got) = (outline(&file), outline(&served));
    let missing: Vec<_> = want.difference(&got).collect();
    let extra: Vec<_> = got.difference(&want).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "schema drift.\nin the file, not served: {missing:#?}\nserved, not in the file: {extra:#?}"
    );
    assert!(
        served.contains("scalar AWSDateTime"),
        "the local schema declares AWSDateTime"
    );
}
