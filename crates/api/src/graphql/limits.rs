//! What one request may ask, checked right after parsing and before any other work, in time
//! linear in the query's text: each fragment is measured once and its measure reused wherever it
//! is spread, so a fragment that spreads another twice, thirty levels deep, costs what its 1 KB
//! of text costs (walking its spreads instead would visit 2^30 fields).
//!
//! The bounds, each refused with a `ValidationError` that names it:
//! - [`MAX_QUERY_BYTES`] of query text, checked before parsing;
//! - [`MAX_DEPTH`] levels of fields;
//! - [`MAX_TOP_LEVEL_FIELDS`] top-level fields in one operation (aliases count);
//! - [`MAX_COST`]: the fields the result can hold, every field of the document counted as often
//!   as fragments expand it, and a field's subtree counted `limit` times when it takes a `limit`
//!   (a page of trainers): so 60,000 aliases under one page are refused, not answered with 126 MB;
//! - [`MAX_DIRECTIVES`] directives, counted the same way;
//! - directives other than `@skip` and `@include`, arguments on `__typename`, and variables no
//!   operation defines (async-graphql does not check these on `__typename`).
//!
//! Also here: the label of a request for its log line.

use std::collections::{HashMap, HashSet};

use async_graphql::parser::types::{Directive, ExecutableDocument, Field, Selection, SelectionSet};
use async_graphql::{Name, Positioned, ServerError, Variables};
use async_graphql_value::{ConstValue, Value};

use crate::metrics::{Operation, RootField};

/// The longest query text parsed: parsing costs about 35 bytes of memory per byte of text, so a
/// query of 1 MiB (the body limit) would take 35 MB and a quarter of a second of CPU before any
/// bound could be checked. The standard introspection query is 1.5 KB.
pub const MAX_QUERY_BYTES: usize = 64 * 1024;
/// Levels of nested fields; the standard introspection query needs 13.
pub const MAX_DEPTH: usize = 15;
/// Top-level fields in one operation, aliases counted.
pub const MAX_TOP_LEVEL_FIELDS: u64 = 50;
/// Fields a result may hold (see the module's documentation). A full page of 100 trainers with
/// every field costs 1,001; the standard introspection query about 200.
pub const MAX_COST: u64 = 5_000;
/// Directives, as fragments expand them.
pub const MAX_DIRECTIVES: u64 = 50;
/// The page size assumed for a `limit` that is left out (the API's default).
const DEFAULT_LIMIT: u64 = 20;
/// The largest page size (a larger `limit` is refused by the resolver; it counts as this).
const MAX_LIMIT: u64 = 100;

/// What a selection set expands to.
#[derive(Clone, Copy, Debug, Default)]
struct Tally {
    /// Fields, each counted as often as it will be resolved.
    cost: u64,
    /// Fields at this level (through fragments).
    fields: u64,
    /// Levels of fields below and at this level.
    depth: usize,
    directives: u64,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.cost = self.cost.saturating_add(other.cost);
        self.fields = self.fields.saturating_add(other.fields);
        self.depth = self.depth.max(other.depth);
        self.directives = self.directives.saturating_add(other.directives);
    }
}

/// Refuses a query text too long to parse (see [`MAX_QUERY_BYTES`]).
pub fn check_length(query: &str) -> Result<(), ServerError> {
    if query.len() > MAX_QUERY_BYTES {
        return Err(ServerError::new(
            format!(
                "The query is {} bytes long; the limit is {} KiB (send large inputs as variables)",
                query.len(),
                MAX_QUERY_BYTES / 1024
            ),
            None,
        ));
    }
    Ok(())
}

/// Checks `doc` against every bound, with the request's `variables` (a `limit: $n` counts as
/// `$n`). Linear in the document's size.
pub fn check(doc: &ExecutableDocument, variables: &Variables) -> Result<(), ServerError> {
    let mut walk = Walk {
        doc,
        variables,
        fragments: HashMap::new(),
        defined: doc
            .operations
            .iter()
            .flat_map(|(_, op)| op.node.variable_definitions.iter())
            .map(|d| d.node.name.node.as_str())
            .collect(),
    };
    for (_, op) in doc.operations.iter() {
        let set = &op.node.selection_set;
        let tally = walk.selection_set(&set.node)?;
        let refuse = |message: String| Err(ServerError::new(message, Some(op.pos)));
        if tally.depth > MAX_DEPTH {
            return refuse("Query is nested too deep.".into());
        }
        if tally.fields > MAX_TOP_LEVEL_FIELDS {
            return refuse(format!(
                "An operation may select at most {MAX_TOP_LEVEL_FIELDS} top-level fields (aliases count), this one selects {}",
                tally.fields
            ));
        }
        if tally.cost > MAX_COST {
            return refuse(format!(
                "The query may return at most {MAX_COST} fields (each field counted as often as fragments repeat it, times the `limit` of the page it is in); this one could return {}",
                tally.cost
            ));
        }
        if tally.directives > MAX_DIRECTIVES {
            return refuse(format!(
                "A query may use at most {MAX_DIRECTIVES} directives (counted as fragments repeat them); this one uses {}",
                tally.directives
            ));
        }
    }
    Ok(())
}

struct Walk<'a> {
    doc: &'a ExecutableDocument,
    variables: &'a Variables,
    /// Fragments measured (`Some`), or being measured (`None`: a spread of it now is a cycle).
    fragments: HashMap<&'a str, Option<Tally>>,
    /// Variables some operation defines.
    defined: HashSet<&'a str>,
}

impl<'a> Walk<'a> {
    fn selection_set(&mut self, set: &'a SelectionSet) -> Result<Tally, ServerError> {
        let mut tally = Tally::default();
        for item in &set.items {
            let directives = self.directives(item.node.directives())?;
            let mut part = match &item.node {
                Selection::Field(field) => self.field(field)?,
                Selection::InlineFragment(f) => self.selection_set(&f.node.selection_set.node)?,
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    match self.fragments.get(name) {
                        Some(Some(measured)) => *measured,
                        Some(None) => {
                            return Err(ServerError::new(
                                format!("Cannot spread fragment \"{name}\" within itself"),
                                Some(spread.pos),
                            ))
                        }
                        None => match self.doc.fragments.get(name) {
                            // Refused here, not left to validation: async-graphql's validation
                            // walks every spread before it reports the unknown fragment, so a
                            // bomb built on one would cost 2^levels (found by fuzzing).
                            None => {
                                return Err(ServerError::new(
                                    format!("Unknown fragment: \"{name}\""),
                                    Some(spread.pos),
                                ))
                            }
                            Some(fragment) => {
                                self.fragments.insert(name, None);
                                let measured =
                                    self.selection_set(&fragment.node.selection_set.node)?;
                                let fragment_directives =
                                    self.directives(&fragment.node.directives)?;
                                let measured = Tally {
                                    directives: measured
                                        .directives
                                        .saturating_add(fragment_directives),
                                    ..measured
                                };
                                self.fragments.insert(name, Some(measured));
                                measured
                            }
                        },
                    }
                }
            };
            part.directives = part.directives.saturating_add(directives);
            tally.add(part);
        }
        Ok(tally)
    }

    fn field(&mut self, field: &'a Positioned<Field>) -> Result<Tally, ServerError> {
        let node = &field.node;
        if node.name.node == "__typename" {
            if let Some((name, _)) = node.arguments.first() {
                return Err(ServerError::new(
                    format!("Unknown argument \"{}\" on field \"__typename\"", name.node),
                    Some(name.pos),
                ));
            }
        }
        for (_, value) in &node.arguments {
            self.variables_defined(&value.node, value.pos)?;
        }
        let children = self.selection_set(&node.selection_set.node)?;
        let pages = self.page_size(node);
        Ok(Tally {
            cost: children.cost.saturating_mul(pages).saturating_add(1),
            fields: 1,
            depth: children.depth + 1,
            directives: children.directives.saturating_mul(pages),
        })
    }

    /// How many times a field's subtree is resolved: its `limit`, for a page (the default
    /// page size when a page's `limit` is left out).
    fn page_size(&self, field: &Field) -> u64 {
        let Some((_, limit)) = field.arguments.iter().find(|(n, _)| n.node == "limit") else {
            return if RootField::from_name(field.name.node.as_str()).is_some_and(RootField::is_page)
            {
                DEFAULT_LIMIT
            } else {
                1
            };
        };
        let given = match &limit.node {
            Value::Number(n) => n.as_u64(),
            Value::Variable(name) => match self.variables.get(name) {
                Some(ConstValue::Number(n)) => n.as_u64(),
                Some(_) => None,
                None => Some(DEFAULT_LIMIT),
            },
            _ => None,
        };
        given.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT)
    }

    /// Counts directives, refusing any that the schema does not have.
    fn directives(&mut self, directives: &'a [Positioned<Directive>]) -> Result<u64, ServerError> {
        for directive in directives {
            let name = directive.node.name.node.as_str();
            if name != "skip" && name != "include" {
                return Err(ServerError::new(
                    format!("Unknown directive \"@{name}\""),
                    Some(directive.pos),
                ));
            }
            for (_, value) in &directive.node.arguments {
                self.variables_defined(&value.node, value.pos)?;
            }
        }
        Ok(directives.len() as u64)
    }

    fn variables_defined(&self, value: &Value, pos: async_graphql::Pos) -> Result<(), ServerError> {
        let undefined = |name: &Name| {
            ServerError::new(format!("Variable \"${name}\" is not defined"), Some(pos))
        };
        match value {
            Value::Variable(name) if !self.defined.contains(name.as_str()) => Err(undefined(name)),
            Value::List(items) => items
                .iter()
                .try_for_each(|v| self.variables_defined(v, pos)),
            Value::Object(fields) => fields
                .values()
                .try_for_each(|v| self.variables_defined(v, pos)),
            _ => Ok(()),
        }
    }
}

/// A document's first root field, as metrics count it.
pub fn operation(doc: &ExecutableDocument) -> Operation {
    let first = doc.operations.iter().next().and_then(|(_, op)| {
        op.node
            .selection_set
            .node
            .items
            .iter()
            .find_map(|i| match &i.node {
                Selection::Field(f) => Some(f.node.name.node.as_str()),
                _ => None,
            })
    });
    first
        .and_then(RootField::from_name)
        .map_or(Operation::Other, Operation::Field)
}

/// What a document asks, for the log: its operations and their first root fields.
pub fn describe(doc: &ExecutableDocument) -> String {
    let mut parts = Vec::new();
    for (name, op) in doc.operations.iter() {
        let fields: Vec<&str> = op
            .node
            .selection_set
            .node
            .items
            .iter()
            .filter_map(|i| match &i.node {
                Selection::Field(f) => Some(f.node.name.node.as_str()),
                _ => None,
            })
            .take(3)
            .collect();
        let ty = op.node.ty.to_string();
        match name {
            Some(name) => parts.push(format!("{ty} {name} ({})", fields.join(","))),
            None => parts.push(format!("{ty} {}", fields.join(","))),
        }
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checked(query: &str, variables: serde_json::Value) -> Result<(), String> {
        let doc = async_graphql::parser::parse_query(query).map_err(|e| e.to_string())?;
        check(&doc, &Variables::from_json(variables)).map_err(|e| e.message)
    }

    /// Each fragment spreads the one before twice: `levels` levels expand to 2^levels fields.
    fn bomb(levels: usize) -> String {
        let mut query = String::from(
            "query { getTrainer(id: \"x\") { ...F0 } }\nfragment F0 on Trainers { id }\n",
        );
        for n in 1..=levels {
            query.push_str(&format!(
                "fragment F{n} on Trainers {{ ...F{} ...F{} }}\n",
                n - 1,
                n - 1
            ));
        }
        query.replace("...F0 } }", &format!("...F{levels} }} }}"))
    }

    #[test]
    fn a_fragment_bomb_is_refused_at_once() {
        let started = std::time::Instant::now();
        let refused = checked(&bomb(60), serde_json::json!({})).expect_err("refused");
        assert!(refused.contains("at most 5000 fields"), "{refused}");
        assert!(started.elapsed() < std::time::Duration::from_millis(100));
        checked(&bomb(10), serde_json::json!({})).expect("2^10 fields fit");
    }

    #[test]
    fn pages_multiply_what_they_hold() {
        let page = |limit: &str, fields: usize| {
            let fields = (0..fields)
                .map(|n| format!("a{n}: id"))
                .collect::<Vec<_>>()
                .join(" ");
            format!("query($n: Int) {{ allTrainers(limit: {limit}) {{ items {{ {fields} }} }} }}")
        };
        checked(&page("100", 40), serde_json::json!({})).expect("4,000 fields");
        checked(&page("100", 60), serde_json::json!({})).expect_err("6,000 fields");
        checked(&page("$n", 60), serde_json::json!({"n": 10})).expect("600 fields");
        checked(&page("$n", 60), serde_json::json!({"n": 100})).expect_err("6,000 fields");
        // A limit over 100 is refused by the resolver: it counts as 100.
        checked(&page("100000", 40), serde_json::json!({})).expect("counts as 100");
        // Without a limit, a page holds the default 20.
        let unlimited = |field: &str, fields: usize| {
            let fields = (0..fields)
                .map(|n| format!("a{n}: id"))
                .collect::<Vec<_>>()
                .join(" ");
            format!("{{ {field} {{ items {{ {fields} }} }} }}")
        };
        checked(&unlimited("allTrainers", 240), serde_json::json!({})).expect("4,800 fields");
        checked(&unlimited("allTrainers", 260), serde_json::json!({})).expect_err("5,200 fields");
        let by_specialty = "trainersBySpecialty(specialty: YOUTHFITNESS)";
        checked(&unlimited(by_specialty, 260), serde_json::json!({})).expect_err("5,200 fields");
    }

    #[test]
    fn depth_top_level_fields_and_directives_are_bounded() {
        let deep = format!("{{ {}a{} }}", "a { ".repeat(15), " }".repeat(15));
        assert_eq!(
            checked(&deep, serde_json::json!({})).unwrap_err(),
            "Query is nested too deep."
        );
        let wide = format!(
            "{{ {} }}",
            (0..51)
                .map(|n| format!("a{n}: __typename"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        assert!(checked(&wide, serde_json::json!({}))
            .unwrap_err()
            .contains("selects 51"));
        let skips = format!("{{ __typename {} }}", "@skip(if: false) ".repeat(51));
        assert!(checked(&skips, serde_json::json!({}))
            .unwrap_err()
            .contains("at most 50 directives"));
    }

    #[test]
    fn typename_is_checked_like_any_field() {
        let refused = |q: &str| checked(q, serde_json::json!({})).unwrap_err();
        assert_eq!(
            refused("{ __typename(arg: 1) }"),
            "Unknown argument \"arg\" on field \"__typename\""
        );
        assert_eq!(
            refused("{ __typename @nope }"),
            "Unknown directive \"@nope\""
        );
        assert_eq!(
            refused("{ __typename @include(if: $undefined) }"),
            "Variable \"$undefined\" is not defined"
        );
        checked(
            "query($x: Boolean!) { __typename @include(if: $x) }",
            serde_json::json!({"x": true}),
        )
        .expect("a defined variable");
    }

    #[test]
    fn a_bomb_built_on_an_unknown_fragment_is_refused_at_once() {
        let mut query = String::from("query { getTrainer(id: \"x\") { ...F40 } }\n");
        query.push_str("fragment F0 on Trainers { ...Missing ...Missing }\n");
        for n in 1..=40 {
            query.push_str(&format!(
                "fragment F{n} on Trainers {{ ...F{} ...F{} }}\n",
                n - 1,
                n - 1
            ));
        }
        let refused = checked(&query, serde_json::json!({})).expect_err("refused");
        assert_eq!(refused, "Unknown fragment: \"Missing\"");
    }

    #[test]
    fn a_fragment_cycle_is_refused_not_followed() {
        let cycle = "{ getTrainer(id: \"x\") { ...A } } fragment A on Trainers { ...B } fragment B on Trainers { ...A }";
        assert!(checked(cycle, serde_json::json!({}))
            .unwrap_err()
            .contains("within itself"));
    }
}
