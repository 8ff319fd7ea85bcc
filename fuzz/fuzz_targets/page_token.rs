//! `nextToken`s: whatever string a client sends as a token, `decode` refuses it or returns the
//! position it was made with, without panicking; and every position round-trips.
//!
//! The input's first byte picks the scope ('0' none, '1' to '4' a specialty, '5' to '9' a
//! digest of a filter; any byte works);
//! the rest is both a token (as text) and a store position (as bytes). Seeds are real tokens
//! signed with `KEY` below.

#![no_main]

use libfuzzer_sys::fuzz_target;
use trainers_core::page_token::{decode, encode, Scope};
use trainers_core::{Specialty, TokenKey};

const KEY: [u8; 32] = [7u8; 32];
/// `page_token`'s own bound on a token's length (private there): longer ones are refused.
const MAX_TOKEN_CHARS: usize = 2048;

/// Every scope the target uses: no specialty, each specialty, five digests.
fn scopes() -> Vec<Scope> {
    let mut all = vec![Scope::Specialty(None)];
    all.extend(Specialty::ALL.map(|s| Scope::Specialty(Some(s))));
    all.extend((0..5u8).map(|n| Scope::Digest([n; 8])));
    all
}

fn filter(byte: u8) -> Scope {
    let all = scopes();
    all[usize::from(byte.wrapping_sub(b'0')) % all.len()]
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let key = TokenKey::new(KEY);
    let filter = filter(first);
    let others = || scopes().into_iter().filter(move |f| *f != filter);

    // Any string: refused or accepted, never a panic. An accepted one is exactly the token
    // `encode` makes for what it holds (no second spelling of a token is accepted), and is
    // refused under any other filter.
    let token = String::from_utf8_lossy(rest);
    if let Ok(position) = decode(&key, &token, filter) {
        assert_eq!(encode(&key, filter, &position), token, "a token accepted in another spelling");
        for other in others() {
            assert!(decode(&key, &token, other).is_err(), "a token accepted for another filter");
        }
    }

    // Any position round-trips, unless its token is longer than decode reads.
    let token = encode(&key, filter, rest);
    let decoded = decode(&key, &token, filter).ok();
    if token.len() <= MAX_TOKEN_CHARS {
        assert_eq!(decoded.as_deref(), Some(rest), "a position did not round-trip");
    } else {
        assert_eq!(decoded, None, "a token longer than the bound was accepted");
    }
    for other in others() {
        assert!(decode(&key, &token, other).is_err(), "a token accepted for another filter");
    }
    assert!(decode(&TokenKey::new([8u8; 32]), &token, filter).is_err(), "a token accepted under another key");
});
