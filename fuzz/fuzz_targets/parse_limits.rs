//! The step every request takes first: parse the query, then check it against the limits of
//! `trainers_api::graphql::limits` (depth, top-level fields, cost, directives), and label it for the log.
//! The check is meant to be linear in the query's text, so run this with `-timeout=1`: an input
//! that takes longer is a finding, as is any panic.
//!
//! And what the check promises: a document it accepts is cheap for the work after it. So each
//! accepted document is expanded as async-graphql's validation expands it (its depth and
//! complexity visitors walk every fragment spread inline, known or not), counting the nodes
//! visited; more than the check's bounds allow is a finding (a fragment bomb the check let
//! through). See `expansion_bound` for the bound.

#![no_main]

use std::collections::HashSet;

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::Variables;
use libfuzzer_sys::fuzz_target;
use trainers_api::graphql::limits::MAX_COST;

fuzz_target!(|data: &[u8]| {
    let query = String::from_utf8_lossy(data);
    let Ok(doc) = async_graphql::parser::parse_query(&*query) else {
        return;
    };
    let accepted = trainers_api::graphql::limits::check(&doc, &Variables::default()).is_ok();
    let _ = trainers_api::graphql::limits::describe(&doc);
    if accepted {
        let bound = expansion_bound(&doc);
        for (name, op) in doc.operations.iter() {
            let mut walk = Expansion {
                doc: &doc,
                visits: 0,
                budget: bound,
                spreading: HashSet::new(),
            };
            assert!(
                walk.selection_set(&op.node.selection_set.node),
                "limits::check accepted operation {name:?}, whose fragments expand to more than \
                 {bound} nodes (async-graphql's validation visits each of them)"
            );
        }
    }
});

/// The most nodes (fields, fragment spreads, inline fragments) an operation the check accepts
/// can expand to. Its fields, counted as often as fragments repeat them, are at most `MAX_COST`
/// (the check counts each once, or more for pages). Each other node leads to at least one field
/// without passing another field (if every spread it meets is to a fragment that exists), along
/// a chain of distinct fragments (no cycles) and inline fragments; so at most
/// `fragments + inline fragments` other nodes per field.
fn expansion_bound(doc: &ExecutableDocument) -> u64 {
    let mut inline = 0u64;
    let sets = doc
        .operations
        .iter()
        .map(|(_, op)| &op.node.selection_set.node)
        .chain(doc.fragments.values().map(|f| &f.node.selection_set.node));
    for set in sets {
        inline += count_inline(set);
    }
    (MAX_COST + 1) * (1 + doc.fragments.len() as u64 + inline)
}

fn count_inline(set: &SelectionSet) -> u64 {
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(f) => count_inline(&f.node.selection_set.node),
            Selection::InlineFragment(f) => 1 + count_inline(&f.node.selection_set.node),
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}

/// A walk that expands spreads inline, as async-graphql's visitors in inline mode do, and stops
/// once it has visited `budget` nodes.
struct Expansion<'a> {
    doc: &'a ExecutableDocument,
    visits: u64,
    budget: u64,
    /// The fragments being expanded (a cycle is not followed; the check refuses those it meets).
    spreading: HashSet<&'a str>,
}

impl<'a> Expansion<'a> {
    /// False once over budget.
    fn selection_set(&mut self, set: &'a SelectionSet) -> bool {
        for item in &set.items {
            self.visits += 1;
            if self.visits > self.budget {
                return false;
            }
            let within = match &item.node {
                Selection::Field(f) => self.selection_set(&f.node.selection_set.node),
                Selection::InlineFragment(f) => self.selection_set(&f.node.selection_set.node),
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    match self.doc.fragments.get(name) {
                        Some(fragment) if self.spreading.insert(name) => {
                            let within = self.selection_set(&fragment.node.selection_set.node);
                            self.spreading.remove(name);
                            within
                        }
                        _ => true,
                    }
                }
            };
            if !within {
                return false;
            }
        }
        true
    }
}
