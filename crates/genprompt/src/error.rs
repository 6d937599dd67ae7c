//! The one error type of the facade. Its variant is what a caller acts on (the CLI's exit code, the
//! Python exception class); its message and `source` chain are what the user reads, unchanged from
//! the library error that caused it (`task.toml:10:1: unknown field ...`).

use std::error::Error as StdError;
use std::fmt;

/// What went wrong, by who can fix it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input is wrong: task file, data rows, settings, a missing model file, a journal left by
    /// other settings. The CLI exits with 2; the message says where and what to do.
    #[error(transparent)]
    BadInput(Cause),
    /// The caller's [`CancelToken`](crate::CancelToken) stopped the run between batches; what was
    /// received is journaled, and running the same call again continues it. The CLI exits with 130.
    #[error(transparent)]
    Interrupted(Cause),
    /// An LLM endpoint kept failing (rate limits, timeouts, rejected requests) beyond the retries
    /// and the allowed failure share. The CLI exits with 1.
    #[error(transparent)]
    Endpoint(Cause),
    /// Anything else that stopped the work (disk, engine, a failed model call). The CLI exits with 1.
    #[error(transparent)]
    Failed(Cause),
}

/// The kind of an [`Error`], without its message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    BadInput,
    Interrupted,
    Endpoint,
    Failed,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// The message and the chain of causes behind an [`Error`]. Without a context its `Display` and
/// `source` are those of the library error it wraps, so a printed chain reads as before.
#[derive(Debug)]
pub struct Cause {
    context: Option<String>,
    error: BoxError,
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.context {
            Some(context) => f.write_str(context),
            None => fmt::Display::fmt(&self.error, f),
        }
    }
}

impl StdError for Cause {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match &self.context {
            Some(_) => Some(&*self.error),
            None => self.error.source(),
        }
    }
}

/// A message of our own about bad input.
#[derive(Debug)]
struct BadInputMessage(String);

impl fmt::Display for BadInputMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for BadInputMessage {}

/// A message of our own about a failure that is not the input's fault.
#[derive(Debug)]
struct FailureMessage(String);

impl fmt::Display for FailureMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for FailureMessage {}

impl Error {
    /// Wraps a library error, classified by every error in its chain.
    pub fn new(error: impl Into<BoxError>) -> Error {
        let error = error.into();
        let kind = classify(&*error);
        Error::of_kind(kind, Cause { context: None, error })
    }

    /// Bad input, with a message that says where and what to do.
    pub fn bad_input(message: impl Into<String>) -> Error {
        Error::BadInput(Cause { context: None, error: Box::new(BadInputMessage(message.into())) })
    }

    /// A failure of the work itself (exit code 1), with a message.
    pub fn failed(message: impl Into<String>) -> Error {
        Error::Failed(Cause { context: None, error: Box::new(FailureMessage(message.into())) })
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::BadInput(_) => ErrorKind::BadInput,
            Error::Interrupted(_) => ErrorKind::Interrupted,
            Error::Endpoint(_) => ErrorKind::Endpoint,
            Error::Failed(_) => ErrorKind::Failed,
        }
    }

    /// Puts `context` in front of the message; the old message becomes the first cause.
    pub fn context(self, context: impl Into<String>) -> Error {
        let kind = self.kind();
        let cause = self.into_cause();
        Error::of_kind(kind, Cause { context: Some(context.into()), error: Box::new(cause) })
    }

    /// The message followed by every cause, one per line (`caused by: ...`), as the CLI prints it.
    pub fn report(&self) -> String {
        let mut text = self.to_string();
        let mut source = StdError::source(self);
        while let Some(cause) = source {
            text.push_str(&format!("\n  caused by: {cause}"));
            source = cause.source();
        }
        text
    }

    fn into_cause(self) -> Cause {
        match self {
            Error::BadInput(cause) | Error::Interrupted(cause) | Error::Endpoint(cause) | Error::Failed(cause) => cause,
        }
    }

    fn of_kind(kind: ErrorKind, cause: Cause) -> Error {
        match kind {
            ErrorKind::BadInput => Error::BadInput(cause),
            ErrorKind::Interrupted => Error::Interrupted(cause),
            ErrorKind::Endpoint => Error::Endpoint(cause),
            ErrorKind::Failed => Error::Failed(cause),
        }
    }
}

/// Interrupted wins; then bad input anywhere in the chain; then endpoint failures.
fn classify(error: &(dyn StdError + 'static)) -> ErrorKind {
    use genprompt_data::DataError;
    use genprompt_embed::EmbedError;
    use genprompt_llm::LlmError;
    use genprompt_methods::MethodError;
    use genprompt_models::ModelError;
    let (mut bad_input, mut endpoint) = (false, false);
    let mut current = Some(error);
    while let Some(cause) = current {
        if matches!(cause.downcast_ref::<MethodError>(), Some(MethodError::Interrupted)) {
            return ErrorKind::Interrupted;
        }
        if let Some(inner) = cause.downcast_ref::<Cause>() {
            match classify(&*inner.error) {
                ErrorKind::Interrupted => return ErrorKind::Interrupted,
                ErrorKind::BadInput => bad_input = true,
                ErrorKind::Endpoint => endpoint = true,
                ErrorKind::Failed => {}
            }
        }
        bad_input |= cause.is::<BadInputMessage>()
            || cause.is::<genprompt_llm_http::HttpError>()
            || cause.downcast_ref::<DataError>().is_some_and(DataError::is_bad_input)
            || cause.downcast_ref::<ModelError>().is_some_and(ModelError::is_bad_input)
            || matches!(cause.downcast_ref::<LlmError>(), Some(LlmError::Load { .. }))
            || matches!(cause.downcast_ref::<EmbedError>(), Some(EmbedError::Load { .. }))
            || cause.downcast_ref::<MethodError>().is_some_and(MethodError::is_bad_input)
            || matches!(
                cause.downcast_ref::<MethodError>(),
                Some(MethodError::Observer(inner))
                    if matches!(inner.downcast_ref(), Some(genprompt_store::StoreError::Diverged { .. }))
            )
            || matches!(
                cause.downcast_ref::<genprompt_finetune::FinetuneError>(),
                Some(genprompt_finetune::FinetuneError::Load { .. })
            );
        endpoint |= matches!(
            cause.downcast_ref::<LlmError>(),
            Some(LlmError::RateLimited(_) | LlmError::Timeout(_) | LlmError::Rejected(_))
        ) || matches!(cause.downcast_ref::<MethodError>(), Some(MethodError::TooManyFailures { .. }));
        current = cause.source();
    }
    if bad_input {
        ErrorKind::BadInput
    } else if endpoint {
        ErrorKind::Endpoint
    } else {
        ErrorKind::Failed
    }
}

macro_rules! from_library_errors {
    ($($error:ty),* $(,)?) => {
        $(impl From<$error> for Error {
            fn from(error: $error) -> Error {
                Error::new(error)
            }
        })*
    };
}

from_library_errors!(
    genprompt_data::DataError,
    genprompt_embed::EmbedError,
    genprompt_llm::LlmError,
    genprompt_llm_http::HttpError,
    genprompt_methods::MethodError,
    genprompt_models::ModelError,
    genprompt_eval::EvalError,
    genprompt_finetune::FinetuneError,
    genprompt_report::ReportError,
    genprompt_store::StoreError,
    serde_json::Error,
);

/// `.context(...)` on results, as `anyhow` offers, keeping the error's kind.
pub trait ResultExt<T> {
    fn context(self, context: impl Into<String>) -> Result<T>;
    fn with_context<C: Into<String>>(self, context: impl FnOnce() -> C) -> Result<T>;
}

impl<T, E: Into<Error>> ResultExt<T> for std::result::Result<T, E> {
    fn context(self, context: impl Into<String>) -> Result<T> {
        self.map_err(|err| err.into().context(context))
    }

    fn with_context<C: Into<String>>(self, context: impl FnOnce() -> C) -> Result<T> {
        self.map_err(|err| err.into().context(context()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_errors_keep_their_message_and_get_their_kind() {
        let data = genprompt_data::DataError::invalid(
            genprompt_data::Location { path: "task.toml".into(), line: 10, column: Some(1) },
            "unknown field `shuffle`",
        );
        let err = Error::from(data);
        assert_eq!(err.kind(), ErrorKind::BadInput);
        assert_eq!(err.to_string(), "task.toml:10:1: unknown field `shuffle`");
        let err = err.context("cannot read the task");
        assert_eq!(err.kind(), ErrorKind::BadInput);
        assert_eq!(err.report(), "cannot read the task\n  caused by: task.toml:10:1: unknown field `shuffle`");

        assert_eq!(Error::from(genprompt_methods::MethodError::Interrupted).kind(), ErrorKind::Interrupted);
        let failures = genprompt_methods::MethodError::TooManyFailures {
            failed: 3,
            calls: 10,
            limit: 0.2,
            last_error: "timed out".into(),
        };
        assert_eq!(Error::from(failures).kind(), ErrorKind::Endpoint);
        let io = genprompt_data::DataError::io("out", std::io::Error::other("disk full"));
        assert_eq!(Error::from(io).kind(), ErrorKind::Failed);
    }
}
