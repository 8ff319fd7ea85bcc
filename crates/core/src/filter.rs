//! Filters, conditions and key conditions: the one model behind `filter:` on lists, counts and
//! subscriptions and `condition:` on update and delete (contract, section 10).
//!
//! A filter arrives as the JSON of an Amplify-shaped input object (`{"age": {"gt": 30}, "or":
//! [...]}`), from the GraphQL layer or in a Lambda event, and is parsed here once, bounded
//! ([`MAX_CONDITIONS`], [`MAX_LEVELS`]) and checked (an operator on a field that does not have
//! it, `between` without two values). Subscriptions evaluate it in memory ([`Filter::matches`]);
//! each store translates it into its own query language, values always bound as parameters.
//!
//! Semantics, the same everywhere: the conditions of one object hold together (AND); `and`,
//! `or` and `not` mean what they say, and an empty list is no condition; strings compare by
//! Unicode code point (byte order of UTF-8, as SQLite and DynamoDB compare them), `contains` and
//! `beginsWith` are case-sensitive; `between` includes both ends. A field without a value (a
//! trainer without a specialty, a field a mutation did not select, for a subscriber) satisfies
//! only `ne`, `notContains`, `notIn` and `attributeExists: false`. An operator given `null` is
//! left out, as if it were not there.

use std::cmp::Ordering;
use std::fmt::Write as _;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::model::{Specialty, Trainer};

/// Conditions in one filter, at most (`in` and `notIn` count one each).
pub const MAX_CONDITIONS: usize = 25;
/// Levels of `and`, `or` and `not`, at most (a filter with none is at level 1).
pub const MAX_LEVELS: usize = 5;
/// Values in one `in` or `notIn`, at most.
pub const MAX_LIST_VALUES: usize = 25;
/// The most parts a filter or condition may have: every input object, every field or operator
/// given a value, and every item of an `and` or `or` list (a `null` one too) counts one, so empty
/// objects (`{and: [{}, {}, …]}`) cost what they weigh. (Keys given `null` are not counted: the
/// GraphQL layer hands over typed inputs with every field present, most of them `null`.) A
/// filter of 25 conditions in five levels has well under 200.
pub const MAX_PARTS: usize = 200;

/// A field of a trainer that a filter can test.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    Id,
    FirstName,
    LastName,
    Age,
    Specialty,
}

impl Field {
    pub const ALL: [Field; 5] = [
        Field::Id,
        Field::FirstName,
        Field::LastName,
        Field::Age,
        Field::Specialty,
    ];

    /// Its GraphQL name (also its DynamoDB attribute name).
    pub fn name(self) -> &'static str {
        match self {
            Field::Id => "id",
            Field::FirstName => "firstName",
            Field::LastName => "lastName",
            Field::Age => "age",
            Field::Specialty => "specialty",
        }
    }

    fn from_name(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The value of this field of `t`; `None` when it has none.
    pub fn of(self, t: &Trainer) -> Option<Scalar> {
        Some(match self {
            Field::Id => Scalar::Str(t.id.as_str().to_string()),
            Field::FirstName => Scalar::Str(t.first_name.clone()),
            Field::LastName => Scalar::Str(t.last_name.clone()),
            Field::Age => Scalar::Int(i64::from(t.age)),
            Field::Specialty => Scalar::Str(t.specialty?.as_str().to_string()),
        })
    }
}

/// A value compared with: a string (a specialty is its enum value) or an integer.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Scalar {
    Str(String),
    Int(i64),
}

impl Scalar {
    fn compare(&self, other: &Scalar) -> Option<Ordering> {
        match (self, other) {
            (Scalar::Str(a), Scalar::Str(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
            (Scalar::Int(a), Scalar::Int(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }
}

/// One operator and its operand(s).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    Eq(Scalar),
    Ne(Scalar),
    Lt(Scalar),
    Le(Scalar),
    Gt(Scalar),
    Ge(Scalar),
    Contains(String),
    NotContains(String),
    BeginsWith(String),
    /// Both ends included; the lower end first.
    Between(Scalar, Scalar),
    In(Vec<Scalar>),
    NotIn(Vec<Scalar>),
    /// `attributeExists`: whether the field has a value.
    Exists(bool),
}

impl Op {
    /// Whether a field's value (`None`: no value) satisfies this operator.
    pub fn holds(&self, value: Option<&Scalar>) -> bool {
        let Some(v) = value else {
            return matches!(
                self,
                Op::Ne(_) | Op::NotContains(_) | Op::NotIn(_) | Op::Exists(false)
            );
        };
        let cmp = |x: &Scalar| v.compare(x);
        let text = |s: &str, f: fn(&str, &str) -> bool| match v {
            Scalar::Str(v) => f(v, s),
            Scalar::Int(_) => false,
        };
        match self {
            Op::Eq(x) => cmp(x) == Some(Ordering::Equal),
            Op::Ne(x) => cmp(x) != Some(Ordering::Equal),
            Op::Lt(x) => cmp(x) == Some(Ordering::Less),
            Op::Le(x) => matches!(cmp(x), Some(Ordering::Less | Ordering::Equal)),
            Op::Gt(x) => cmp(x) == Some(Ordering::Greater),
            Op::Ge(x) => matches!(cmp(x), Some(Ordering::Greater | Ordering::Equal)),
            Op::Contains(s) => text(s, |v, s| v.contains(s)),
            Op::NotContains(s) => !text(s, |v, s| v.contains(s)),
            Op::BeginsWith(s) => text(s, |v, s| v.starts_with(s)),
            Op::Between(lo, hi) => {
                matches!(cmp(lo), Some(Ordering::Greater | Ordering::Equal))
                    && matches!(cmp(hi), Some(Ordering::Less | Ordering::Equal))
            }
            Op::In(xs) => xs.iter().any(|x| cmp(x) == Some(Ordering::Equal)),
            Op::NotIn(xs) => !xs.iter().any(|x| cmp(x) == Some(Ordering::Equal)),
            Op::Exists(b) => *b,
        }
    }

    /// Its Amplify name.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Eq(_) => "eq",
            Op::Ne(_) => "ne",
            Op::Lt(_) => "lt",
            Op::Le(_) => "le",
            Op::Gt(_) => "gt",
            Op::Ge(_) => "ge",
            Op::Contains(_) => "contains",
            Op::NotContains(_) => "notContains",
            Op::BeginsWith(_) => "beginsWith",
            Op::Between(..) => "between",
            Op::In(_) => "in",
            Op::NotIn(_) => "notIn",
            Op::Exists(_) => "attributeExists",
        }
    }
}

/// A parsed filter or condition.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Filter {
    /// Every one holds (an empty list: always).
    And(Vec<Filter>),
    /// At least one holds (an empty list is left out by the parser).
    Or(Vec<Filter>),
    Not(Box<Filter>),
    Cond(Field, Op),
}

/// Which input type a filter was given as: it decides the fields and operators allowed, and
/// the argument an error names.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum FilterKind {
    /// `ModelTrainersFilterInput` (`filter:` of `allTrainers`, `countTrainers`,
    /// `trainersBySpecialty`).
    List,
    /// `ModelTrainersConditionInput` (`condition:` of `updateTrainers`, `deleteTrainer`).
    Condition,
    /// `ModelSubscriptionTrainersFilterInput` (`filter:` of the subscriptions).
    Subscription,
}

impl FilterKind {
    fn argument(self) -> &'static str {
        match self {
            FilterKind::Condition => "condition",
            FilterKind::List | FilterKind::Subscription => "filter",
        }
    }

    /// Whether this kind allows `op` on `field`: Amplify's operators of the field's type; a
    /// subscription's `specialty` is a string, and subscriptions add `in` and `notIn`.
    fn allows(self, field: Field, op: &str) -> bool {
        const STRING: &[&str] = &[
            "ne",
            "eq",
            "le",
            "lt",
            "ge",
            "gt",
            "contains",
            "notContains",
            "between",
            "beginsWith",
        ];
        const INT: &[&str] = &["ne", "eq", "le", "lt", "ge", "gt", "between"];
        const ID: &[&str] = &["ne", "eq", "le", "lt", "ge", "gt", "beginsWith"];
        const SPECIALTY: &[&str] = &["eq", "ne", "attributeExists"];
        let subscription = self == FilterKind::Subscription;
        let of_type = match field {
            Field::Age => INT,
            Field::Id | Field::Specialty if subscription => STRING,
            Field::Id => ID,
            Field::Specialty => SPECIALTY,
            Field::FirstName | Field::LastName => STRING,
        };
        of_type.contains(&op) || (subscription && matches!(op, "in" | "notIn"))
    }

    fn has_field(self, field: Field) -> bool {
        !(self == FilterKind::Condition && field == Field::Id)
    }

    fn has_not(self) -> bool {
        self != FilterKind::Subscription
    }
}

impl Filter {
    /// Parses the JSON of a filter input object. `null` is no filter (`Ok(None)`), as is an
    /// object with no condition in it.
    pub fn parse(kind: FilterKind, value: &Value) -> Result<Option<Filter>, Error> {
        let mut parser = Parser {
            kind,
            conditions: 0,
            parts: 0,
        };
        let filter = match value {
            Value::Null => return Ok(None),
            Value::Object(object) => parser.object(object, 1, kind.argument())?,
            _ => return Err(parser.error(kind.argument(), "must be an input object")),
        };
        Ok(match filter {
            Filter::And(parts) if parts.is_empty() => None,
            f => Some(f),
        })
    }

    /// Whether a record holds the filter; `value` gives each field's value, `None` when it has
    /// none.
    pub fn matches_with(&self, value: &dyn Fn(Field) -> Option<Scalar>) -> bool {
        match self {
            Filter::And(parts) => parts.iter().all(|f| f.matches_with(value)),
            Filter::Or(parts) => parts.iter().any(|f| f.matches_with(value)),
            Filter::Not(inner) => !inner.matches_with(value),
            Filter::Cond(field, op) => op.holds(value(*field).as_ref()),
        }
    }

    /// Whether a stored trainer holds the filter.
    pub fn matches(&self, t: &Trainer) -> bool {
        self.matches_with(&|f| f.of(t))
    }

    /// A short digest of the filter, the same for the same filter: what binds a page token to
    /// it.
    pub fn digest(&self) -> [u8; 8] {
        let mut text = String::new();
        self.describe(&mut text);
        let hash = Sha256::digest(text.as_bytes());
        let mut out = [0u8; 8];
        out.copy_from_slice(&hash[..8]);
        out
    }

    /// A canonical text of the filter (for the digest).
    fn describe(&self, out: &mut String) {
        match self {
            Filter::And(parts) | Filter::Or(parts) => {
                out.push_str(if matches!(self, Filter::And(_)) {
                    "and("
                } else {
                    "or("
                });
                for p in parts {
                    p.describe(out);
                    out.push(',');
                }
                out.push(')');
            }
            Filter::Not(inner) => {
                out.push_str("not(");
                inner.describe(out);
                out.push(')');
            }
            Filter::Cond(field, op) => {
                let _ = write!(out, "{}:{op:?};", field.name());
            }
        }
    }
}

struct Parser {
    kind: FilterKind,
    conditions: usize,
    parts: usize,
}

impl Parser {
    fn error(&self, path: &str, what: &str) -> Error {
        Error::validation(self.kind.argument(), format!("{path} {what}"))
    }

    /// Counts `n` parts of the input against [`MAX_PARTS`], before any work on them.
    fn count(&mut self, n: usize) -> Result<(), Error> {
        self.parts = self.parts.saturating_add(n);
        if self.parts > MAX_PARTS {
            return Err(self.error(
                self.kind.argument(),
                &format!(
                    "has more than {MAX_PARTS} parts (input objects, fields, operators and list \
                     items, empty ones too)"
                ),
            ));
        }
        Ok(())
    }

    fn object(
        &mut self,
        object: &Map<String, Value>,
        level: usize,
        path: &str,
    ) -> Result<Filter, Error> {
        if level > MAX_LEVELS {
            return Err(self.error(
                self.kind.argument(),
                &format!("is nested more than {MAX_LEVELS} levels deep (and, or, not)"),
            ));
        }
        // The object and each key given a value, before any of them is looked at.
        self.count(1 + object.values().filter(|v| !v.is_null()).count())?;
        let mut parts = Vec::new();
        for (key, value) in object {
            let here = format!("{path}.{key}");
            if value.is_null() {
                continue;
            }
            match key.as_str() {
                "and" | "or" => {
                    let Value::Array(items) = value else {
                        return Err(self.error(&here, "must be a list of filters"));
                    };
                    self.count(items.len())?;
                    let mut inner = Vec::with_capacity(items.len());
                    for (i, item) in items.iter().enumerate() {
                        let at = format!("{here}[{i}]");
                        match item {
                            Value::Object(o) => inner.push(self.object(o, level + 1, &at)?),
                            Value::Null => {}
                            _ => return Err(self.error(&at, "must be an input object")),
                        }
                    }
                    if inner.is_empty() {
                        continue;
                    }
                    parts.push(if key == "and" {
                        Filter::And(inner)
                    } else {
                        Filter::Or(inner)
                    });
                }
                "not" if self.kind.has_not() => {
                    let Value::Object(o) = value else {
                        return Err(self.error(&here, "must be an input object"));
                    };
                    parts.push(Filter::Not(Box::new(self.object(o, level + 1, &here)?)));
                }
                name => {
                    let field = Field::from_name(name)
                        .filter(|f| self.kind.has_field(*f))
                        .ok_or_else(|| {
                            self.error(&here, "is not a field that can be filtered on")
                        })?;
                    let Value::Object(ops) = value else {
                        return Err(self.error(&here, "must be an input object of operators"));
                    };
                    self.count(ops.values().filter(|v| !v.is_null()).count())?;
                    for (op, operand) in ops {
                        if operand.is_null() {
                            continue;
                        }
                        let at = format!("{here}.{op}");
                        if !self.kind.allows(field, op) {
                            return Err(self.error(&at, "is not an operator of this field"));
                        }
                        self.conditions += 1;
                        if self.conditions > MAX_CONDITIONS {
                            return Err(self.error(
                                self.kind.argument(),
                                &format!("has more than {MAX_CONDITIONS} conditions"),
                            ));
                        }
                        parts.push(Filter::Cond(field, self.op(field, op, operand, &at)?));
                    }
                }
            }
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Filter::And(parts)
        })
    }

    fn scalar(&self, field: Field, value: &Value, at: &str) -> Result<Scalar, Error> {
        match (field, value) {
            (Field::Age, Value::Number(n)) => n
                .as_i64()
                .filter(|n| i32::try_from(*n).is_ok())
                .map(Scalar::Int)
                .ok_or_else(|| self.error(at, "must be a 32-bit integer")),
            (Field::Age, _) => Err(self.error(at, "must be a 32-bit integer")),
            (Field::Specialty, Value::String(s))
                if self.kind != FilterKind::Subscription && s.parse::<Specialty>().is_err() =>
            {
                Err(self.error(at, "must be a Specialty"))
            }
            (_, Value::String(s)) => Ok(Scalar::Str(s.clone())),
            _ => Err(self.error(at, "must be a string")),
        }
    }

    fn text(&self, value: &Value, at: &str) -> Result<String, Error> {
        value
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| self.error(at, "must be a string"))
    }

    fn op(&self, field: Field, op: &str, value: &Value, at: &str) -> Result<Op, Error> {
        let list = |max: usize| -> Result<Vec<Scalar>, Error> {
            let Value::Array(items) = value else {
                return Err(self.error(at, "must be a list"));
            };
            if items.len() > max {
                return Err(self.error(at, &format!("takes at most {max} values")));
            }
            items.iter().map(|v| self.scalar(field, v, at)).collect()
        };
        Ok(match op {
            "eq" => Op::Eq(self.scalar(field, value, at)?),
            "ne" => Op::Ne(self.scalar(field, value, at)?),
            "lt" => Op::Lt(self.scalar(field, value, at)?),
            "le" => Op::Le(self.scalar(field, value, at)?),
            "gt" => Op::Gt(self.scalar(field, value, at)?),
            "ge" => Op::Ge(self.scalar(field, value, at)?),
            "contains" => Op::Contains(self.text(value, at)?),
            "notContains" => Op::NotContains(self.text(value, at)?),
            "beginsWith" => Op::BeginsWith(self.text(value, at)?),
            "between" => {
                let bounds = list(2)?;
                let [lo, hi] = <[Scalar; 2]>::try_from(bounds)
                    .map_err(|_| self.error(at, "takes exactly two values, the lower first"))?;
                if lo.compare(&hi) == Some(Ordering::Greater) {
                    return Err(self.error(at, "takes its lower value first"));
                }
                Op::Between(lo, hi)
            }
            "in" => Op::In(list(MAX_LIST_VALUES)?),
            "notIn" => Op::NotIn(list(MAX_LIST_VALUES)?),
            "attributeExists" => Op::Exists(
                value
                    .as_bool()
                    .ok_or_else(|| self.error(at, "must be a Boolean"))?,
            ),
            _ => return Err(self.error(at, "is not an operator of this field")),
        })
    }
}

/// A condition on the sort key `lastName` of `trainersBySpecialty` (`ModelStringKeyConditionInput`):
/// one operator at most.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum KeyCondition {
    Eq(String),
    Le(String),
    Lt(String),
    Ge(String),
    Gt(String),
    Between(String, String),
    BeginsWith(String),
}

impl KeyCondition {
    /// Parses the JSON of a `ModelStringKeyConditionInput`; `null` or `{}` is none.
    pub fn parse(value: &Value) -> Result<Option<KeyCondition>, Error> {
        let error = |what: &str| Error::validation("lastName", format!("lastName {what}"));
        let object = match value {
            Value::Null => return Ok(None),
            Value::Object(o) => o,
            _ => return Err(error("must be an input object")),
        };
        let given: Vec<(&String, &Value)> = object.iter().filter(|(_, v)| !v.is_null()).collect();
        let [(op, operand)] = given.as_slice() else {
            return if given.is_empty() {
                Ok(None)
            } else {
                Err(error("takes one key condition, not several"))
            };
        };
        let text = || {
            operand
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| error(&format!(".{op} must be a string")))
        };
        Ok(Some(match op.as_str() {
            "eq" => KeyCondition::Eq(text()?),
            "le" => KeyCondition::Le(text()?),
            "lt" => KeyCondition::Lt(text()?),
            "ge" => KeyCondition::Ge(text()?),
            "gt" => KeyCondition::Gt(text()?),
            "beginsWith" => KeyCondition::BeginsWith(text()?),
            "between" => {
                let bounds: Option<Vec<String>> = operand
                    .as_array()
                    .map(|a| a.iter().map(|v| v.as_str().map(str::to_string)).collect())
                    .and_then(|v: Option<Vec<String>>| v);
                match bounds.as_deref() {
                    Some([lo, hi]) if lo.as_bytes() <= hi.as_bytes() => {
                        KeyCondition::Between(lo.clone(), hi.clone())
                    }
                    Some([_, _]) => return Err(error(".between takes its lower value first")),
                    _ => return Err(error(".between takes exactly two strings, the lower first")),
                }
            }
            other => return Err(error(&format!(".{other} is not a key condition"))),
        }))
    }

    /// The same condition as a filter operator.
    pub fn op(&self) -> Op {
        let s = |v: &String| Scalar::Str(v.clone());
        match self {
            KeyCondition::Eq(v) => Op::Eq(s(v)),
            KeyCondition::Le(v) => Op::Le(s(v)),
            KeyCondition::Lt(v) => Op::Lt(s(v)),
            KeyCondition::Ge(v) => Op::Ge(s(v)),
            KeyCondition::Gt(v) => Op::Gt(s(v)),
            KeyCondition::Between(lo, hi) => Op::Between(s(lo), s(hi)),
            KeyCondition::BeginsWith(v) => Op::BeginsWith(v.clone()),
        }
    }

    /// Whether a last name meets it.
    pub fn holds(&self, last_name: &str) -> bool {
        self.op().holds(Some(&Scalar::Str(last_name.to_string())))
    }
}

/// The order of `trainersBySpecialty` (`ModelSortDirection`).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub enum SortDirection {
    #[default]
    Asc,
    Desc,
}

/// The smallest string greater than every string that starts with `prefix`, if there is one:
/// the exclusive upper end of a prefix range, for an index.
pub fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = match last {
            '\u{D7FF}' => Some('\u{E000}'),
            char::MAX => None,
            c => char::from_u32(c as u32 + 1),
        };
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Timestamp, TrainerId};
    use serde_json::json;

    fn trainer(first: &str, last: &str, age: i32, specialty: Option<Specialty>) -> Trainer {
        Trainer {
            id: TrainerId::from_stored("0190f2a4-5b6c-7d8e-9f00-112233445566".into()),
            first_name: first.into(),
            last_name: last.into(),
            age,
            specialty,
            created_at: Timestamp::from_millis(0),
            updated_at: Timestamp::from_millis(0),
            version: 1,
            owner: None,
        }
    }

    fn list(value: Value) -> Filter {
        Filter::parse(FilterKind::List, &value)
            .expect("a valid filter")
            .expect("a filter")
    }

    fn refused(kind: FilterKind, value: Value) -> String {
        match Filter::parse(kind, &value) {
            Err(e) => e.to_string(),
            Ok(f) => panic!("accepted: {f:?}"),
        }
    }

    #[test]
    fn conditions_of_one_object_hold_together_and_or_not_mean_what_they_say() {
        let ada = trainer("Ada", "Lovelace", 36, Some(Specialty::Bodybuilding));
        assert!(list(json!({"firstName": {"eq": "Ada"}, "age": {"ge": 36}})).matches(&ada));
        assert!(!list(json!({"firstName": {"eq": "Ada"}, "age": {"gt": 36}})).matches(&ada));
        assert!(
            list(json!({"or": [{"age": {"lt": 10}}, {"lastName": {"beginsWith": "Love"}}]}))
                .matches(&ada)
        );
        assert!(!list(json!({"not": {"firstName": {"contains": "d"}}})).matches(&ada));
        assert!(list(json!({"age": {"between": [36, 40]}})).matches(&ada));
        assert!(!list(json!({"firstName": {"contains": "ADA"}})).matches(&ada));
        assert_eq!(Filter::parse(FilterKind::List, &json!({})).ok(), Some(None));
        assert_eq!(
            Filter::parse(FilterKind::List, &json!({"or": []})).ok(),
            Some(None)
        );
    }

    #[test]
    fn a_trainer_without_a_specialty_meets_only_the_negative_operators() {
        let none = trainer("A", "B", 30, None);
        assert!(list(json!({"specialty": {"attributeExists": false}})).matches(&none));
        assert!(list(json!({"specialty": {"ne": "BODYBUILDING"}})).matches(&none));
        assert!(!list(json!({"specialty": {"eq": "BODYBUILDING"}})).matches(&none));
        assert!(list(json!({"not": {"specialty": {"eq": "BODYBUILDING"}}})).matches(&none));
        let sub = Filter::parse(
            FilterKind::Subscription,
            &json!({"specialty": {"notIn": ["YOGA"]}}),
        )
        .ok()
        .flatten();
        assert!(sub.is_some_and(|f| f.matches(&none)));
    }

    #[test]
    fn strings_compare_by_code_point_case_sensitively() {
        let t = trainer("Émile", "zeta", 30, None);
        // 'É' (U+00C9) sorts after every ASCII letter; 'z' after 'Z'.
        assert!(list(json!({"firstName": {"gt": "Zed"}})).matches(&t));
        assert!(list(json!({"lastName": {"gt": "Zeta"}})).matches(&t));
        assert!(!list(json!({"lastName": {"eq": "Zeta"}})).matches(&t));
    }

    #[test]
    fn bounds_and_shapes_are_refused_naming_the_argument() {
        let many: Vec<Value> = (0..26).map(|i| json!({"age": {"ne": i}})).collect();
        let e = refused(FilterKind::List, json!({ "and": many }));
        assert!(e.starts_with("filter has more than 25 conditions"), "{e}");
        let mut deep = json!({"age": {"eq": 1}});
        for _ in 0..5 {
            deep = json!({ "not": deep });
        }
        let e = refused(FilterKind::Condition, deep);
        assert!(
            e.starts_with("condition is nested more than 5 levels"),
            "{e}"
        );
        let e = refused(FilterKind::List, json!({"age": {"between": [1]}}));
        assert_eq!(
            e,
            "filter.age.between takes exactly two values, the lower first"
        );
        let e = refused(FilterKind::List, json!({"age": {"between": [5, 1]}}));
        assert_eq!(e, "filter.age.between takes its lower value first");
        let e = refused(FilterKind::Condition, json!({"id": {"eq": "x"}}));
        assert_eq!(e, "condition.id is not a field that can be filtered on");
        let e = refused(FilterKind::List, json!({"specialty": {"contains": "Y"}}));
        assert_eq!(
            e,
            "filter.specialty.contains is not an operator of this field"
        );
        let e = refused(FilterKind::List, json!({"or": [{"age": {"eq": "x"}}]}));
        assert_eq!(e, "filter.or[0].age.eq must be a 32-bit integer");
        let e = refused(FilterKind::Subscription, json!({"not": {}}));
        assert_eq!(e, "filter.not is not a field that can be filtered on");
    }

    #[test]
    fn empty_objects_and_nulls_count_toward_the_bound_of_parts() {
        // 150,000 empty objects once cost a second of CPU and passed the bound of conditions.
        let empties: Vec<Value> = (0..150_000).map(|_| json!({})).collect();
        let e = refused(FilterKind::List, json!({ "and": empties }));
        assert!(e.starts_with("filter has more than 200 parts"), "{e}");
        let nulls: Vec<Value> = (0..300).map(|_| Value::Null).collect();
        let e = refused(FilterKind::Subscription, json!({ "or": nulls }));
        assert!(e.starts_with("filter has more than 200 parts"), "{e}");
        let nested: Vec<Value> = (0..70).map(|_| json!({"and": [{}, {}]})).collect();
        let e = refused(FilterKind::Condition, json!({ "or": nested }));
        assert!(e.starts_with("condition has more than 200 parts"), "{e}");
        // A filter at the bound of conditions and levels stays well inside it.
        let full: Vec<Value> = (0..5)
            .map(|i| json!({"or": [{"age": {"ne": i}}, {"not": {"and": [{"age": {"gt": i}}, {"firstName": {"ne": "a"}}, {"lastName": {"ne": "b"}}, {"specialty": {"ne": "BODYBUILDING"}}]}}]}))
            .collect();
        let parsed = Filter::parse(FilterKind::List, &json!({ "and": full }));
        assert!(parsed.is_ok(), "{:?}", parsed.err());
    }

    #[test]
    fn four_levels_of_nesting_under_the_top_are_allowed() {
        let mut deep = json!({"age": {"eq": 1}});
        for _ in 0..4 {
            deep = json!({ "not": deep });
        }
        assert!(Filter::parse(FilterKind::List, &deep).is_ok());
    }

    #[test]
    fn the_digest_tells_filters_apart() {
        let a = list(json!({"age": {"eq": 1}}));
        let b = list(json!({"age": {"eq": 2}}));
        assert_eq!(a.digest(), list(json!({"age": {"eq": 1}})).digest());
        assert_ne!(a.digest(), b.digest());
    }

    #[test]
    fn key_conditions_take_one_operator() {
        let k = KeyCondition::parse(&json!({"beginsWith": "Lo"}))
            .ok()
            .flatten();
        assert_eq!(k, Some(KeyCondition::BeginsWith("Lo".into())));
        assert!(KeyCondition::parse(&json!({"eq": "a", "gt": "b"})).is_err());
        assert!(KeyCondition::parse(&json!({"between": ["b", "a"]})).is_err());
        assert_eq!(KeyCondition::parse(&json!({})).ok(), Some(None));
    }

    #[test]
    fn a_prefix_ends_where_its_strings_end() {
        assert_eq!(prefix_end("Lo").as_deref(), Some("Lp"));
        assert_eq!(prefix_end("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_end("\u{10FFFF}"), None);
        assert_eq!(prefix_end(""), None);
    }
}
