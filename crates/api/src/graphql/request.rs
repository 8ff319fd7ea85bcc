//! Reading a GraphQL request (`{"query", "variables", "operationName"}`), as HTTP and both
//! WebSocket protocols receive it, saying what is wrong when it can't be read.

use async_graphql::Variables;
use serde_json::Value;
use trainers_core::Caller;

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
    #[error(
        "The variables hold more than {} values (objects, lists and their items): send fewer",
        MAX_VARIABLE_VALUES
    )]
    TooManyVariableValues,
}

/// The largest request accepted, as on AppSync: an HTTP body, or a WebSocket message.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The most JSON a request's variables may take, as the query text is bounded: measured before
/// they are converted for execution, so a huge input (150,000 empty filter objects) costs a
/// walk of its JSON and nothing more. A filter of 25 conditions, each an `in` of 25 names of
/// 100 characters (about 66 KB), fits.
pub const MAX_VARIABLES_BYTES: usize = 128 * 1024;

/// The most JSON values (objects, lists, scalars, each counted once) a request's variables may
/// hold: their conversion for execution costs per value, not per byte (15,000 empty filter
/// objects, 45 KB, cost 180 ms of CPU to convert and refuse). The largest filter the schema
/// accepts (25 conditions, `in` lists of 25 values, 200 parts) holds well under 1,000.
pub const MAX_VARIABLE_VALUES: usize = 2_000;

/// Reads a request from bytes (an HTTP body, or the JSON string of an AppSync `start`).
/// `request`, run by `caller`: a user is put in the request's data, where the mutations read it;
/// the API key, their default, is not (a request of the API key costs no allocation more than
/// before accounts).
pub fn with_caller(request: async_graphql::Request, caller: Caller) -> async_graphql::Request {
    match caller {
        Caller::ApiKey => request,
        user @ Caller::User(_) => request.data(user),
    }
}

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
            if more_values_than(&v, MAX_VARIABLE_VALUES) {
                return Err(RequestError::TooManyVariableValues);
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

/// Whether `value` holds more than `limit` JSON values; stops counting at the limit. (Recursion
/// is bounded: serde_json reads at most 128 levels.)
fn more_values_than(value: &Value, limit: usize) -> bool {
    fn count(value: &Value, left: &mut usize) -> bool {
        if *left == 0 {
            return false;
        }
        *left -= 1;
        match value {
            Value::Array(items) => items.iter().all(|v| count(v, left)),
            Value::Object(fields) => fields.values().all(|v| count(v, left)),
            _ => true,
        }
    }
    let mut left = limit;
    !count(value, &mut left)
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
        let many = serde_json::json!({"query": "{ a }", "variables": {"f": {"and": vec![serde_json::json!({}); 15_000]}}});
        let message = parse_request(many.to_string().as_bytes())
            .expect_err("too many values")
            .to_string();
        assert!(message.contains("more than 2000 values"), "{message}");
        let list: Vec<u32> = (0..1_998).collect();
        let at_bound = serde_json::json!({"query": "{ a }", "variables": {"l": list}});
        assert!(parse_request(at_bound.to_string().as_bytes()).is_ok());
    }
}
