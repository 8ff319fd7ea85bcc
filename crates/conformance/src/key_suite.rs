//! What every `KeySource` must do (SQLite in the data directory, a DynamoDB keys table),
//! checked on the source itself.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use trainers_core::keys::{hash, KeyError, KeySource, MAX_EXPIRY, MIN_EXPIRY};
use trainers_core::Timestamp;

#[macro_export]
/// Attributes before `$make` (say `#[ignore = "..."]`) go on every generated test.
macro_rules! key_source_suite {
    ($(#[$attr:meta])* $make:path) => {
        $crate::key_source_suite_cases!([$(#[$attr])*] $make;
            create_then_list_shows_the_key_never_its_secret,
            list_is_in_creation_order,
            create_expiring_in_takes_1_to_365_days,
            revoke_marks_the_key_and_finds_no_other,
            is_empty_until_a_key_is_made_and_after_it_is_revoked,
            active_holds_hash_and_expiry_of_keys_not_revoked,
            create_first_makes_one_key_even_when_asked_at_once,
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! key_source_suite_cases {
    ([$(#[$attr:meta])*] $make:path;) => {};
    ([$(#[$attr:meta])*] $make:path; $case:ident $(, $rest:ident)* $(,)?) => {
        $(#[$attr])*
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $case() {
            let (source, _guard) = $make().await;
            $crate::key_suite::$case(source).await;
        }
        $crate::key_source_suite_cases!([$(#[$attr])*] $make; $($rest),*);
    };
}

fn in_days(days: i64) -> Timestamp {
    Timestamp::from_millis(Timestamp::now().millis() + days * 86_400_000)
}

pub async fn create_then_list_shows_the_key_never_its_secret(keys: Arc<dyn KeySource>) {
    assert_eq!(keys.list().await.expect("list"), vec![]);
    let expires_at = in_days(3);
    let key = keys
        .create(expires_at, Some("ci runner".into()))
        .await
        .expect("create");
    assert!(key.secret.starts_with("da2-") && key.secret.len() == 30);
    assert_eq!(key.info.expires_at, expires_at);
    assert_eq!(key.info.description.as_deref(), Some("ci runner"));
    assert!(!key.info.revoked);
    let plain = keys.create(in_days(1), None).await.expect("create");
    let listed = keys.list().await.expect("list");
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(listed.contains(&key.info), "{listed:?}");
    assert!(listed.contains(&plain.info), "{listed:?}");
    assert!(!format!("{listed:?}").contains(&key.secret[4..]));
    assert_ne!(key.info.id, plain.info.id);
    assert_ne!(key.secret, plain.secret);
}

pub async fn list_is_in_creation_order(keys: Arc<dyn KeySource>) {
    let mut made = Vec::new();
    for i in 0..5 {
        // Apart by more than the millisecond the times are kept to.
        tokio::time::sleep(Duration::from_millis(3)).await;
        made.push(
            keys.create(in_days(1 + i), Some(format!("k{i}")))
                .await
                .expect("create")
                .info
                .id,
        );
    }
    let listed: Vec<String> = keys
        .list()
        .await
        .expect("list")
        .into_iter()
        .map(|k| k.id)
        .collect();
    assert_eq!(listed, made);
}

pub async fn create_expiring_in_takes_1_to_365_days(keys: Arc<dyn KeySource>) {
    for bad in [
        Duration::ZERO,
        MIN_EXPIRY - Duration::from_secs(3600),
        MAX_EXPIRY + Duration::from_secs(86_400),
    ] {
        match keys.create_expiring_in(bad, None).await {
            Err(KeyError::Expiry(_)) => {}
            other => panic!("{bad:?}: {other:?}"),
        }
    }
    assert!(keys.is_empty().await.expect("is_empty"), "nothing made");
    for (ok, days) in [(MIN_EXPIRY, 1), (MAX_EXPIRY, 365)] {
        let before = Timestamp::now().millis();
        let key = keys.create_expiring_in(ok, None).await.expect("create");
        let after = Timestamp::now().millis();
        let expires = key.info.expires_at.millis();
        let span = days * 86_400_000;
        assert!(
            (before + span..=after + span).contains(&expires),
            "{days} days"
        );
    }
    assert_eq!(keys.list().await.expect("list").len(), 2);
}

pub async fn revoke_marks_the_key_and_finds_no_other(keys: Arc<dyn KeySource>) {
    let kept = keys.create(in_days(2), None).await.expect("create");
    let key = keys.create(in_days(2), None).await.expect("create");
    for unknown in [
        "key-000000000000",
        "",
        "secret#page-token",
        "marker#first-key",
    ] {
        assert!(
            !keys.revoke(unknown).await.expect("revoke"),
            "{unknown:?} is no key"
        );
    }
    assert!(keys.revoke(&key.info.id).await.expect("revoke"));
    assert!(
        keys.revoke(&key.info.id).await.expect("revoke again"),
        "revoking twice is no error"
    );
    let listed = keys.list().await.expect("list");
    let state = |id: &str| listed.iter().find(|k| k.id == id).map(|k| k.revoked);
    assert_eq!(state(&key.info.id), Some(true));
    assert_eq!(state(&kept.info.id), Some(false));
    assert_eq!(listed.len(), 2, "{listed:?}");
}

pub async fn is_empty_until_a_key_is_made_and_after_it_is_revoked(keys: Arc<dyn KeySource>) {
    assert!(keys.is_empty().await.expect("is_empty"));
    assert!(!keys.revoke("key-000000000000").await.expect("revoke"));
    assert!(keys.is_empty().await.expect("is_empty"));
    let key = keys.create(in_days(1), None).await.expect("create");
    assert!(!keys.is_empty().await.expect("is_empty"));
    assert!(keys.revoke(&key.info.id).await.expect("revoke"));
    assert!(
        !keys.is_empty().await.expect("is_empty"),
        "a revoked key still counts"
    );
}

pub async fn active_holds_hash_and_expiry_of_keys_not_revoked(keys: Arc<dyn KeySource>) {
    assert_eq!(keys.active().await.expect("active"), vec![]);
    let live = keys.create(in_days(5), None).await.expect("create");
    let expired = keys
        .create(Timestamp::from_millis(Timestamp::now().millis() - 1), None)
        .await
        .expect("create");
    let revoked = keys.create(in_days(5), None).await.expect("create");
    assert!(keys.revoke(&revoked.info.id).await.expect("revoke"));
    let mut active = keys.active().await.expect("active");
    active.sort();
    let mut want = vec![
        (hash(&live.secret), live.info.expires_at.millis()),
        (hash(&expired.secret), expired.info.expires_at.millis()),
    ];
    want.sort();
    assert_eq!(active, want, "expired keys too: the ring checks expiry");
}

pub async fn create_first_makes_one_key_even_when_asked_at_once(keys: Arc<dyn KeySource>) {
    let expires_at = in_days(7);
    let attempts = join_all((0..8).map(|i| {
        let keys = keys.clone();
        async move {
            keys.create_first(expires_at, Some(format!("first {i}")))
                .await
                .expect("create_first")
        }
    }))
    .await;
    let made: Vec<_> = attempts.into_iter().flatten().collect();
    assert_eq!(made.len(), 1, "one key made: {made:?}");
    let listed = keys.list().await.expect("list");
    assert_eq!(listed, vec![made[0].info.clone()]);
    assert!(keys
        .create_first(expires_at, None)
        .await
        .expect("create_first")
        .is_none());
    let ids: HashSet<String> = keys
        .list()
        .await
        .expect("list")
        .into_iter()
        .map(|k| k.id)
        .collect();
    assert_eq!(ids.len(), 1);
}
