//! What the expressions mean: random filters, written as the store writes them (flat, cut
//! where too deep), read back by an evaluator of DynamoDB's expression language (its
//! precedence: comparisons, then `NOT`, `AND`, `OR`; a comparison with an absent attribute or
//! one of another type is false) on random trainers' items, must select exactly the trainers
//! the core's [`Filter::matches`] selects, with the conditions the plan checks here.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use proptest::prelude::*;
use trainers_core::{
    Field, Filter, ListQuery, Op, Precondition, Scalar, SortDirection, Specialty, SpecialtyQuery,
    Timestamp, Trainer, TrainerId,
};

use crate::expr::{Expressions, MAX_READ_DEPTH, MAX_WRITE_DEPTH};
use crate::item::{to_item, Item};
use crate::plan::Plan;
use crate::write::write_condition;

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Open,
    Close,
    Comma,
    Word(String),
    Name(String),
    Value(String),
    Cmp(String),
}

fn tokens(text: &str) -> Vec<Token> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' => i += 1,
            '(' => {
                out.push(Token::Open);
                i += 1;
            }
            ')' => {
                out.push(Token::Close);
                i += 1;
            }
            ',' => {
                out.push(Token::Comma);
                i += 1;
            }
            '=' | '<' | '>' => {
                let mut op = c.to_string();
                if i + 1 < chars.len() && matches!(chars[i + 1], '=' | '>') && c != '=' {
                    op.push(chars[i + 1]);
                }
                i += op.len();
                out.push(Token::Cmp(op));
            }
            '#' | ':' => {
                let start = i;
                i += 1;
                while i < chars.len() && word(chars[i]) {
                    i += 1;
                }
                let s: String = chars[start..i].iter().collect();
                out.push(if c == '#' {
                    Token::Name(s)
                } else {
                    Token::Value(s)
                });
            }
            _ if word(c) => {
                let start = i;
                while i < chars.len() && word(chars[i]) {
                    i += 1;
                }
                out.push(Token::Word(chars[start..i].iter().collect()));
            }
            _ => panic!("unexpected {c:?} in {text}"),
        }
    }
    out
}

/// A parsed condition expression.
#[derive(Debug)]
enum Cond {
    Or(Box<Cond>, Box<Cond>),
    And(Box<Cond>, Box<Cond>),
    Not(Box<Cond>),
    Cmp(Operand, String, Operand),
    Between(Operand, Operand, Operand),
    In(Operand, Vec<Operand>),
    Function(String, Vec<Operand>),
}

#[derive(Debug)]
enum Operand {
    Name(String),
    Value(String),
    Size(String),
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    /// The grouping parentheses open, and the most ever open.
    open: usize,
    deepest: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Token {
        let t = self.tokens[self.at].clone();
        self.at += 1;
        t
    }

    fn expect(&mut self, t: Token) {
        let got = self.next();
        assert_eq!(got, t, "at token {}", self.at);
    }

    fn keyword(&self, k: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w == k)
    }

    fn or(&mut self) -> Cond {
        let mut left = self.and();
        while self.keyword("OR") {
            self.at += 1;
            let right = self.and();
            left = Cond::Or(Box::new(left), Box::new(right));
        }
        left
    }

    fn and(&mut self) -> Cond {
        let mut left = self.not();
        while self.keyword("AND") {
            self.at += 1;
            let right = self.not();
            left = Cond::And(Box::new(left), Box::new(right));
        }
        left
    }

    fn not(&mut self) -> Cond {
        if self.keyword("NOT") {
            self.at += 1;
            return Cond::Not(Box::new(self.not()));
        }
        self.primary()
    }

    fn primary(&mut self) -> Cond {
        if self.peek() == Some(&Token::Open) {
            self.at += 1;
            self.open += 1;
            self.deepest = self.deepest.max(self.open);
            let inner = self.or();
            self.expect(Token::Close);
            self.open -= 1;
            return inner;
        }
        if let Some(Token::Word(w)) = self.peek().cloned() {
            if w != "size" {
                self.at += 1;
                self.expect(Token::Open);
                let mut args = vec![self.operand()];
                while self.peek() == Some(&Token::Comma) {
                    self.at += 1;
                    args.push(self.operand());
                }
                self.expect(Token::Close);
                return Cond::Function(w, args);
            }
        }
        let left = self.operand();
        match self.next() {
            Token::Cmp(op) => Cond::Cmp(left, op, self.operand()),
            Token::Word(w) if w == "BETWEEN" => {
                let lo = self.operand();
                match self.next() {
                    Token::Word(w) if w == "AND" => {}
                    t => panic!("BETWEEN without AND: {t:?}"),
                }
                Cond::Between(left, lo, self.operand())
            }
            Token::Word(w) if w == "IN" => {
                self.expect(Token::Open);
                let mut list = vec![self.operand()];
                while self.peek() == Some(&Token::Comma) {
                    self.at += 1;
                    list.push(self.operand());
                }
                self.expect(Token::Close);
                Cond::In(left, list)
            }
            t => panic!("unexpected {t:?}"),
        }
    }

    fn operand(&mut self) -> Operand {
        match self.next() {
            Token::Name(n) => Operand::Name(n),
            Token::Value(v) => Operand::Value(v),
            Token::Word(w) if w == "size" => {
                self.expect(Token::Open);
                let Token::Name(n) = self.next() else {
                    panic!("size of what?")
                };
                self.expect(Token::Close);
                Operand::Size(n)
            }
            t => panic!("not an operand: {t:?}"),
        }
    }
}

/// An expression parsed, and the grouping parentheses it nests.
fn parse(text: &str) -> (Cond, usize) {
    let mut p = Parser {
        tokens: tokens(text),
        at: 0,
        open: 0,
        deepest: 0,
    };
    let cond = p.or();
    assert_eq!(p.at, p.tokens.len(), "trailing tokens in {text}");
    (cond, p.deepest)
}

struct Env<'a> {
    names: &'a HashMap<String, String>,
    values: &'a Item,
    item: Option<&'a Item>,
}

impl Env<'_> {
    fn attribute(&self, name: &str) -> Option<AttributeValue> {
        let attribute = &self.names[name];
        self.item.and_then(|i| i.get(attribute)).cloned()
    }

    fn operand(&self, o: &Operand) -> Option<AttributeValue> {
        match o {
            Operand::Name(n) => self.attribute(n),
            Operand::Value(v) => Some(self.values[v].clone()),
            Operand::Size(n) => match self.attribute(n)? {
                AttributeValue::S(s) => Some(AttributeValue::N(s.len().to_string())),
                _ => None,
            },
        }
    }

    fn order(a: &AttributeValue, b: &AttributeValue) -> Option<std::cmp::Ordering> {
        match (a, b) {
            (AttributeValue::S(a), AttributeValue::S(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
            (AttributeValue::N(a), AttributeValue::N(b)) => {
                Some(a.parse::<i64>().ok()?.cmp(&b.parse::<i64>().ok()?))
            }
            _ => None,
        }
    }

    fn holds(&self, c: &Cond) -> bool {
        use std::cmp::Ordering::*;
        match c {
            Cond::Or(a, b) => self.holds(a) || self.holds(b),
            Cond::And(a, b) => self.holds(a) && self.holds(b),
            Cond::Not(a) => !self.holds(a),
            Cond::Cmp(a, op, b) => {
                let (Some(a), Some(b)) = (self.operand(a), self.operand(b)) else {
                    return false;
                };
                let Some(o) = Self::order(&a, &b) else {
                    return op == "<>";
                };
                match op.as_str() {
                    "=" => o == Equal,
                    "<>" => o != Equal,
                    "<" => o == Less,
                    "<=" => o != Greater,
                    ">" => o == Greater,
                    ">=" => o != Less,
                    _ => panic!("comparator {op}"),
                }
            }
            Cond::Between(a, lo, hi) => {
                let (Some(a), Some(lo), Some(hi)) =
                    (self.operand(a), self.operand(lo), self.operand(hi))
                else {
                    return false;
                };
                matches!(Self::order(&a, &lo), Some(Greater | Equal))
                    && matches!(Self::order(&a, &hi), Some(Less | Equal))
            }
            Cond::In(a, list) => {
                let Some(a) = self.operand(a) else {
                    return false;
                };
                list.iter()
                    .filter_map(|x| self.operand(x))
                    .any(|x| Self::order(&a, &x) == Some(Equal))
            }
            Cond::Function(f, args) => {
                let arg = |i: usize| args.get(i).and_then(|a| self.operand(a));
                match (f.as_str(), arg(0), arg(1)) {
                    ("attribute_exists", a, _) => a.is_some(),
                    ("attribute_not_exists", a, _) => a.is_none(),
                    ("contains", Some(AttributeValue::S(a)), Some(AttributeValue::S(b))) => {
                        a.contains(b.as_str())
                    }
                    ("begins_with", Some(AttributeValue::S(a)), Some(AttributeValue::S(b))) => {
                        a.starts_with(b.as_str())
                    }
                    ("contains" | "begins_with", _, _) => false,
                    (other, _, _) => panic!("function {other}"),
                }
            }
        }
    }
}

/// Whether `text` holds on `item` (none: no item), and the parentheses it nests.
fn evaluate(
    text: &str,
    names: Option<&HashMap<String, String>>,
    values: Option<&Item>,
    item: Option<&Item>,
) -> (bool, usize) {
    let (cond, depth) = parse(text);
    let no_names = HashMap::new();
    let no_values = Item::new();
    let env = Env {
        names: names.unwrap_or(&no_names),
        values: values.unwrap_or(&no_values),
        item,
    };
    (env.holds(&cond), depth)
}

/// Whether a plan selects `t`: its `FilterExpression` holds on the item (the key condition is
/// not evaluated: the caller gives only items it selects) and the conditions checked here hold.
/// Also returns the parentheses the expression nests.
fn selects(plan: &Plan<'_>, t: &Trainer) -> (bool, usize) {
    if plan.nothing {
        return (false, 0);
    }
    let item = to_item(t);
    let (remote, depth) = match &plan.filter {
        Some(text) => evaluate(text, plan.names.as_ref(), plan.values.as_ref(), Some(&item)),
        None => (true, 0),
    };
    (remote && plan.local.iter().all(|f| f.matches(t)), depth)
}

const WORDS: [&str; 10] = [
    "",
    "a",
    "Ann",
    "ann",
    "Lee",
    "Le",
    "é",
    "BODYBUILDING",
    "SENIORFITNESS",
    "0000",
];

fn text() -> impl Strategy<Value = String> {
    proptest::sample::select(WORDS.to_vec()).prop_map(str::to_string)
}

fn scalar() -> impl Strategy<Value = Scalar> {
    prop_oneof![
        text().prop_map(Scalar::Str),
        (15..45i64).prop_map(Scalar::Int),
        proptest::sample::select(Specialty::ALL.to_vec())
            .prop_map(|s| Scalar::Str(s.as_str().to_string())),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        scalar().prop_map(Op::Eq),
        scalar().prop_map(Op::Ne),
        scalar().prop_map(Op::Lt),
        scalar().prop_map(Op::Le),
        scalar().prop_map(Op::Gt),
        scalar().prop_map(Op::Ge),
        text().prop_map(Op::Contains),
        text().prop_map(Op::NotContains),
        text().prop_map(Op::BeginsWith),
        (scalar(), scalar()).prop_map(|(a, b)| Op::Between(a, b)),
        proptest::collection::vec(scalar(), 0..4).prop_map(Op::In),
        proptest::collection::vec(scalar(), 0..4).prop_map(Op::NotIn),
        any::<bool>().prop_map(Op::Exists),
    ]
}

/// Filters up to 8 levels deep: deeper than the parser allows, to reach the cut.
fn filter() -> impl Strategy<Value = Filter> {
    let cond = (proptest::sample::select(Field::ALL.to_vec()), op())
        .prop_map(|(field, op)| Filter::Cond(field, op));
    cond.prop_recursive(8, 40, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Filter::And),
            proptest::collection::vec(inner.clone(), 1..4).prop_map(Filter::Or),
            inner.prop_map(|f| Filter::Not(Box::new(f))),
        ]
    })
}

/// The parts of a filter of `and`s and `or`s alternating 8 to 12 levels deep (see
/// [`alternating`]): conditions that about half the trainers hold, whether to steer each, and
/// whether the innermost level is an `or`.
fn alternating_parts() -> impl Strategy<Value = (Vec<(Filter, bool)>, bool)> {
    let cond = prop_oneof![
        (15..45i64).prop_map(|a| Filter::Cond(Field::Age, Op::Lt(Scalar::Int(a)))),
        (15..45i64).prop_map(|a| Filter::Cond(Field::Age, Op::Ge(Scalar::Int(a)))),
        any::<bool>().prop_map(|b| Filter::Cond(Field::Specialty, Op::Exists(b))),
        scalar().prop_map(|s| Filter::Cond(Field::Specialty, Op::Ne(s))),
        text().prop_map(|w| Filter::Cond(Field::FirstName, Op::Gt(Scalar::Str(w)))),
        text().prop_map(|w| Filter::Cond(Field::LastName, Op::Contains(w))),
    ];
    (
        proptest::collection::vec((cond, proptest::bool::weighted(0.85)), 8..13),
        any::<bool>(),
    )
}

/// A filter that nests deeper than a read may: `and`s and `or`s alternating, each with a
/// condition of its own, `steer`ed conditions chosen (by a `not`) so that `t`'s match is
/// decided deep down, where the expression is cut: true in each `and`, false in each `or`.
fn alternating(t: &Trainer, parts: Vec<(Filter, bool)>, or_first: bool) -> Filter {
    let mut f: Option<Filter> = None;
    for (i, (c, steer)) in parts.into_iter().enumerate() {
        let or = (i % 2 == 0) == or_first;
        let c = if steer && c.matches(t) == or {
            Filter::Not(Box::new(c))
        } else {
            c
        };
        let parts = match f.take() {
            None => vec![c],
            Some(inner) => vec![c, inner],
        };
        f = Some(if or {
            Filter::Or(parts)
        } else {
            Filter::And(parts)
        });
    }
    f.unwrap_or(Filter::And(vec![]))
}

fn trainer() -> impl Strategy<Value = Trainer> {
    (
        text(),
        text(),
        15..45i32,
        proptest::option::of(proptest::sample::select(Specialty::ALL.to_vec())),
        1..4i64,
    )
        .prop_map(|(first_name, last_name, age, specialty, version)| Trainer {
            id: TrainerId::from_stored("0000a000-0000-4000-8000-000000000001".to_string()),
            first_name,
            last_name,
            age,
            specialty,
            created_at: Timestamp::from_millis(0),
            updated_at: Timestamp::from_millis(0),
            version,
            owner: None,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    /// A scan, a query of `bySpecialty` and one of `bySpecialtyLastName` select what the
    /// filter says, nested at most [`MAX_READ_DEPTH`] parentheses.
    #[test]
    fn reads_select_what_the_filter_says(f in filter(), t in trainer()) {
        let want = f.matches(&t);
        let scan = Plan::list(&ListQuery { specialty: None, filter: Some(&f) });
        let (got, depth) = selects(&scan, &t);
        prop_assert_eq!(got, want, "scan: {:?}", scan.filter);
        prop_assert!(depth <= MAX_READ_DEPTH, "{:?}", scan.filter);
        if let Some(specialty) = t.specialty {
            let by_id = Plan::list(&ListQuery { specialty: Some(specialty), filter: Some(&f) });
            let (got, depth) = selects(&by_id, &t);
            prop_assert_eq!(got, want, "bySpecialty: {:?}", by_id.filter);
            prop_assert!(depth <= MAX_READ_DEPTH);
            let by_name = Plan::by_specialty(&SpecialtyQuery {
                specialty,
                last_name: None,
                direction: SortDirection::Asc,
                filter: Some(&f),
            });
            let (got, depth) = selects(&by_name, &t);
            prop_assert_eq!(got, want, "bySpecialtyLastName: {:?}", by_name.filter);
            prop_assert!(depth <= MAX_READ_DEPTH);
        }
    }

    /// The same of filters nested deeper than a read's expression may be: cut, and checked
    /// here.
    #[test]
    fn deep_reads_are_cut_and_still_exact(t in trainer(), (parts, or_first) in alternating_parts()) {
        let f = alternating(&t, parts, or_first);
        let scan = Plan::list(&ListQuery { specialty: None, filter: Some(&f) });
        let (got, depth) = selects(&scan, &t);
        prop_assert_eq!(got, f.matches(&t), "scan: {:?}", scan.filter);
        prop_assert!(depth <= MAX_READ_DEPTH, "{:?}", scan.filter);
    }

    /// A write's condition holds exactly when the trainer exists, is at the version expected
    /// and holds the filter, nested at most [`MAX_WRITE_DEPTH`] parentheses (filters as deep as
    /// the contract allows; deeper ones may be refused, never written wrong).
    #[test]
    fn write_conditions_hold_when_the_filter_does(
        f in filter(),
        t in trainer(),
        expected in proptest::option::of(1..4i64),
    ) {
        let pre = Precondition { version: expected, condition: Some(f.clone()), owner: None };
        let mut e = Expressions::new();
        let Ok(text) = write_condition(&mut e, &pre) else {
            prop_assert!(levels(&f) > trainers_core::filter::MAX_LEVELS);
            return Ok(());
        };
        let (names, values) = e.finish(&[&text]);
        let item = to_item(&t);
        let (got, depth) = evaluate(&text, names.as_ref(), values.as_ref(), Some(&item));
        let want = expected.is_none_or(|v| v == t.version) && f.matches(&t);
        prop_assert_eq!(got, want, "{}", text);
        prop_assert!(depth <= MAX_WRITE_DEPTH, "{}", text);
        let (on_nothing, _) = evaluate(&text, names.as_ref(), values.as_ref(), None);
        prop_assert!(!on_nothing, "a write never makes an item: {}", text);
    }
}

/// The levels of `and`, `or` and `not` of a filter, as the parser counts them (a condition
/// alone is at level 1).
fn levels(f: &Filter) -> usize {
    match f {
        Filter::Cond(..) => 1,
        Filter::Not(inner) => 1 + levels(inner),
        Filter::And(parts) | Filter::Or(parts) => 1 + parts.iter().map(levels).max().unwrap_or(0),
    }
}

#[test]
fn four_nested_nots_are_no_nesting_at_all() {
    let leaf = Filter::And(vec![
        Filter::Cond(Field::Specialty, Op::Ne(Scalar::Str("BODYBUILDING".into()))),
        Filter::Cond(Field::FirstName, Op::Contains("a".into())),
        Filter::Cond(Field::Age, Op::Lt(Scalar::Int(30))),
    ]);
    let mut f = leaf;
    for _ in 0..4 {
        f = Filter::Not(Box::new(f));
    }
    let plan = Plan::list(&ListQuery {
        specialty: None,
        filter: Some(&f),
    });
    assert_eq!(
        plan.filter.as_deref(),
        Some("(NOT attribute_exists(#specialty) OR #specialty <> :v0) AND contains(#firstName, :v1) AND #age < :v2")
    );
    f = Filter::Not(Box::new(f));
    let plan = Plan::list(&ListQuery {
        specialty: None,
        filter: Some(&f),
    });
    assert_eq!(
        plan.filter.as_deref(),
        Some("attribute_exists(#specialty) AND NOT #specialty <> :v0 OR NOT contains(#firstName, :v1) OR #age >= :v2"),
        "NOT stays on specialty, which may be absent; age's comparison turns"
    );
}

#[test]
fn what_nests_too_deep_is_checked_here() {
    // and(or(and(or(and(or(and(or ...)))))): four ORs in ANDs.
    let cond = |age: i64| Filter::Cond(Field::Age, Op::Eq(Scalar::Int(age)));
    let mut f = Filter::And(vec![cond(1), cond(2)]);
    for i in 0..4 {
        f = Filter::And(vec![cond(10 + i), Filter::Or(vec![cond(20 + i), f])]);
    }
    let plan = Plan::list(&ListQuery {
        specialty: None,
        filter: Some(&f),
    });
    let text = plan.filter.clone().unwrap_or_default();
    assert_eq!(parse(&text).1, MAX_READ_DEPTH, "{text}");
    let Filter::And(parts) = &f else {
        panic!("an and")
    };
    assert_eq!(
        plan.local,
        parts.iter().collect::<Vec<_>>(),
        "the whole filter is checked here"
    );
    // Within the bound, nothing is.
    let shallow = Filter::And(vec![cond(10), Filter::Or(vec![cond(20), cond(1)])]);
    let plan = Plan::list(&ListQuery {
        specialty: None,
        filter: Some(&shallow),
    });
    assert!(plan.local.is_empty());
}
