use std::fmt;

/// The `errorType` a client sees, as AppSync names them.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ErrorType {
    Validation,
    NotFound,
    Conflict,
    Internal,
}

impl ErrorType {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorType::Validation => "ValidationError",
            ErrorType::NotFound => "NotFound",
            ErrorType::Conflict => "ConflictError",
            ErrorType::Internal => "InternalFailure",
        }
    }
}

impl fmt::Display for ErrorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error of one of the five operations, as a client may see it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An argument is out of range or malformed; `argument` is its GraphQL name.
    #[error("{message}")]
    Validation {
        argument: &'static str,
        message: String,
    },
    #[error("No trainer with id {id}")]
    NotFound { id: String },
    #[error("Trainer {id} is at version {actual}, not the expected version {expected}")]
    Conflict {
        id: String,
        expected: i64,
        actual: i64,
    },
    /// Anything unexpected. The cause is for the log only, never for the client.
    #[error("An internal error occurred")]
    Internal { cause: String },
}

/// An error and its causes on one line, outermost first (`context: cause: its cause`), for logs
/// and the CLI's messages. A cause whose text an outer part holds already is left out: some
/// errors (the AWS SDK's) repeat their source's message in their own.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

impl Error {
    pub fn validation(argument: &'static str, message: impl Into<String>) -> Self {
        Error::Validation {
            argument,
            message: message.into(),
        }
    }

    pub fn internal(cause: impl fmt::Display) -> Self {
        Error::Internal {
            cause: cause.to_string(),
        }
    }

    pub fn error_type(&self) -> ErrorType {
        match self {
            Error::Validation { .. } => ErrorType::Validation,
            Error::NotFound { .. } => ErrorType::NotFound,
            Error::Conflict { .. } => ErrorType::Conflict,
            Error::Internal { .. } => ErrorType::Internal,
        }
    }
}
