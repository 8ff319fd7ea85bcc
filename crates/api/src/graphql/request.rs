//! Reading a GraphQL request (`{"query", "variables", "operationName"}`), as HTTP and both
//! WebSocket protocols receive it, saying what is wrong when it can't be read.

use async_graphql::Variables;
use serde_json::Value;

/// Why a request can't be read; its message says what to send instead.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("The request body is empty: send a JSON object with a `query` string")]
    Empty,
    #[error("The request body is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The JSON is not the shape of a request.
    #[error("{0}")]
    Shape(&'static str),
    #[error(
        "The variables are more than {} KiB of JSON: send less at a time",
        MAX_VARIABLES_BYTES / 1024
    )]
    VariablesTooLarge,
}

/// The largest request accepted, as on AppSync: an HTTP body, or a WebSocket message.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The most JSON a request's variables may take, as the query text is bounded: measured before
/// they are converted for execution, so a huge input (150,000 empty filter objects) costs a
/// walk of its JSON and nothing more. A filter of 25 conditions, each an `in` of 25 names of
/// 100 characters (about 66 KB), fits.
pub const MAX_VARIABLES_BYTES: usize = 128 * 1024;

/// Reads a request from bytes (an HTTP body, or the JSON string of an AppSync `start`).
pub fn parse_request(bytes: &[u8]) -> Result<async_graphql::Request, RequestError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(RequestError::Empty);
    }
    let value: Value = serde_json::from_slice(bytes)?;
    request_from_value(value)
}

/// Reads a request from JSON already parsed (a WebSocket message's payload).
pub fn request_from_value(value: Value) -> Result<async_graphql::Request, RequestError> {
    let Value::Object(mut obj) = value else {
        return Err(RequestError::Shape(
            "The request body must be a JSON object with a `query` string",
        ));
    };
    let query = match obj.remove("query") {
        None | Some(Value::Null) => {
            return Err(RequestError::Shape(
                "Invalid request, `query` can't be null.",
            ))
        }
        Some(Value::String(q)) => q,
        Some(_) => {
            return Err(RequestError::Shape(
                "Invalid request, `query` must be a string",
            ))
        }
    };
    let mut request = async_graphql::Request::new(query);
    match obj.remove("variables") {
        None | Some(Value::Null) => {}
        Some(v @ Value::Object(_)) => {
            if longer_than(&v, MAX_VARIABLES_BYTES) {
                return Err(RequestError::VariablesTooLarge);
            }
            request = request.variables(Variables::from_json(v))
        }
        Some(_) => {
            return Err(RequestError::Shape(
                "Invalid request, `variables` must be a JSON object",
            ))
        }
    }
    match obj.remove("operationName") {
        None | Some(Value::Null) => {}
        Some(Value::String(name)) => request = request.operation_name(name),
        Some(_) => {
            return Err(RequestError::Shape(
                "Invalid request, `operationName` must be a string",
            ))
        }
    }
    Ok(request)
}

/// Whether `value` written as JSON takes more than `limit` bytes; stops writing at the limit.
fn longer_than(value: &Value, limit: usize) -> bool {
    struct Budget(usize);
    impl std::io::Write for Budget {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 = self
                .0
                .checked_sub(buf.len())
                .ok_or_else(|| std::io::Error::other("over the limit"))?;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    serde_json::to_writer(Budget(limit), value).is_err()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_malformed_request_says_what_is_wrong() {
        let cases: &[(&str, &str)] = &[
            ("", "empty"),
            ("  \n", "empty"),
            ("{", "not valid JSON"),
            ("[]", "must be a JSON object"),
            ("{}", "`query` can't be null"),
            (r#"{"query": 1}"#, "`query` must be a string"),
            (
                r#"{"query": "{ a }", "variables": []}"#,
                "`variables` must be",
            ),
            (
                r#"{"query": "{ a }", "operationName": 2}"#,
                "`operationName` must be",
            ),
        ];
        for (body, says) in cases {
            let message = parse_request(body.as_bytes()).expect_err(body).to_string();
            assert!(message.contains(says), "{body:?}: {message}");
        }
    }

    #[test]
    fn a_request_keeps_its_variables_and_operation_name() {
        let body = r#"{"query": "query Q($i: ID!) { getTrainer(id: $i) { id } }",
                       "variables": {"i": "x"}, "operationName": "Q"}"#;
        let request = parse_request(body.as_bytes()).expect("a request");
        assert_eq!(request.operation_name.as_deref(), Some("Q"));
        assert_eq!(
            request.variables.into_value().into_json().expect("JSON"),
            serde_json::json!({"i": "x"})
        );
    }

    #[test]
    fn variables_past_their_bound_are_refused_before_conversion() {
        let empties = vec![serde_json::json!({}); 50_000];
        let body = serde_json::json!({
            "query": "query Q($f: TrainerFilterInput) { allTrainers(filter: $f) { nextToken } }",
            "variables": {"f": {"and": empties}},
        });
        let message = parse_request(body.to_string().as_bytes())
            .expect_err("too large")
            .to_string();
        assert!(message.contains("more than 128 KiB"), "{message}");
        let fits = serde_json::json!({"query": "{ a }", "variables": {"s": "x".repeat(120_000)}});
        assert!(parse_request(fits.to_string().as_bytes()).is_ok());
    }
}
