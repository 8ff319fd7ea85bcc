//! The `nextToken` of `allTrainers`: opaque to clients, bound to the filter it was made for and
//! signed, so that a token that was altered, truncated or made up is refused, never followed.
//!
//! Layout before base64url: format byte, scope (what the token was made for), the store's
//! position, 16-byte HMAC tag. Format 1, a page of `allTrainers` with at most a `specialty`:
//! the scope is one byte, the specialty. Format 2, any other query or a `filter`: the scope is
//! an 8-byte digest of the query's name and arguments.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::Error;
use crate::model::Specialty;

const FORMAT_SPECIALTY: u8 = 1;
const FORMAT_DIGEST: u8 = 2;
const TAG_LEN: usize = 16;
/// Positions are small (a sequence number or a DynamoDB key); this bounds what we decode.
const MAX_TOKEN_CHARS: usize = 2048;

/// The secret that signs page tokens. Servers that share a store must share the key.
#[derive(Clone)]
pub struct TokenKey([u8; 32]);

impl TokenKey {
    pub fn new(bytes: [u8; 32]) -> Self {
        TokenKey(bytes)
    }

    fn mac(&self, body: &[u8]) -> Hmac<Sha256> {
        // HMAC takes keys of any length, so this cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("any key length");
        mac.update(body);
        mac
    }

    /// Compares in constant time.
    fn verify(&self, body: &[u8], tag: &[u8]) -> bool {
        self.mac(body).verify_truncated_left(tag).is_ok()
    }

    fn tag(&self, body: &[u8]) -> [u8; TAG_LEN] {
        let full = self.mac(body).finalize().into_bytes();
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&full[..TAG_LEN]);
        tag
    }
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(..)")
    }
}

/// A page-token secret given by the operator (`--token-secret`, `TRAINERS_TOKEN_SECRET`):
/// parsed once where it enters (`trainers serve`, the Lambda function), so that a short one,
/// which could be guessed and then used to forge tokens, stops the start. Its `Debug` hides it,
/// and [`TokenSecretError`] never holds it: the message may reach a log.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenSecret(String);

/// The fewest bytes a page-token secret may have: 256 bits, the HMAC-SHA-256 key's own size
/// (`openssl rand -base64 32` gives 44).
pub const MIN_TOKEN_SECRET_BYTES: usize = 32;

/// Why a page-token secret is refused. Never holds the secret itself.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenSecretError {
    #[error(
        "it has {0} bytes; a page-token secret has at least {MIN_TOKEN_SECRET_BYTES} \
         (make one with `openssl rand -base64 32`)"
    )]
    Short(usize),
}

impl TokenSecret {
    /// The secret in `value`; `None` when it is empty (an unset variable: the store's own
    /// random secret is used then).
    pub fn parse(value: &str) -> Result<Option<TokenSecret>, TokenSecretError> {
        if value.is_empty() {
            return Ok(None);
        }
        if value.len() < MIN_TOKEN_SECRET_BYTES {
            return Err(TokenSecretError::Short(value.len()));
        }
        Ok(Some(TokenSecret(value.to_string())))
    }

    /// The secret, to derive the signing key from.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for TokenSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenSecret(..)")
    }
}

/// What a page token was made for: the query and its arguments, all but the position. A token
/// is only accepted for the scope it was made for.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// `allTrainers`, with at most a `specialty` (tokens made before filters existed).
    Specialty(Option<Specialty>),
    /// Any other query, or one with a filter: a digest of its name and arguments.
    Digest([u8; 8]),
}

impl Scope {
    fn write(self, body: &mut Vec<u8>) {
        match self {
            Scope::Specialty(s) => {
                body.push(FORMAT_SPECIALTY);
                body.push(s.map_or(0, Specialty::code));
            }
            Scope::Digest(d) => {
                body.push(FORMAT_DIGEST);
                body.extend_from_slice(&d);
            }
        }
    }

    fn len(self) -> usize {
        match self {
            Scope::Specialty(_) => 2,
            Scope::Digest(_) => 9,
        }
    }
}

pub fn encode(key: &TokenKey, scope: Scope, position: &[u8]) -> String {
    let mut body = Vec::with_capacity(9 + position.len() + TAG_LEN);
    scope.write(&mut body);
    body.extend_from_slice(position);
    let tag = key.tag(&body);
    body.extend_from_slice(&tag);
    URL_SAFE_NO_PAD.encode(body)
}

/// The error of a token that was altered, truncated or made up.
pub fn invalid() -> Error {
    Error::validation(
        "nextToken",
        "nextToken is not valid: pass the nextToken of a previous page, unchanged",
    )
}

/// Checks a token and returns the store position inside it.
pub fn decode(key: &TokenKey, token: &str, scope: Scope) -> Result<Vec<u8>, Error> {
    if token.len() > MAX_TOKEN_CHARS {
        return Err(invalid());
    }
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
    if bytes.len() < 2 + TAG_LEN {
        return Err(invalid());
    }
    let (body, tag) = bytes.split_at(bytes.len() - TAG_LEN);
    if !key.verify(body, tag) {
        return Err(invalid());
    }
    let mut expected = Vec::with_capacity(9);
    scope.write(&mut expected);
    if body.starts_with(&expected) {
        return Ok(body[scope.len()..].to_vec());
    }
    match (body[0], scope) {
        (FORMAT_SPECIALTY, Scope::Specialty(_)) => Err(Error::validation(
            "nextToken",
            "nextToken was made for another specialty filter: pass the same specialty as for the first page",
        )),
        (FORMAT_SPECIALTY | FORMAT_DIGEST, _) => Err(Error::validation(
            "nextToken",
            "nextToken was made for another query or filter: pass the same arguments as for the first page",
        )),
        _ => Err(invalid()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_token_secret_is_refused_and_never_shown() {
        let short = "s3cret-but-short";
        let refused = TokenSecret::parse(short).expect_err("refused");
        assert_eq!(refused, TokenSecretError::Short(short.len()));
        assert!(!refused.to_string().contains(short), "{refused}");
        let thirty_one = "a".repeat(MIN_TOKEN_SECRET_BYTES - 1);
        assert!(TokenSecret::parse(&thirty_one).is_err());
        assert_eq!(TokenSecret::parse(""), Ok(None));

        let long = "k".repeat(MIN_TOKEN_SECRET_BYTES);
        let secret = TokenSecret::parse(&long)
            .expect("long enough")
            .expect("given");
        assert_eq!(secret.expose(), long);
        assert_eq!(format!("{secret:?}"), "TokenSecret(..)");
    }
    use proptest::prelude::*;

    fn key() -> TokenKey {
        TokenKey::new([7u8; 32])
    }

    fn filters() -> impl Strategy<Value = Scope> {
        prop_oneof![
            Just(Scope::Specialty(None)),
            proptest::sample::select(Specialty::ALL.to_vec())
                .prop_map(|s| Scope::Specialty(Some(s))),
            any::<[u8; 8]>().prop_map(Scope::Digest),
        ]
    }

    proptest! {
        #[test]
        fn a_token_round_trips(filter in filters(), pos in proptest::collection::vec(any::<u8>(), 0..64)) {
            let token = encode(&key(), filter, &pos);
            prop_assert_eq!(decode(&key(), &token, filter).ok(), Some(pos));
        }

        #[test]
        fn an_altered_token_is_refused(
            filter in filters(),
            pos in proptest::collection::vec(any::<u8>(), 0..64),
            at in any::<proptest::sample::Index>(),
            bit in 0u8..8,
        ) {
            let token = encode(&key(), filter, &pos);
            let mut raw = URL_SAFE_NO_PAD.decode(&token).unwrap_or_default();
            let i = at.index(raw.len());
            raw[i] ^= 1 << bit;
            let altered = URL_SAFE_NO_PAD.encode(&raw);
            let refused = matches!(
                decode(&key(), &altered, filter),
                Err(Error::Validation { argument: "nextToken", .. })
            );
            prop_assert!(refused, "an altered token was accepted");
        }

        #[test]
        fn a_truncated_token_is_refused(filter in filters(), pos in proptest::collection::vec(any::<u8>(), 0..64), cut in any::<proptest::sample::Index>()) {
            let token = encode(&key(), filter, &pos);
            let short = &token[..cut.index(token.len())];
            prop_assert!(decode(&key(), short, filter).is_err());
        }

        #[test]
        fn a_made_up_token_is_refused_without_panic(token in any::<String>(), filter in filters()) {
            prop_assert!(decode(&key(), &token, filter).is_err());
        }

        #[test]
        fn a_token_for_another_filter_is_refused(pos in proptest::collection::vec(any::<u8>(), 0..16), a in filters(), b in filters()) {
            prop_assume!(a != b);
            let token = encode(&key(), a, &pos);
            prop_assert!(decode(&key(), &token, b).is_err());
        }
    }

    #[test]
    fn a_token_signed_by_another_key_is_refused() {
        let token = encode(&TokenKey::new([1u8; 32]), Scope::Specialty(None), b"pos");
        assert!(decode(&key(), &token, Scope::Specialty(None)).is_err());
    }
}
