use async_trait::async_trait;
use serde_json::{json, Value};

/// A way of running the API that GraphQL requests can be sent to.
#[async_trait]
pub trait Target: Send + Sync {
    /// Runs one GraphQL request and returns the body as a client receives it.
    async fn graphql(&self, query: &str, variables: Value) -> GraphqlResponse;
}

/// A GraphQL response body, with helpers for what the suites check.
#[derive(Clone, Debug)]
pub struct GraphqlResponse(pub Value);

impl GraphqlResponse {
    pub fn data(&self) -> &Value {
        &self.0["data"]
    }

    pub fn errors(&self) -> Vec<Value> {
        self.0["errors"].as_array().cloned().unwrap_or_default()
    }

    /// The `errorType` of each error, in order.
    pub fn error_types(&self) -> Vec<String> {
        self.errors()
            .iter()
            .map(|e| e["errorType"].as_str().unwrap_or("<none>").to_string())
            .collect()
    }

    /// Asserts there is no error and returns `data`.
    #[track_caller]
    pub fn ok(&self) -> &Value {
        assert!(
            self.0.get("errors").is_none(),
            "expected no errors, got {}",
            self.0
        );
        self.data()
    }

    /// Asserts exactly one error, of this type, whose message mentions `mentions`.
    #[track_caller]
    pub fn expect_error(&self, error_type: &str, mentions: &str) -> Value {
        let errors = self.errors();
        assert_eq!(errors.len(), 1, "expected one error, got {}", self.0);
        let e = errors[0].clone();
        assert_eq!(e["errorType"], json!(error_type), "in {}", self.0);
        let message = e["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(mentions),
            "message {message:?} should mention {mentions:?}"
        );
        e
    }
}
