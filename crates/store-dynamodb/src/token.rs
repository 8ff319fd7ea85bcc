//! The key that signs page tokens.

use sha2::{Digest, Sha256};
use trainers_core::TokenKey;

/// The environment variable of the page-token secret (see [`crate::store::DynamoStore::new`]).
pub const TOKEN_SECRET_ENV: &str = "TRAINERS_TOKEN_SECRET";

/// The page-token key of a secret given by the operator (`TRAINERS_TOKEN_SECRET`): the same
/// as [`crate::store::DynamoStore::new`] derives from it, so servers and the Lambda function given one
/// secret agree.
pub fn token_key_from_secret(secret: &str) -> TokenKey {
    derive_token_key(Some(secret), "")
}

/// The key of `secret` or, without one (or an empty one), of the table's name.
pub(crate) fn derive_token_key(secret: Option<&str>, table: &str) -> TokenKey {
    let mut hash = Sha256::new();
    match secret.filter(|s| !s.is_empty()) {
        Some(secret) => {
            hash.update(b"trainers page tokens, secret:");
            hash.update(secret.as_bytes());
        }
        None => {
            hash.update(b"trainers page tokens, table:");
            hash.update(table.as_bytes());
        }
    }
    TokenKey::new(hash.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn token_keys_depend_on_the_secret_else_on_the_table() {
        let bytes = |k: TokenKey| {
            format!(
                "{:?}",
                trainers_core::page_token::encode(
                    &k,
                    trainers_core::page_token::Scope::Specialty(None),
                    b"p"
                )
            )
        };
        let a = bytes(derive_token_key(Some("s1"), "t"));
        assert_eq!(a, bytes(derive_token_key(Some("s1"), "other table")));
        assert_ne!(a, bytes(derive_token_key(Some("s2"), "t")));
        assert_ne!(a, bytes(derive_token_key(None, "t")));
        assert_eq!(
            bytes(derive_token_key(None, "t")),
            bytes(derive_token_key(Some(""), "t"))
        );
        assert_ne!(
            bytes(derive_token_key(None, "t")),
            bytes(derive_token_key(None, "u"))
        );
    }

    #[test]
    fn a_given_secret_keys_tokens_as_new_does() {
        let bytes = |k: TokenKey| {
            format!(
                "{:?}",
                trainers_core::page_token::encode(
                    &k,
                    trainers_core::page_token::Scope::Specialty(None),
                    b"p"
                )
            )
        };
        assert_eq!(
            bytes(token_key_from_secret("s1")),
            bytes(derive_token_key(Some("s1"), "any table"))
        );
        assert_ne!(
            bytes(token_key_from_secret("s1")),
            bytes(derive_token_key(None, "s1"))
        );
    }
}
