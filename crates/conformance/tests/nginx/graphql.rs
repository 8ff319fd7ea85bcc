//! The GraphQL conformance suite, every case unchanged, through nginx: each case on a fleet of
//! its own (a fresh table, three servers, Redis, nginx), since each starts from an empty store;
//! then every case again on a fleet with accounts on, signed in (`signed_in::`).
//!
//! `trainers_conformance::graphql_suite!` makes tests that a bare `cargo test` would run, and
//! these need nginx, Redis and dynalite; so the same cases are listed here, each as an ignored
//! test calling the suite's own function, and a test that needs nothing checks that this list is
//! the macro's, case for case.

use super::*;

macro_rules! through_nginx {
    ($($case:ident),* $(,)?) => {
        /// The cases run here, in the macro's order.
        const CASES: &[&str] = &[$(stringify!($case)),*];

        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[ignore = "needs Debian's nginx and redis-server, and dynalite: make test runs them (cargo test -- --include-ignored)"]
            async fn $case() {
                let fleet = Fleet::start().await;
                trainers_conformance::graphql_suite::$case(&fleet).await;
            }
        )*

        /// Every case on a fleet with accounts on, each request signed in.
        mod signed_in {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[ignore = "needs Debian's nginx and redis-server, and dynalite: make test runs them (cargo test -- --include-ignored)"]
                async fn $case() {
                    let fleet = Fleet::start_signed_in().await;
                    trainers_conformance::graphql_suite::$case(&fleet).await;
                }
            )*
        }
    };
}

through_nginx!(
    tutorial_create_mutation_verbatim,
    tutorial_list_query_verbatim,
    create_sets_id_timestamps_and_version,
    names_are_stored_trimmed,
    create_rejects_bad_input_and_stores_nothing,
    get_returns_the_trainer,
    get_of_unknown_or_malformed_id_is_null_without_error,
    update_changes_only_the_given_fields,
    update_with_no_field_is_a_validation_error,
    update_rejects_bad_input_and_changes_nothing,
    update_of_unknown_id_is_not_found_and_creates_nothing,
    update_with_expected_version,
    update_specialty_null_clears_it,
    delete_returns_the_trainer_as_it_was,
    delete_of_unknown_id_is_not_found,
    delete_with_wrong_expected_version_is_a_conflict,
    concurrent_updates_at_one_version_have_one_winner,
    list_defaults_to_twenty,
    list_limit_out_of_range_is_a_validation_error,
    list_walk_returns_every_trainer_once,
    list_walk_with_specialty_returns_only_that_specialty,
    list_next_token_is_null_exactly_at_the_end,
    list_order_is_stable_across_walks,
    list_refuses_altered_truncated_made_up_or_misfiltered_tokens,
    list_of_empty_store,
    errors_have_the_appsync_shape,
    invalid_query_is_a_validation_error,
    variables_are_accepted,
    filtered_pages_are_exact_and_their_tokens_bound_to_the_filter,
    count_trainers_counts_those_that_match,
    trainers_by_specialty_are_in_last_name_order_both_ways,
    a_condition_that_does_not_hold_changes_nothing,
    filters_beyond_their_bounds_are_validation_errors,
);

/// The cases `graphql_suite!` expands to, read from its source.
fn suite_cases() -> Vec<String> {
    let source = include_str!("../../src/graphql_suite.rs");
    let start = "macro_rules! graphql_suite {";
    let body = &source[source.find(start).expect("the graphql_suite! macro") + start.len()..];
    let list = body
        .split_once("$crate::graphql_suite_cases!([$(#[$attr])*] $make;")
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(list, _)| list)
        .expect("the macro's list of cases");
    list.split(',')
        .map(str::trim)
        .filter(|case| !case.is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn every_case_of_the_graphql_suite_runs_through_nginx() {
    let cases = suite_cases();
    assert!(cases.len() >= 20, "the suite's cases, read: {cases:?}");
    assert_eq!(
        CASES, cases,
        "crates/conformance/tests/nginx/graphql.rs must list graphql_suite!'s cases"
    );
}
