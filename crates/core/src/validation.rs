//! The rules for client input, in one place so that every entrypoint applies the same ones.

use std::fmt;

use crate::error::Error;

pub const NAME_MAX_CHARS: usize = 100;
pub const AGE_MIN: i32 = 16;
pub const AGE_MAX: i32 = 100;
pub const LIMIT_DEFAULT: i32 = 20;
pub const LIMIT_MAX: i32 = 100;

/// A first or last name as the API stores it: trimmed of surrounding white space, 1 to
/// [`NAME_MAX_CHARS`] characters, no control characters. Made only by [`TrainerName::parse`], so
/// a value of this type has passed the rules once and needs no second check.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TrainerName(String);

impl TrainerName {
    /// Trims `raw` and checks it. `field` is the argument's GraphQL name (`firstName`,
    /// `lastName`), which the error names.
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, Error> {
        let trimmed = raw.trim();
        let chars = trimmed.chars().count();
        if chars == 0 {
            return Err(Error::validation(
                field,
                format!("{field} must not be empty"),
            ));
        }
        if chars > NAME_MAX_CHARS {
            return Err(Error::validation(
                field,
                format!("{field} must be at most {NAME_MAX_CHARS} characters, not {chars}"),
            ));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(Error::validation(
                field,
                format!("{field} must not contain control characters"),
            ));
        }
        Ok(TrainerName(trimmed.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl AsRef<str> for TrainerName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TrainerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<TrainerName> for String {
    fn from(name: TrainerName) -> String {
        name.0
    }
}

/// A trainer's age: [`AGE_MIN`] to [`AGE_MAX`] inclusive. Made only by [`Age::parse`].
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Age(i32);

impl Age {
    pub fn parse(raw: i32) -> Result<Self, Error> {
        if (AGE_MIN..=AGE_MAX).contains(&raw) {
            Ok(Age(raw))
        } else {
            Err(Error::validation(
                "age",
                format!("age must be between {AGE_MIN} and {AGE_MAX}, not {raw}"),
            ))
        }
    }

    pub fn get(self) -> i32 {
        self.0
    }
}

impl From<Age> for i32 {
    fn from(age: Age) -> i32 {
        age.0
    }
}

impl fmt::Display for Age {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

pub fn limit(raw: Option<i32>) -> Result<usize, Error> {
    let limit = raw.unwrap_or(LIMIT_DEFAULT);
    if (1..=LIMIT_MAX).contains(&limit) {
        Ok(limit as usize)
    } else {
        Err(Error::validation(
            "limit",
            format!("limit must be between 1 and {LIMIT_MAX}, not {limit}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_are_trimmed() {
        let name = TrainerName::parse("firstName", "  John \t").ok();
        assert_eq!(name.as_ref().map(TrainerName::as_str), Some("John"));
    }

    #[test]
    fn bad_names_name_their_argument() {
        for bad in ["", "   ", "a\u{0}b", "line\nbreak", &"x".repeat(101)] {
            match TrainerName::parse("lastName", bad) {
                Err(Error::Validation { argument, message }) => {
                    assert_eq!(argument, "lastName");
                    assert!(message.contains("lastName"), "{message}");
                }
                other => panic!("{bad:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn limits_of_age_and_limit() {
        let age = Age::parse;
        assert!(age(15).is_err() && age(16).is_ok() && age(100).is_ok() && age(101).is_err());
        assert_eq!(age(44).ok().map(Age::get), Some(44));
        assert_eq!(limit(None).ok(), Some(20));
        assert!(limit(Some(0)).is_err() && limit(Some(101)).is_err());
        assert_eq!(limit(Some(100)).ok(), Some(100));
    }

    proptest! {
        #[test]
        fn a_valid_name_is_trimmed_and_within_bounds(raw in "\\PC*") {
            if let Ok(clean) = TrainerName::parse("firstName", &raw) {
                prop_assert_eq!(clean.as_str(), raw.trim());
                let n = clean.as_str().chars().count();
                prop_assert!((1..=NAME_MAX_CHARS).contains(&n));
                prop_assert!(!clean.as_str().chars().any(char::is_control));
            }
        }

        #[test]
        fn any_string_is_accepted_or_rejected_never_panics(raw in any::<String>()) {
            let _ = TrainerName::parse("firstName", &raw);
        }

        #[test]
        fn age_accepts_exactly_16_to_100(raw in any::<i32>()) {
            prop_assert_eq!(Age::parse(raw).is_ok(), (16..=100).contains(&raw));
        }

        #[test]
        fn limit_accepts_exactly_1_to_100(raw in any::<i32>()) {
            prop_assert_eq!(limit(Some(raw)).is_ok(), (1..=100).contains(&raw));
        }
    }
}
