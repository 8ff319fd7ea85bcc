//! The Lambda function (`bootstrap`): the service on the DynamoDB table named by `TABLE_NAME`,
//! behind `lambda_runtime`. The AWS settings (region, credentials, `AWS_ENDPOINT_URL`) come from
//! the environment as for any AWS SDK. Page tokens are signed as [`trainers_lambda::token_key`]
//! says: `TRAINERS_TOKEN_SECRET` when set, else the secret kept in `TRAINERS_KEYS_TABLE` (the
//! stack's `<table>-keys`, where `trainers serve` on the same table finds it too). Owner rules
//! are on when `TRAINERS_ACCESS=owners` (the stack sets it, with `TRAINERS_ADMIN_GROUP`, when it
//! has a Cognito user pool).

use std::sync::Arc;

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use trainers_core::TrainerService;
use trainers_lambda::{
    access_policy, token_key, token_secret, ACCESS_ENV, ADMIN_GROUP_ENV, KEYS_TABLE_ENV,
};
use trainers_store_dynamodb::{client_from_env, DynamoStore, TOKEN_SECRET_ENV};

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_logs();
    let table = std::env::var("TABLE_NAME").map_err(|_| "TABLE_NAME is not set")?;
    // Read before anything else: a short secret stops the function in one line.
    let secret = token_secret(std::env::var(TOKEN_SECRET_ENV).ok().as_deref())?;
    let keys_table = std::env::var(KEYS_TABLE_ENV).ok();
    let access = access_policy(
        std::env::var(ACCESS_ENV).ok().as_deref(),
        std::env::var(ADMIN_GROUP_ENV).ok().as_deref(),
    )?;
    // No DescribeTable at start: the stack made the tables, and a cold start stays short.
    let client = client_from_env(None).await?;
    let key = token_key(&client, &table, secret.as_ref(), keys_table.as_deref()).await?;
    let store = DynamoStore::with_token_key(client, table, key);
    let service = TrainerService::new(Arc::new(store)).with_access(access);
    let service = &service;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        Ok::<Value, Error>(trainers_lambda::handle(service, event.payload).await)
    }))
    .await
}

/// lambda_runtime's default subscriber (Lambda's logging controls: `AWS_LAMBDA_LOG_LEVEL`, else
/// `RUST_LOG`; `AWS_LAMBDA_LOG_FORMAT=JSON`), with other crates logging at most at debug level:
/// at trace, lambda_runtime logs each raw event, whose `request.headers` hold the caller's
/// x-api-key.
fn init_logs() {
    use lambda_runtime::tracing::subscriber::filter::{filter_fn, EnvFilter, LevelFilter};
    use lambda_runtime::tracing::subscriber::layer::SubscriberExt;
    use lambda_runtime::tracing::subscriber::util::SubscriberInitExt;
    use lambda_runtime::tracing::{Level, Metadata};

    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL").or_else(|_| std::env::var("RUST_LOG"));
    let level = level
        .ok()
        .and_then(|l| l.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    let logs = lambda_runtime::tracing::subscriber::fmt()
        .with_target(false)
        .without_time()
        .with_env_filter(
            EnvFilter::builder()
                .with_default_directive(level.into())
                .from_env_lossy(),
        );
    let ours_or_at_most_debug = filter_fn(|meta: &Metadata<'_>| {
        let target = meta.target();
        target.starts_with("trainers")
            || target.starts_with("bootstrap")
            || *meta.level() <= Level::DEBUG
    });
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    if json {
        logs.json().finish().with(ours_or_at_most_debug).init();
    } else {
        logs.finish().with(ours_or_at_most_debug).init();
    }
}
