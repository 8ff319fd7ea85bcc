//! Query planning: how a list or count reads, a scan of the table or a query of an index, with
//! which expressions.

use std::collections::HashMap;

use trainers_core::{Field, Filter, ListQuery, SortDirection, Specialty, SpecialtyQuery};

use crate::expr::{split, Expressions, Term, MAX_READ_DEPTH};
use crate::item::{s, Item, SPECIALTY};
use crate::table::{SPECIALTY_INDEX, SPECIALTY_LAST_NAME_INDEX};

/// How a list or count reads: a consistent scan of the table or a query of an index, with the
/// filter as a `FilterExpression` and, for the conditions that DynamoDB does not take in one
/// (on a key attribute of the index), evaluated here.
pub(crate) struct Plan<'f> {
    /// The index queried; none: the table, scanned.
    pub(crate) index: Option<&'static str>,
    pub(crate) key_condition: Option<String>,
    pub(crate) forward: bool,
    pub(crate) filter: Option<String>,
    pub(crate) names: Option<HashMap<String, String>>,
    pub(crate) values: Option<Item>,
    pub(crate) local: Vec<&'f Filter>,
    /// Nothing can match (a filter or key condition that is always false): nothing is read.
    pub(crate) nothing: bool,
}

impl<'f> Plan<'f> {
    /// `key`: the key condition of an index (`Const(true)` for a scan); `keys`: the fields
    /// that a `FilterExpression` on it may not name.
    fn new(
        mut e: Expressions,
        index: Option<&'static str>,
        key: Term,
        forward: bool,
        filter: Option<&'f Filter>,
        keys: &[Field],
    ) -> Self {
        let (mut local, sent) = filter.map(|f| split(f, keys)).unwrap_or_default();
        let whole = Term::and(sent.iter().map(|f| e.filter(f)).collect::<Vec<_>>());
        // Nested too deep for one expression: DynamoDB filters by what fits, and the whole
        // filter is checked here.
        let (remote, cut) = whole.cut(MAX_READ_DEPTH);
        if cut {
            local.extend(sent);
        }
        let mut nothing = false;
        let mut text = |term: Term| match term {
            Term::Const(true) => None,
            Term::Const(false) => {
                nothing = true;
                None
            }
            term => term.text(),
        };
        let key_condition = text(key);
        let filter = text(remote);
        let texts: Vec<&str> = [&key_condition, &filter]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect();
        let (names, values) = e.finish(&texts);
        Plan {
            index,
            key_condition,
            forward,
            filter,
            names,
            values,
            local,
            nothing,
        }
    }

    /// Whether some items read may not be kept.
    pub(crate) fn filtered(&self) -> bool {
        self.filter.is_some() || !self.local.is_empty()
    }

    /// All trainers (a consistent scan) or those of one specialty (`bySpecialty`).
    pub(crate) fn list(query: &ListQuery<'f>) -> Self {
        match query.specialty {
            None => Plan::new(
                Expressions::new(),
                None,
                Term::Const(true),
                true,
                query.filter,
                &[],
            ),
            Some(sp) => {
                let mut e = Expressions::of_specialty(sp);
                let key = specialty_key(&mut e, sp);
                // The index's keys, and the table's (which a query of an index may not filter
                // on either).
                Plan::new(
                    e,
                    Some(SPECIALTY_INDEX),
                    Term::atom(key),
                    true,
                    query.filter,
                    &[Field::Id],
                )
            }
        }
    }

    /// One specialty in `lastName` order (`bySpecialtyLastName`).
    pub(crate) fn by_specialty(query: &SpecialtyQuery<'f>) -> Self {
        let mut e = Expressions::of_specialty(query.specialty);
        let specialty = specialty_key(&mut e, query.specialty);
        let key = match query.last_name.map(|k| e.last_name(k)) {
            None => Term::atom(specialty),
            Some(last_name) => Term::and([Term::atom(specialty), last_name]),
        };
        Plan::new(
            e,
            Some(SPECIALTY_LAST_NAME_INDEX),
            key,
            query.direction == SortDirection::Asc,
            query.filter,
            &[Field::LastName, Field::Id],
        )
    }
}

/// `#specialty = :v`, the partition of an index.
fn specialty_key(e: &mut Expressions, specialty: Specialty) -> String {
    let name = e.name(SPECIALTY);
    let value = e.value(s(specialty.as_str()));
    format!("{name} = {value}")
}
