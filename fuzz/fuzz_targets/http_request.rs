//! `POST /graphql` in process, through the real router (auth, body limit, request parsing,
//! limits, GraphQL, the store), with a valid API key and the input as the body. Whatever the
//! body, the answer is 200, 400 or 413 with a JSON body whose errors, if any, each have a known
//! `errorType`; a panic anywhere is a crash (libfuzzer-sys aborts on panic, even one that the
//! router's catch-panic layer would turn into a 500).
//!
//! One store, schema and router per process, on a fresh embedded store in a temporary directory
//! (under `$TMPDIR`: scripts/fuzz.sh points it at a directory it removes). It grows with every
//! `createTrainer` the fuzzer finds: that is fine.

#![no_main]


use libfuzzer_sys::fuzz_target;

#[path = "common/mod.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    common::post_and_check(data);
});
