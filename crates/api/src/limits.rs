//! Limits on what one request may ask, checked once per query text when it is parsed (see
//! `parse_cache`), and the label of a request for its log line. (The depth limit is
//! async-graphql's own `limit_depth`.)

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{ServerError, ServerResult};

/// The most top-level fields in one operation, aliases counted.
pub const MAX_TOP_LEVEL_FIELDS: usize = 50;

/// What a request asked, for its log line: e.g. `mutation createTrainer`.
#[derive(Clone, Default)]
pub struct OperationLabel(pub Arc<Mutex<Option<String>>>);

impl OperationLabel {
    pub fn get(&self) -> Option<String> {
        self.0.lock().ok().and_then(|l| l.clone())
    }

    pub fn set(&self, label: &str) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(label.to_string());
        }
    }
}

/// Refuses an operation that selects more than [`MAX_TOP_LEVEL_FIELDS`] top-level fields.
pub fn check(doc: &ExecutableDocument) -> ServerResult<()> {
    for (_, op) in doc.operations.iter() {
        let fields = count_fields(doc, &op.node.selection_set.node, &mut HashSet::new());
        if fields > MAX_TOP_LEVEL_FIELDS {
            return Err(ServerError::new(
                format!(
                    "An operation may select at most {MAX_TOP_LEVEL_FIELDS} top-level fields (aliases count), this one selects {fields}"
                ),
                Some(op.pos),
            ));
        }
    }
    Ok(())
}

/// Counts the fields at this level, looking through fragments (each at most once per path, so a
/// fragment cycle, which validation refuses later, cannot loop here).
fn count_fields<'a>(
    doc: &'a ExecutableDocument,
    set: &'a SelectionSet,
    seen: &mut HashSet<&'a str>,
) -> usize {
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(_) => 1,
            Selection::InlineFragment(f) => count_fields(doc, &f.node.selection_set.node, seen),
            Selection::FragmentSpread(s) => {
                let name = s.node.fragment_name.node.as_str();
                match doc.fragments.get(name) {
                    Some(frag) if seen.insert(name) => {
                        let n = count_fields(doc, &frag.node.selection_set.node, seen);
                        seen.remove(name);
                        n
                    }
                    _ => 0,
                }
            }
        })
        .sum()
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
