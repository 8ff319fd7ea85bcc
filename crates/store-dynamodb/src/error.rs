//! SDK errors as store errors.

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use trainers_core::StoreError;

/// A failed request, the SDK's error kept as the source. (Logged with
/// [`trainers_core::error_chain`]: the SDK's own `DisplayErrorContext` ends with a `Debug` dump,
/// too long for one line.)
pub(crate) fn backend<E, R>(operation: &str, e: SdkError<E, R>) -> StoreError
where
    SdkError<E, R>: std::error::Error + Send + Sync + 'static,
{
    StoreError::backend(format!("DynamoDB {operation}"), e)
}

/// Whether a request failed because its `ConditionExpression` did not hold.
pub(crate) fn is_condition_failure<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
    e.as_service_error()
        .and_then(|se| se.code())
        .is_some_and(|code| code == "ConditionalCheckFailedException")
}
