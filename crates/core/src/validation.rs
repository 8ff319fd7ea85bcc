//! The rules for client input, in one place so that every entrypoint applies the same ones.

use crate::error::Error;

pub const NAME_MAX_CHARS: usize = 100;
pub const AGE_MIN: i32 = 16;
pub const AGE_MAX: i32 = 100;
pub const LIMIT_DEFAULT: i32 = 20;
pub const LIMIT_MAX: i32 = 100;

/// Trims a first or last name and checks it: 1 to 100 characters, no control characters.
pub fn name(argument: &'static str, raw: &str) -> Result<String, Error> {
    let trimmed = raw.trim();
    let chars = trimmed.chars().count();
    if chars == 0 {
        return Err(Error::validation(
            argument,
            format!("{argument} must not be empty"),
        ));
    }
    if chars > NAME_MAX_CHARS {
        return Err(Error::validation(
            argument,
            format!("{argument} must be at most {NAME_MAX_CHARS} characters, not {chars}"),
        ));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(Error::validation(
            argument,
            format!("{argument} must not contain control characters"),
        ));
    }
    Ok(trimmed.to_string())
}

pub fn age(raw: i32) -> Result<i32, Error> {
    if (AGE_MIN..=AGE_MAX).contains(&raw) {
        Ok(raw)
    } else {
        Err(Error::validation(
            "age",
            format!("age must be between {AGE_MIN} and {AGE_MAX}, not {raw}"),
        ))
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
        assert_eq!(name("firstName", "  John \t").ok().as_deref(), Some("John"));
    }

    #[test]
    fn bad_names_name_their_argument() {
        for bad in ["", "   ", "a\u{0}b", "line\nbreak", &"x".repeat(101)] {
            match name("lastName", bad) {
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
        assert!(age(15).is_err() && age(16).is_ok() && age(100).is_ok() && age(101).is_err());
        assert_eq!(limit(None).ok(), Some(20));
        assert!(limit(Some(0)).is_err() && limit(Some(101)).is_err());
        assert_eq!(limit(Some(100)).ok(), Some(100));
    }

    proptest! {
        #[test]
        fn a_valid_name_is_trimmed_and_within_bounds(raw in "\\PC*") {
            if let Ok(clean) = name("firstName", &raw) {
                prop_assert_eq!(clean.as_str(), raw.trim());
                let n = clean.chars().count();
                prop_assert!((1..=NAME_MAX_CHARS).contains(&n));
                prop_assert!(!clean.chars().any(char::is_control));
            }
        }

        #[test]
        fn any_string_is_accepted_or_rejected_never_panics(raw in any::<String>()) {
            let _ = name("firstName", &raw);
        }

        #[test]
        fn age_accepts_exactly_16_to_100(raw in any::<i32>()) {
            prop_assert_eq!(age(raw).is_ok(), (16..=100).contains(&raw));
        }

        #[test]
        fn limit_accepts_exactly_1_to_100(raw in any::<i32>()) {
            prop_assert_eq!(limit(Some(raw)).is_ok(), (1..=100).contains(&raw));
        }
    }
}
