//! Filters, conditions and key conditions as DynamoDB expressions.
//!
//! Attribute names are always `#name` placeholders and operands always `:vN` placeholders: no
//! value of a client's is ever part of an expression's text. The translation means exactly
//! what [`Filter::matches`] means:
//!
//! - A field without a value (only `specialty` can lack one) satisfies only `ne`,
//!   `notContains`, `notIn` and `attributeExists: false`: `ne` is `attribute_not_exists(#a)
//!   OR #a <> :v`, the negative operators `NOT` of the positive ones (a comparison with an
//!   absent attribute is false in DynamoDB).
//! - An operand of the wrong type (a string for `age`) matches nothing, as in Rust, instead of
//!   reaching DynamoDB; so does `between` with its ends the wrong way round, which DynamoDB
//!   would refuse.
//! - DynamoDB may refuse an empty string as an operand, so an empty operand is rewritten to what
//!   it means: `contains ""`, `beginsWith ""` and `ge ""` hold for every present string, `lt ""`
//!   for none, `eq ""` is `size(#a) = :0`.
//! - Terms whose truth is known (those above, `attributeExists` on a field every trainer has, a
//!   condition on the specialty of a query by specialty) are folded away; a filter that is
//!   always true is no expression at all. Where DynamoDB needs a constant it gets
//!   `attribute_exists(#id)` (true: every item has its key) or `attribute_not_exists(#id)`.
//!
//! - Terms are in negation normal form ([`Term`]), written with as few parentheses as
//!   DynamoDB's precedence allows (`NOT` binds tighter than `AND`, `AND` than `OR`): an
//!   expression nests only as deep as its `AND`s and `OR`s alternate.
//!
//! DynamoDB refuses a `FilterExpression` of a `Query` that names a key attribute of the index it
//! reads, so [`split`] leaves the conditions on such an attribute to be evaluated here.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use aws_sdk_dynamodb::types::AttributeValue;
use trainers_core::{Field, Filter, KeyCondition, Op, Scalar, Specialty};

use crate::item::{n, s, Item, ID, LAST_NAME, SPECIALTY};

/// Operands in one `IN`, at most (DynamoDB's limit).
const MAX_IN: usize = 100;

/// Grouping parentheses a read's `FilterExpression` may nest, at most: deeper parts are left
/// out of the expression and the whole filter is checked here on the items read
/// ([`Term::cut`]). dynalite parses an expression in time exponential in its nesting.
pub(crate) const MAX_READ_DEPTH: usize = 3;
/// Grouping parentheses a write's `ConditionExpression` may nest, at most (a condition cannot
/// be checked here: it must hold when the item is written).
pub(crate) const MAX_WRITE_DEPTH: usize = 5;

/// A condition in negation normal form, or its truth when that is known without reading an
/// item: `NOT` only before a single condition ([`Atom`]), never an `AND` directly in an
/// `AND` nor an `OR` in an `OR`, no constant inside. Written out, an `OR` in an `AND` is the
/// only part in parentheses (`AND` binds tighter than `OR`, `NOT` tighter than both), so an
/// expression nests only as deep as its `AND`s and `OR`s alternate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Term {
    Const(bool),
    Atom(Atom),
    And(Vec<Term>),
    Or(Vec<Term>),
}

/// One condition: a comparison, `BETWEEN`, `IN` or a function, maybe negated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Atom {
    text: String,
    /// Its negation written without `NOT`, where that means exactly the same (`#age >= :v0`
    /// for `#age < :v0`: the attribute is on every item, always a number).
    opposite: Option<String>,
    negated: bool,
}

impl Term {
    /// A condition as written.
    pub(crate) fn atom(text: impl Into<String>) -> Term {
        Term::Atom(Atom {
            text: text.into(),
            opposite: None,
            negated: false,
        })
    }

    /// A condition whose negation is `opposite`.
    fn atom_with_opposite(text: String, opposite: String) -> Term {
        Term::Atom(Atom {
            text,
            opposite: Some(opposite),
            negated: false,
        })
    }

    pub(crate) fn and(parts: impl IntoIterator<Item = Term>) -> Term {
        Term::join(parts, true)
    }

    pub(crate) fn or(parts: impl IntoIterator<Item = Term>) -> Term {
        Term::join(parts, false)
    }

    /// AND (`all`) or OR of `parts`, flat: a part of the same kind gives its own parts; a
    /// constant that decides the result ends it, the others are left out.
    fn join(parts: impl IntoIterator<Item = Term>, all: bool) -> Term {
        let mut flat = Vec::new();
        for part in parts {
            match part {
                Term::Const(b) if b == all => {}
                Term::Const(b) => return Term::Const(b),
                Term::And(inner) if all => flat.extend(inner),
                Term::Or(inner) if !all => flat.extend(inner),
                other => flat.push(other),
            }
        }
        match flat.len() {
            0 => Term::Const(all),
            1 => flat.remove(0),
            _ if all => Term::And(flat),
            _ => Term::Or(flat),
        }
    }

    /// The negation, pushed down to the single conditions (De Morgan): `NOT (a AND b)` is
    /// `NOT a OR NOT b`. Exact, as DynamoDB's logic has two values: a comparison with an
    /// absent attribute is false, and its `NOT` true, as [`Filter::matches`] has it.
    pub(crate) fn not(self) -> Term {
        match self {
            Term::Const(b) => Term::Const(!b),
            Term::Atom(a) => Term::Atom(match a.opposite {
                Some(opposite) => Atom {
                    text: opposite,
                    opposite: Some(a.text),
                    negated: a.negated,
                },
                None => Atom {
                    negated: !a.negated,
                    ..a
                },
            }),
            Term::And(parts) => Term::or(parts.into_iter().map(Term::not)),
            Term::Or(parts) => Term::and(parts.into_iter().map(Term::not)),
        }
    }

    /// The grouping parentheses that the written term nests (an `OR` in an `AND`).
    pub(crate) fn depth(&self) -> usize {
        match self {
            Term::Const(_) | Term::Atom(_) => 0,
            Term::And(parts) => parts
                .iter()
                .map(|p| match p {
                    Term::Or(_) => 1 + p.depth(),
                    _ => p.depth(),
                })
                .max()
                .unwrap_or(0),
            Term::Or(parts) => parts.iter().map(Term::depth).max().unwrap_or(0),
        }
    }

    /// The term with what nests deeper than `room` parentheses left out (taken as true), and
    /// whether anything was. The result holds wherever the term holds (in negation normal form
    /// every part counts positively), so the items it selects are a superset, to be checked
    /// against the whole filter.
    pub(crate) fn cut(self, room: usize) -> (Term, bool) {
        match self {
            Term::And(parts) => {
                let mut cut = false;
                let parts: Vec<Term> = parts
                    .into_iter()
                    .map(|p| match p {
                        Term::Or(_) if room == 0 => {
                            cut = true;
                            Term::Const(true)
                        }
                        Term::Or(_) => {
                            let (p, c) = p.cut(room - 1);
                            cut |= c;
                            p
                        }
                        other => {
                            let (p, c) = other.cut(room);
                            cut |= c;
                            p
                        }
                    })
                    .collect();
                (Term::and(parts), cut)
            }
            Term::Or(parts) => {
                let mut cut = false;
                let parts: Vec<Term> = parts
                    .into_iter()
                    .map(|p| {
                        let (p, c) = p.cut(room);
                        cut |= c;
                        p
                    })
                    .collect();
                (Term::or(parts), cut)
            }
            other => (other, false),
        }
    }

    /// The term as expression text; a constant is `None` (see [`Expressions::render`]).
    pub(crate) fn text(&self) -> Option<String> {
        let mut out = String::new();
        match self {
            Term::Const(_) => return None,
            term => term.write(&mut out),
        }
        Some(out)
    }

    fn write(&self, out: &mut String) {
        match self {
            Term::Const(b) => out.push_str(if *b { "TRUE" } else { "FALSE" }),
            Term::Atom(a) => {
                if a.negated {
                    out.push_str("NOT ");
                }
                out.push_str(&a.text);
            }
            Term::And(parts) | Term::Or(parts) => {
                let and = matches!(self, Term::And(_));
                for (i, p) in parts.iter().enumerate() {
                    if i > 0 {
                        out.push_str(if and { " AND " } else { " OR " });
                    }
                    let group = and && matches!(p, Term::Or(_));
                    if group {
                        out.push('(');
                    }
                    p.write(out);
                    if group {
                        out.push(')');
                    }
                }
            }
        }
    }
}

/// An operand as the field it is compared with takes it.
enum Operand {
    /// Of the wrong type: equal to nothing, ordered with nothing.
    Never,
    /// The empty string, which DynamoDB may refuse as a value.
    Empty,
    Value(AttributeValue),
}

/// The names and values of the expressions of one request, as they are written.
#[derive(Debug, Default)]
pub(crate) struct Expressions {
    names: HashMap<String, String>,
    values: Item,
    next: usize,
    /// The specialty every item read has (a query of the index by specialty).
    specialty: Option<Specialty>,
}

impl Expressions {
    pub(crate) fn new() -> Self {
        Expressions::default()
    }

    /// For a query of one specialty: conditions on `specialty` are known.
    pub(crate) fn of_specialty(specialty: Specialty) -> Self {
        Expressions {
            specialty: Some(specialty),
            ..Expressions::default()
        }
    }

    /// The placeholder of an attribute name.
    pub(crate) fn name(&mut self, attribute: &str) -> String {
        let placeholder = format!("#{attribute}");
        self.names
            .insert(placeholder.clone(), attribute.to_string());
        placeholder
    }

    /// A fresh placeholder for a value.
    pub(crate) fn value(&mut self, value: AttributeValue) -> String {
        let placeholder = format!(":v{}", self.next);
        self.next += 1;
        self.values.insert(placeholder.clone(), value);
        placeholder
    }

    /// Adds values under placeholders of the caller's (which must not start with `:v`).
    pub(crate) fn extend_values(&mut self, values: Item) {
        self.values.extend(values);
    }

    /// A term as expression text: the constants as conditions on the key.
    pub(crate) fn render(&mut self, term: &Term) -> String {
        match term {
            Term::Const(true) => format!("attribute_exists({})", self.name(ID)),
            Term::Const(false) => format!("attribute_not_exists({})", self.name(ID)),
            term => term.text().unwrap_or_default(),
        }
    }

    /// The names and values that `texts` use (DynamoDB refuses any it does not use, and empty
    /// maps), each `None` when there is none.
    pub(crate) fn finish(self, texts: &[&str]) -> (Option<HashMap<String, String>>, Option<Item>) {
        let used = placeholders(texts);
        let names: HashMap<String, String> = self
            .names
            .into_iter()
            .filter(|(k, _)| used.contains(k.as_str()))
            .collect();
        let values: Item = self
            .values
            .into_iter()
            .filter(|(k, _)| used.contains(k.as_str()))
            .collect();
        (
            (!names.is_empty()).then_some(names),
            (!values.is_empty()).then_some(values),
        )
    }

    /// A filter as a term, in negation normal form.
    pub(crate) fn filter(&mut self, filter: &Filter) -> Term {
        match filter {
            Filter::And(parts) => {
                let terms: Vec<Term> = parts.iter().map(|p| self.filter(p)).collect();
                Term::and(terms)
            }
            Filter::Or(parts) => {
                let terms: Vec<Term> = parts.iter().map(|p| self.filter(p)).collect();
                Term::or(terms)
            }
            Filter::Not(inner) => self.filter(inner).not(),
            Filter::Cond(field, op) => self.condition(*field, op),
        }
    }

    /// The condition on the sort key `lastName` of a key condition: `Const(true)` is none,
    /// `Const(false)` matches nothing. (Key attributes are never empty strings.)
    pub(crate) fn last_name(&mut self, key: &KeyCondition) -> Term {
        let a = self.name(LAST_NAME);
        let cmp = |this: &mut Self, op: &str, v: &str| {
            let v = this.value(s(v));
            Term::atom(format!("{a} {op} {v}"))
        };
        match key {
            KeyCondition::Eq(v) | KeyCondition::Le(v) if v.is_empty() => Term::Const(false),
            KeyCondition::Lt(v) if v.is_empty() => Term::Const(false),
            KeyCondition::Gt(v) | KeyCondition::Ge(v) | KeyCondition::BeginsWith(v)
                if v.is_empty() =>
            {
                Term::Const(true)
            }
            KeyCondition::Eq(v) => cmp(self, "=", v),
            KeyCondition::Lt(v) => cmp(self, "<", v),
            KeyCondition::Le(v) => cmp(self, "<=", v),
            KeyCondition::Gt(v) => cmp(self, ">", v),
            KeyCondition::Ge(v) => cmp(self, ">=", v),
            KeyCondition::Between(lo, hi) => {
                if hi.is_empty() || lo.as_bytes() > hi.as_bytes() {
                    Term::Const(false)
                } else if lo.is_empty() {
                    cmp(self, "<=", hi)
                } else {
                    let lo = self.value(s(lo.as_str()));
                    let hi = self.value(s(hi.as_str()));
                    Term::atom(format!("{a} BETWEEN {lo} AND {hi}"))
                }
            }
            KeyCondition::BeginsWith(v) => {
                let v = self.value(s(v.as_str()));
                Term::atom(format!("begins_with({a}, {v})"))
            }
        }
    }

    fn operand(field: Field, x: &Scalar) -> Operand {
        match (field, x) {
            (Field::Age, Scalar::Int(i)) => Operand::Value(n(i)),
            (Field::Age, Scalar::Str(_)) | (_, Scalar::Int(_)) => Operand::Never,
            (_, Scalar::Str(text)) if text.is_empty() => Operand::Empty,
            (_, Scalar::Str(text)) => Operand::Value(s(text.as_str())),
        }
    }

    /// Whether the field has a value: only `specialty` may lack one.
    fn present(&mut self, field: Field) -> Term {
        if field == Field::Specialty {
            Term::atom(format!("attribute_exists({})", self.name(SPECIALTY)))
        } else {
            Term::Const(true)
        }
    }

    /// `field = ""` (`op` `=`) or `field > ""` (`op` `>`), by the length of the field's value.
    fn size_vs_empty(&mut self, field: Field, op: &str) -> Term {
        let present = self.present(field);
        let a = self.name(field.name());
        let zero = self.value(n(0));
        Term::and([present, Term::atom(format!("size({a}) {op} {zero}"))])
    }

    fn equals_empty(&mut self, field: Field) -> Term {
        self.size_vs_empty(field, "=")
    }

    /// `field op v`. On a field every item has (all but `specialty`), of one type, its
    /// negation is the opposite comparison (`NOT #age < :v` is `#age >= :v`); on `specialty`
    /// it stays a `NOT`, true where the attribute is absent.
    fn compare(&mut self, field: Field, op: &str, v: AttributeValue) -> Term {
        let a = self.name(field.name());
        let v = self.value(v);
        let text = format!("{a} {op} {v}");
        let opposite = match op {
            "=" => "<>",
            "<>" => "=",
            "<" => ">=",
            ">=" => "<",
            "<=" => ">",
            ">" => "<=",
            _ => return Term::atom(text),
        };
        if field == Field::Specialty {
            Term::atom(text)
        } else {
            Term::atom_with_opposite(text, format!("{a} {opposite} {v}"))
        }
    }

    fn function(&mut self, function: &str, field: Field, text: &str) -> Term {
        let a = self.name(field.name());
        let v = self.value(s(text));
        Term::atom(format!("{function}({a}, {v})"))
    }

    fn condition(&mut self, field: Field, op: &Op) -> Term {
        if field == Field::Specialty {
            if let Some(sp) = self.specialty {
                return Term::Const(op.holds(Some(&Scalar::Str(sp.as_str().to_string()))));
            }
        }
        let text_field = field != Field::Age;
        match op {
            Op::Eq(x) => match Self::operand(field, x) {
                Operand::Never => Term::Const(false),
                Operand::Empty => self.equals_empty(field),
                Operand::Value(v) => self.compare(field, "=", v),
            },
            Op::Ne(x) => match Self::operand(field, x) {
                Operand::Never => Term::Const(true),
                Operand::Empty => self.equals_empty(field).not(),
                Operand::Value(v) => {
                    let absent = self.present(field).not();
                    let differs = self.compare(field, "<>", v);
                    Term::or([absent, differs])
                }
            },
            Op::Lt(x) => match Self::operand(field, x) {
                Operand::Never | Operand::Empty => Term::Const(false),
                Operand::Value(v) => self.compare(field, "<", v),
            },
            Op::Le(x) => match Self::operand(field, x) {
                Operand::Never => Term::Const(false),
                Operand::Empty => self.equals_empty(field),
                Operand::Value(v) => self.compare(field, "<=", v),
            },
            Op::Gt(x) => match Self::operand(field, x) {
                Operand::Never => Term::Const(false),
                Operand::Empty => self.size_vs_empty(field, ">"),
                Operand::Value(v) => self.compare(field, ">", v),
            },
            Op::Ge(x) => match Self::operand(field, x) {
                Operand::Never => Term::Const(false),
                Operand::Empty => self.present(field),
                Operand::Value(v) => self.compare(field, ">=", v),
            },
            Op::Contains(_) | Op::BeginsWith(_) if !text_field => Term::Const(false),
            Op::Contains(t) | Op::BeginsWith(t) if t.is_empty() => self.present(field),
            Op::Contains(t) => self.function("contains", field, t),
            Op::BeginsWith(t) => self.function("begins_with", field, t),
            Op::NotContains(t) => self.condition(field, &Op::Contains(t.clone())).not(),
            Op::Between(lo, hi) => self.between(field, lo, hi),
            Op::In(xs) => self.one_of(field, xs),
            Op::NotIn(xs) => self.one_of(field, xs).not(),
            Op::Exists(true) => self.present(field),
            Op::Exists(false) => self.present(field).not(),
        }
    }

    fn between(&mut self, field: Field, lo: &Scalar, hi: &Scalar) -> Term {
        let ordered = match (lo, hi) {
            (Scalar::Int(a), Scalar::Int(b)) => a.cmp(b),
            (Scalar::Str(a), Scalar::Str(b)) => a.as_bytes().cmp(b.as_bytes()),
            _ => return Term::Const(false),
        };
        if ordered == Ordering::Greater {
            return Term::Const(false);
        }
        match (Self::operand(field, lo), Self::operand(field, hi)) {
            (Operand::Never, _) | (_, Operand::Never) => Term::Const(false),
            (Operand::Empty, Operand::Empty) => self.equals_empty(field),
            (Operand::Empty, Operand::Value(hi)) => self.compare(field, "<=", hi),
            // A non-empty lower end above the empty upper one (never: ordered above).
            (Operand::Value(_), Operand::Empty) => Term::Const(false),
            (Operand::Value(lo), Operand::Value(hi)) => {
                let a = self.name(field.name());
                let lo = self.value(lo);
                let hi = self.value(hi);
                Term::atom(format!("{a} BETWEEN {lo} AND {hi}"))
            }
        }
    }

    fn one_of(&mut self, field: Field, xs: &[Scalar]) -> Term {
        let mut terms = Vec::new();
        let mut values = Vec::new();
        for x in xs {
            match Self::operand(field, x) {
                Operand::Never => {}
                Operand::Empty => terms.push(self.equals_empty(field)),
                Operand::Value(v) => values.push(v),
            }
        }
        let a = self.name(field.name());
        for chunk in values.chunks(MAX_IN) {
            let placeholders: Vec<String> = chunk.iter().map(|v| self.value(v.clone())).collect();
            terms.push(Term::atom(format!("{a} IN ({})", placeholders.join(", "))));
        }
        Term::or(terms)
    }
}

/// The placeholders (`#name`, `:value`) that `texts` mention.
fn placeholders<'a>(texts: &[&'a str]) -> HashSet<&'a str> {
    let mut found = HashSet::new();
    for text in texts {
        let mut start = None;
        for (i, c) in text.char_indices().chain([(text.len(), ' ')]) {
            let word = c.is_ascii_alphanumeric() || c == '_';
            match start {
                Some(at) if !word => {
                    if i > at + 1 {
                        found.insert(&text[at..i]);
                    }
                    start = None;
                }
                _ => {}
            }
            if start.is_none() && (c == '#' || c == ':') {
                start = Some(i);
            }
        }
    }
    found
}

/// Whether a filter tests any of `fields`.
pub(crate) fn mentions(filter: &Filter, fields: &[Field]) -> bool {
    match filter {
        Filter::And(parts) | Filter::Or(parts) => parts.iter().any(|p| mentions(p, fields)),
        Filter::Not(inner) => mentions(inner, fields),
        Filter::Cond(field, _) => fields.contains(field),
    }
}

/// The conditions of a filter that must hold together: those that test one of `keys` (the
/// key attributes of an index queried, which a `FilterExpression` may not name) and the others.
pub(crate) fn split<'f>(filter: &'f Filter, keys: &[Field]) -> (Vec<&'f Filter>, Vec<&'f Filter>) {
    let parts: Vec<&Filter> = match filter {
        Filter::And(parts) => parts.iter().collect(),
        other => vec![other],
    };
    parts.into_iter().partition(|p| mentions(p, keys))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};
    use trainers_core::FilterKind;

    fn parse(kind: FilterKind, value: Value) -> Filter {
        Filter::parse(kind, &value)
            .expect("a valid filter")
            .expect("a filter")
    }

    /// The expression of a filter, with its placeholders replaced by what they stand for (to
    /// read the tests), and the names and values it uses.
    fn translate(filter: &Filter) -> (String, HashMap<String, String>, Item) {
        let mut e = Expressions::new();
        let term = e.filter(filter);
        let text = e.render(&term);
        let (names, values) = e.finish(&[&text]);
        (text, names.unwrap_or_default(), values.unwrap_or_default())
    }

    fn shown(filter: &Filter) -> String {
        let (text, names, values) = translate(filter);
        let mut shown = text.clone();
        let mut keys: Vec<&String> = values.keys().collect();
        // Longest first, so that :v1 does not replace the start of :v10.
        keys.sort_by_key(|k| std::cmp::Reverse(k.len()));
        for k in keys {
            let v = match &values[k] {
                AttributeValue::S(s) => format!("'{s}'"),
                AttributeValue::N(n) => n.clone(),
                other => format!("{other:?}"),
            };
            shown = shown.replace(k.as_str(), &v);
        }
        for (k, v) in &names {
            assert_eq!(k, &format!("#{v}"));
        }
        shown
    }

    #[test]
    fn names_and_values_are_always_placeholders() {
        let f = parse(
            FilterKind::List,
            json!({"firstName": {"eq": "x) OR (#id = :v0"}, "lastName": {"contains": "#age"}}),
        );
        let (text, names, values) = translate(&f);
        assert_eq!(text, "#firstName = :v0 AND contains(#lastName, :v1)");
        assert_eq!(values.get(":v0"), Some(&s("x) OR (#id = :v0")));
        assert_eq!(values.get(":v1"), Some(&s("#age")));
        assert_eq!(values.len(), 2);
        assert_eq!(
            names,
            HashMap::from([
                ("#firstName".to_string(), "firstName".to_string()),
                ("#lastName".to_string(), "lastName".to_string()),
            ])
        );
    }

    #[test]
    fn each_operator_translates() {
        let cases = [
            (json!({"age": {"eq": 30}}), "#age = 30"),
            (json!({"age": {"le": 30}}), "#age <= 30"),
            (json!({"age": {"lt": 30}}), "#age < 30"),
            (json!({"age": {"ge": 30}}), "#age >= 30"),
            (json!({"age": {"gt": 30}}), "#age > 30"),
            (json!({"age": {"ne": 30}}), "#age <> 30"),
            (json!({"age": {"between": [3, 4]}}), "#age BETWEEN 3 AND 4"),
            (
                json!({"id": {"beginsWith": "01"}}),
                "begins_with(#id, '01')",
            ),
            (
                json!({"firstName": {"notContains": "a"}}),
                "NOT contains(#firstName, 'a')",
            ),
            (
                json!({"specialty": {"ne": "SENIORFITNESS"}}),
                "NOT attribute_exists(#specialty) OR #specialty <> 'SENIORFITNESS'",
            ),
            (
                json!({"specialty": {"eq": "SENIORFITNESS"}}),
                "#specialty = 'SENIORFITNESS'",
            ),
            (
                json!({"specialty": {"attributeExists": false}}),
                "NOT attribute_exists(#specialty)",
            ),
            (
                json!({"or": [{"age": {"eq": 1}}, {"not": {"age": {"eq": 2}}}]}),
                "#age = 1 OR #age <> 2",
            ),
        ];
        for (filter, expected) in cases {
            assert_eq!(
                shown(&parse(FilterKind::List, filter.clone())),
                expected,
                "{filter}"
            );
        }
        let sub = parse(
            FilterKind::Subscription,
            json!({"lastName": {"in": ["A", "B"]}, "age": {"notIn": [1]}}),
        );
        assert_eq!(shown(&sub), "#lastName IN ('A', 'B') AND NOT #age IN (1)");
    }

    #[test]
    fn empty_strings_never_reach_dynamodb() {
        let cases = [
            (
                json!({"firstName": {"contains": ""}}),
                "attribute_exists(#id)",
            ),
            (
                json!({"firstName": {"beginsWith": ""}}),
                "attribute_exists(#id)",
            ),
            (json!({"firstName": {"ge": ""}}), "attribute_exists(#id)"),
            (
                json!({"firstName": {"notContains": ""}}),
                "attribute_not_exists(#id)",
            ),
            (
                json!({"firstName": {"lt": ""}}),
                "attribute_not_exists(#id)",
            ),
            (json!({"firstName": {"eq": ""}}), "size(#firstName) = 0"),
            (json!({"firstName": {"le": ""}}), "size(#firstName) = 0"),
            (json!({"firstName": {"ne": ""}}), "NOT size(#firstName) = 0"),
            (json!({"firstName": {"gt": ""}}), "size(#firstName) > 0"),
            (
                json!({"firstName": {"between": ["", "b"]}}),
                "#firstName <= 'b'",
            ),
            (
                json!({"firstName": {"between": ["", ""]}}),
                "size(#firstName) = 0",
            ),
        ];
        for (filter, expected) in cases {
            let f = parse(FilterKind::List, filter.clone());
            assert_eq!(shown(&f), expected, "{filter}");
            let (_, _, values) = translate(&f);
            assert!(
                !values.values().any(|v| v == &s("")),
                "{filter}: {values:?}"
            );
        }
        let sub = parse(
            FilterKind::Subscription,
            json!({"specialty": {"in": ["", "SENIORFITNESS"]}}),
        );
        assert_eq!(
            shown(&sub),
            "attribute_exists(#specialty) AND size(#specialty) = 0 OR #specialty IN ('SENIORFITNESS')"
        );
        let sub = parse(FilterKind::Subscription, json!({"specialty": {"gt": ""}}));
        assert_eq!(
            shown(&sub),
            "attribute_exists(#specialty) AND size(#specialty) > 0"
        );
    }

    #[test]
    fn what_is_known_is_folded_away() {
        // A wrong type matches nothing, as in Rust; `ne` of one matches everything.
        let f = Filter::Cond(Field::Age, Op::Eq(Scalar::Str("x".into())));
        assert_eq!(shown(&f), "attribute_not_exists(#id)");
        let f = Filter::Cond(Field::Age, Op::Ne(Scalar::Str("x".into())));
        assert_eq!(shown(&f), "attribute_exists(#id)");
        let f = Filter::Cond(Field::Age, Op::Contains("1".into()));
        assert_eq!(shown(&f), "attribute_not_exists(#id)");
        let f = Filter::Cond(
            Field::LastName,
            Op::Between(Scalar::Str("b".into()), Scalar::Str("a".into())),
        );
        assert_eq!(shown(&f), "attribute_not_exists(#id)");
        let f = Filter::And(vec![
            Filter::Cond(Field::Age, Op::Gt(Scalar::Int(3))),
            Filter::Cond(Field::Age, Op::Exists(true)),
        ]);
        assert_eq!(shown(&f), "#age > 3");
        let f = Filter::Or(vec![
            Filter::Cond(Field::Age, Op::Gt(Scalar::Int(3))),
            Filter::Cond(Field::FirstName, Op::Exists(true)),
        ]);
        let (text, names, values) = translate(&f);
        assert_eq!(text, "attribute_exists(#id)");
        assert_eq!(names.len(), 1, "the values of folded terms are not sent");
        assert!(values.is_empty());
        let f = Filter::Cond(Field::Age, Op::In(vec![]));
        assert_eq!(shown(&f), "attribute_not_exists(#id)");
    }

    #[test]
    fn a_query_by_specialty_knows_the_specialty() {
        let f = parse(
            FilterKind::List,
            json!({"specialty": {"ne": "SENIORFITNESS"}, "age": {"gt": 3}}),
        );
        let mut e = Expressions::of_specialty(Specialty::SeniorFitness);
        assert_eq!(e.filter(&f), Term::Const(false));
        let mut e = Expressions::of_specialty(Specialty::Bodybuilding);
        assert_eq!(e.filter(&f).text().as_deref(), Some("#age > :v0"));
    }

    #[test]
    fn long_lists_are_split_into_ins_of_100() {
        let xs: Vec<Scalar> = (0..250).map(Scalar::Int).collect();
        let (text, _, values) = translate(&Filter::Cond(Field::Age, Op::In(xs)));
        assert_eq!(text.matches(" IN (").count(), 3, "{text}");
        assert_eq!(values.len(), 250);
        assert!(text.contains(":v249)"), "{text}");
    }

    #[test]
    fn key_conditions_on_the_last_name() {
        let show = |k: KeyCondition| {
            let mut e = Expressions::new();
            match e.last_name(&k) {
                Term::Const(b) => b.to_string(),
                term => {
                    let t = term.text().unwrap_or_default();
                    let (_, values) = e.finish(&[&t]);
                    let values = values.unwrap_or_default();
                    assert!(!values.values().any(|v| v == &s("")), "{k:?}");
                    format!("{t} {}", values.len())
                }
            }
        };
        let k = |v: &str| v.to_string();
        assert_eq!(show(KeyCondition::Eq(k("Lee"))), "#lastName = :v0 1");
        assert_eq!(show(KeyCondition::Lt(k("Lee"))), "#lastName < :v0 1");
        assert_eq!(show(KeyCondition::Le(k("Lee"))), "#lastName <= :v0 1");
        assert_eq!(show(KeyCondition::Gt(k("Lee"))), "#lastName > :v0 1");
        assert_eq!(show(KeyCondition::Ge(k("Lee"))), "#lastName >= :v0 1");
        assert_eq!(
            show(KeyCondition::Between(k("A"), k("B"))),
            "#lastName BETWEEN :v0 AND :v1 2"
        );
        assert_eq!(
            show(KeyCondition::BeginsWith(k("Le"))),
            "begins_with(#lastName, :v0) 1"
        );
        assert_eq!(show(KeyCondition::Eq(k(""))), "false");
        assert_eq!(show(KeyCondition::Le(k(""))), "false");
        assert_eq!(show(KeyCondition::Lt(k(""))), "false");
        assert_eq!(show(KeyCondition::Gt(k(""))), "true");
        assert_eq!(show(KeyCondition::Ge(k(""))), "true");
        assert_eq!(show(KeyCondition::BeginsWith(k(""))), "true");
        assert_eq!(show(KeyCondition::Between(k(""), k(""))), "false");
        assert_eq!(
            show(KeyCondition::Between(k(""), k("B"))),
            "#lastName <= :v0 1"
        );
    }

    #[test]
    fn only_the_placeholders_used_are_sent() {
        let mut e = Expressions::new();
        let id = e.name(ID);
        let age = e.name("age");
        let v0 = e.value(n(1));
        let v1 = e.value(n(2));
        let _unused = e.value(n(3));
        for _ in 0..8 {
            e.value(n(4));
        }
        let text = format!("{id} = {v1} AND {age} > :v10");
        let (names, values) = e.finish(&[&text, "x"]);
        let mut names: Vec<String> = names.unwrap_or_default().into_keys().collect();
        names.sort();
        assert_eq!(names, ["#age", "#id"]);
        let mut values: Vec<String> = values.unwrap_or_default().into_keys().collect();
        values.sort();
        assert_eq!(values, [":v1", ":v10"]);
        assert!(!text.contains(&format!("{v0} ")));
        let (names, values) = Expressions::new().finish(&[]);
        assert!(names.is_none() && values.is_none());
    }

    #[test]
    fn conditions_on_the_keys_of_an_index_are_split_off() {
        let f = parse(
            FilterKind::List,
            json!({"lastName": {"ne": "A"}, "age": {"gt": 3}, "or": [{"id": {"eq": "x"}}, {"age": {"eq": 1}}]}),
        );
        let (keyed, rest) = split(&f, &[Field::LastName]);
        assert_eq!(keyed.len(), 1);
        assert_eq!(rest.len(), 2);
        let (keyed, rest) = split(&f, &[Field::Id]);
        assert_eq!((keyed.len(), rest.len()), (1, 2));
        let one = parse(FilterKind::List, json!({"id": {"eq": "x"}}));
        assert_eq!(split(&one, &[Field::Id]).0, vec![&one]);
        assert!(split(&one, &[]).0.is_empty());
    }
}
