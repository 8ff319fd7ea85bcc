//! Filters and key conditions as SQL: every value a `?` parameter, never spliced into the text
//! (the text holds only column names and operators, which come from this module).
//!
//! Only `specialty` may be NULL. Each condition is written to be true or false, never NULL (a
//! NULL under `NOT` would stay NULL and drop the row), so that a trainer without a specialty
//! meets exactly the conditions [`Filter::matches`] says it meets.

use rusqlite::types::Value;
use trainers_core::filter::prefix_end;
use trainers_core::{Field, Filter, KeyCondition, Op, Scalar};

/// A piece of SQL and its parameters, in the order of its `?`s.
#[derive(Debug, Default)]
pub struct Sql {
    pub text: String,
    pub params: Vec<Value>,
}

impl Sql {
    pub fn push(&mut self, text: &str) {
        self.text.push_str(text);
    }

    pub fn bind(&mut self, value: impl Into<Value>) {
        self.text.push('?');
        self.params.push(value.into());
    }

    /// `AND (filter)`.
    pub fn and_filter(&mut self, filter: &Filter) {
        self.push(" AND ");
        self.filter(filter);
    }

    pub fn filter(&mut self, filter: &Filter) {
        match filter {
            Filter::And(parts) | Filter::Or(parts) if parts.is_empty() => {
                self.push(if matches!(filter, Filter::And(_)) {
                    "1"
                } else {
                    "0"
                });
            }
            Filter::And(parts) | Filter::Or(parts) => {
                let joiner = if matches!(filter, Filter::And(_)) {
                    " AND "
                } else {
                    " OR "
                };
                self.push("(");
                for (i, part) in parts.iter().enumerate() {
                    if i > 0 {
                        self.push(joiner);
                    }
                    self.filter(part);
                }
                self.push(")");
            }
            Filter::Not(inner) => {
                self.push("(NOT ");
                self.filter(inner);
                self.push(")");
            }
            Filter::Cond(field, op) => self.condition(column(*field), op),
        }
    }

    fn condition(&mut self, column: &str, op: &Op) {
        // `coalesce(x, 0)`: false where the column is NULL.
        let compare = |sql: &mut Sql, operator: &str, value: &Scalar| {
            sql.push("coalesce(");
            sql.push(column);
            sql.push(operator);
            sql.bind(scalar(value));
            sql.push(", 0)");
        };
        match op {
            Op::Eq(v) => compare(self, " = ", v),
            Op::Ne(v) => {
                self.push("NOT ");
                compare(self, " = ", v);
            }
            Op::Lt(v) => compare(self, " < ", v),
            Op::Le(v) => compare(self, " <= ", v),
            Op::Gt(v) => compare(self, " > ", v),
            Op::Ge(v) => compare(self, " >= ", v),
            Op::Contains(s) | Op::NotContains(s) => {
                if matches!(op, Op::NotContains(_)) {
                    self.push("NOT ");
                }
                self.push("coalesce(instr(");
                self.push(column);
                self.push(", ");
                self.bind(s.clone());
                self.push(") > 0, 0)");
            }
            Op::BeginsWith(s) => {
                self.push("coalesce(substr(");
                self.push(column);
                self.push(", 1, length(");
                self.bind(s.clone());
                self.push(")) = ");
                self.bind(s.clone());
                self.push(", 0)");
            }
            Op::Between(lo, hi) => {
                self.push("coalesce(");
                self.push(column);
                self.push(" BETWEEN ");
                self.bind(scalar(lo));
                self.push(" AND ");
                self.bind(scalar(hi));
                self.push(", 0)");
            }
            Op::In(values) | Op::NotIn(values) => {
                let negated = matches!(op, Op::NotIn(_));
                if values.is_empty() {
                    self.push(if negated { "1" } else { "0" });
                    return;
                }
                if negated {
                    self.push("NOT ");
                }
                self.push("coalesce(");
                self.push(column);
                self.push(" IN (");
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        self.push(", ");
                    }
                    self.bind(scalar(v));
                }
                self.push("), 0)");
            }
            Op::Exists(true) => {
                self.push(column);
                self.push(" IS NOT NULL");
            }
            Op::Exists(false) => {
                self.push(column);
                self.push(" IS NULL");
            }
        }
    }

    /// `AND last_name ...` for a key condition, written so that the index on
    /// `(specialty, last_name, id)` serves it as a range.
    pub fn and_key_condition(&mut self, key: &KeyCondition) {
        let compare = |sql: &mut Sql, operator: &str, value: &str| {
            sql.push(" AND last_name ");
            sql.push(operator);
            sql.push(" ");
            sql.bind(value.to_string());
        };
        match key {
            KeyCondition::Eq(v) => compare(self, "=", v),
            KeyCondition::Lt(v) => compare(self, "<", v),
            KeyCondition::Le(v) => compare(self, "<=", v),
            KeyCondition::Gt(v) => compare(self, ">", v),
            KeyCondition::Ge(v) => compare(self, ">=", v),
            KeyCondition::Between(lo, hi) => {
                compare(self, ">=", lo);
                compare(self, "<=", hi);
            }
            KeyCondition::BeginsWith(prefix) => {
                compare(self, ">=", prefix);
                if let Some(end) = prefix_end(prefix) {
                    compare(self, "<", &end);
                }
            }
        }
    }
}

fn column(field: Field) -> &'static str {
    match field {
        Field::Id => "id",
        Field::FirstName => "first_name",
        Field::LastName => "last_name",
        Field::Age => "age",
        Field::Specialty => "specialty",
    }
}

fn scalar(value: &Scalar) -> Value {
    match value {
        Scalar::Str(s) => Value::Text(s.clone()),
        Scalar::Int(n) => Value::Integer(*n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use trainers_core::FilterKind;

    #[test]
    fn values_are_parameters_never_text() {
        let filter = Filter::parse(
            FilterKind::List,
            &json!({"firstName": {"eq": "'); DROP TABLE trainers; --"}, "age": {"between": null}}),
        )
        .ok()
        .flatten();
        let mut sql = Sql::default();
        if let Some(f) = &filter {
            sql.filter(f);
        }
        assert_eq!(sql.text, "coalesce(first_name = ?, 0)");
        assert_eq!(
            sql.params,
            vec![Value::Text("'); DROP TABLE trainers; --".into())]
        );
    }

    #[test]
    fn a_prefix_is_a_range_on_the_index() {
        let mut sql = Sql::default();
        sql.and_key_condition(&KeyCondition::BeginsWith("Lo".into()));
        assert_eq!(sql.text, " AND last_name >= ? AND last_name < ?");
        assert_eq!(
            sql.params,
            vec![Value::Text("Lo".into()), Value::Text("Lp".into())]
        );
    }
}
