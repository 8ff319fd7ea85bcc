use std::fmt;

/// Every `errorType` a client can see, as AppSync names them: the five operations' errors, and
/// those of the edges (HTTP, the WebSocket protocols). Each edge maps to these once; no
/// `errorType` is spelled anywhere else.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum ErrorType {
    /// An argument is out of range or malformed, or the query does not validate.
    Validation,
    /// Update or delete of an id that does not exist.
    NotFound,
    /// `expectedVersion` differs from the stored version.
    Conflict,
    /// The `condition` of an update or delete does not hold.
    ConditionalCheckFailed,
    /// Anything unexpected; the log says what.
    Internal,
    /// The request is not a GraphQL request at all (HTTP 400, 404, 405, 413, 431).
    MalformedHttpRequest,
    /// The API key or token is missing or not valid (HTTP 401).
    Unauthorized,
    /// A valid caller who may not run this field (accounts: the API key, or someone else's
    /// trainer): HTTP 200, the field null. AppSync's `Unauthorized`, not `UnauthorizedException`.
    NotAuthorized,
    /// A WebSocket connection asked for more subscriptions than it may run.
    MaxSubscriptionsReached,
    /// The server is at its limit of WebSocket connections.
    LimitExceeded,
    /// A `start` reused the id of a running subscription.
    DuplicatedOperation,
    /// A real-time message that the protocol does not have.
    UnsupportedOperation,
    /// A subscriber that did not read its events fast enough and was dropped.
    SubscriberTooSlow,
}

impl ErrorType {
    pub const ALL: [ErrorType; 13] = [
        ErrorType::Validation,
        ErrorType::NotFound,
        ErrorType::Conflict,
        ErrorType::ConditionalCheckFailed,
        ErrorType::Internal,
        ErrorType::MalformedHttpRequest,
        ErrorType::Unauthorized,
        ErrorType::NotAuthorized,
        ErrorType::MaxSubscriptionsReached,
        ErrorType::LimitExceeded,
        ErrorType::DuplicatedOperation,
        ErrorType::UnsupportedOperation,
        ErrorType::SubscriberTooSlow,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorType::Validation => "ValidationError",
            ErrorType::NotFound => "NotFound",
            ErrorType::Conflict => "ConflictError",
            ErrorType::ConditionalCheckFailed => "ConditionalCheckFailedException",
            ErrorType::Internal => "InternalFailure",
            ErrorType::MalformedHttpRequest => "MalformedHttpRequestException",
            ErrorType::Unauthorized => "UnauthorizedException",
            ErrorType::NotAuthorized => "Unauthorized",
            ErrorType::MaxSubscriptionsReached => "MaxSubscriptionsReachedError",
            ErrorType::LimitExceeded => "LimitExceededError",
            ErrorType::DuplicatedOperation => "DuplicatedOperationError",
            ErrorType::UnsupportedOperation => "UnsupportedOperation",
            ErrorType::SubscriberTooSlow => "SubscriberTooSlow",
        }
    }

    /// The type of a name [`ErrorType::as_str`] gives; `None` for any other string.
    pub fn from_name(name: &str) -> Option<ErrorType> {
        ErrorType::ALL.into_iter().find(|t| t.as_str() == name)
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
    #[error("Trainer {id} does not meet the condition: nothing was changed")]
    ConditionFailed { id: String },
    /// The caller may not run this mutation (accounts: see [`crate::AccessPolicy`]); `field` is
    /// its GraphQL name. Nothing was changed.
    #[error("Not Authorized to access {field} on type Mutation")]
    NotAuthorized { field: &'static str },
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
            Error::ConditionFailed { .. } => ErrorType::ConditionalCheckFailed,
            Error::NotAuthorized { .. } => ErrorType::NotAuthorized,
            Error::Internal { .. } => ErrorType::Internal,
        }
    }
}
