//! The Lambda function (`bootstrap`): the service on the DynamoDB table named by `TABLE_NAME`,
//! behind `lambda_runtime`. The AWS settings (region, credentials, `AWS_ENDPOINT_URL`) come from
//! the environment as for any AWS SDK. Page tokens are signed as [`trainers_lambda::token_key`]
//! says: `TRAINERS_TOKEN_SECRET` when set, else the secret kept in `TRAINERS_KEYS_TABLE` (the
//! stack's `<table>-keys`, where `trainers serve` on the same table finds it too).

use std::sync::Arc;

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use trainers_core::TrainerService;
use trainers_lambda::{token_key, token_secret, KEYS_TABLE_ENV};
use trainers_store_dynamodb::{client_from_env, DynamoStore, TOKEN_SECRET_ENV};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let table = std::env::var("TABLE_NAME").map_err(|_| "TABLE_NAME is not set")?;
    // Read before anything else: a short secret stops the function in one line.
    let secret = token_secret(std::env::var(TOKEN_SECRET_ENV).ok().as_deref())?;
    let keys_table = std::env::var(KEYS_TABLE_ENV).ok();
    // No DescribeTable at start: the stack made the tables, and a cold start stays short.
    let client = client_from_env(None).await?;
    let key = token_key(&client, &table, secret.as_ref(), keys_table.as_deref()).await?;
    let store = DynamoStore::with_token_key(client, table, key);
    let service = TrainerService::new(Arc::new(store));
    let service = &service;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        Ok::<Value, Error>(trainers_lambda::handle(service, event.payload).await)
    }))
    .await
}
