use std::time::Duration;

use genprompt_llm::LlmError;

/// Everything that can go wrong talking to an endpoint. Messages never contain the API key or
/// request headers; server messages are truncated.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum HttpError {
    #[error("invalid HTTP backend settings: {0}")]
    Config(String),
    #[error("the server answered HTTP {status}: {message}")]
    Status { status: u16, message: String },
    #[error("no complete reply within {0:?}; raise the timeout if the model is slow")]
    Timeout(Duration),
    #[error("the connection failed: {0}")]
    Connection(String),
    #[error("the server sent an unusable reply: {0}")]
    InvalidResponse(String),
    #[error("the server asked to wait {0:?} before retrying, longer than max_retry_after; try again later")]
    RetryAfterTooLong(Duration),
    #[error("gave up after {tries} tries; last error: {last}")]
    GaveUp { tries: u32, last: Box<HttpError> },
    #[error("no valid JSON reply after {tries} tries: {message}")]
    InvalidJson { tries: u32, message: String },
    #[error("internal error in the HTTP backend: {0}")]
    Internal(String),
    /// This endpoint was set aside (it stopped answering); the request goes to another one.
    #[error("every endpoint stopped answering; check that the servers are up")]
    EndpointDown,
}

impl From<HttpError> for LlmError {
    fn from(err: HttpError) -> LlmError {
        let message = err.to_string();
        let cause = match &err {
            HttpError::GaveUp { last, .. } => last.as_ref(),
            other => other,
        };
        match cause {
            HttpError::Status { status: 429, .. } | HttpError::RetryAfterTooLong(_) => LlmError::RateLimited(message),
            HttpError::Status { status, .. } if (400..500).contains(status) => LlmError::Rejected(message),
            HttpError::Timeout(_) => LlmError::Timeout(message),
            HttpError::InvalidJson { .. } => LlmError::InvalidOutput(message),
            _ => LlmError::Engine(message),
        }
    }
}
