//! The Lambda function (`bootstrap`): the service on the DynamoDB table named by `TABLE_NAME`,
//! behind `lambda_runtime`. The AWS settings (region, credentials, `AWS_ENDPOINT_URL`) come from
//! the environment as for any AWS SDK; `TRAINERS_TOKEN_SECRET`, when set, keys the page tokens
//! (as for `trainers serve --store dynamodb`, whose tokens then work here too).

use std::sync::Arc;

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use trainers_core::TrainerService;
use trainers_store_dynamodb::{client_from_env, DynamoStore, TOKEN_SECRET_ENV};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let table = std::env::var("TABLE_NAME").map_err(|_| "TABLE_NAME is not set")?;
    let secret = std::env::var(TOKEN_SECRET_ENV).ok();
    // No DescribeTable at start: the stack made the table, and a cold start stays short.
    let client = client_from_env(None).await?;
    let store = DynamoStore::new(client, table, secret.as_deref());
    let service = TrainerService::new(Arc::new(store));
    let service = &service;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        Ok::<Value, Error>(trainers_lambda::handle(service, event.payload).await)
    }))
    .await
}
