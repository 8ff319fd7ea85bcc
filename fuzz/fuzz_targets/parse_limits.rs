//! The step every request takes first: parse the query, then check it against the limits of
//! `trainers_api::limits` (depth, top-level fields, cost, directives), and label it for the log.
//! The check is meant to be linear in the query's text, so run this with `-timeout=1`: an input
//! that takes longer (a fragment bomb the memo misses, say) is a finding, as is any panic.

#![no_main]

use async_graphql::Variables;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let query = String::from_utf8_lossy(data);
    if let Ok(doc) = async_graphql::parser::parse_query(&*query) {
        let _ = trainers_api::limits::check(&doc, &Variables::default());
        let _ = trainers_api::limits::describe(&doc);
    }
});
