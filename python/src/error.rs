//! What the bindings raise. The exception classes are defined in Python
//! (`genprompt/errors.py`: `BadInputError` is both a `genprompt.Error` and a `ValueError`);
//! this file decides which one each core error becomes.

use pyo3::exceptions::PyKeyboardInterrupt;
use pyo3::prelude::*;

/// A failed call, sorted by what the caller can do about it.
#[derive(Debug)]
pub enum Failure {
    /// Fix the input: the message is the command line's (`file:line:col: what is wrong`).
    BadInput(String),
    /// The endpoint refused or failed the requests.
    Endpoint(String),
    /// Stopped on request after a clean stop; calling again resumes.
    Interrupted,
    /// Could not finish; what was recorded is kept.
    Run(String),
    /// A panic: a bug in genprompt.
    Bug(String),
}

impl Failure {
    pub fn into_py_err(self, py: Python<'_>) -> PyErr {
        let (class, message) = match self {
            Failure::BadInput(message) => ("BadInputError", message),
            Failure::Endpoint(message) => ("EndpointError", message),
            Failure::Run(message) => ("RunError", message),
            Failure::Bug(message) => {
                ("Error", format!("internal error (a bug in genprompt, please report it): {message}"))
            }
            Failure::Interrupted => {
                return PyKeyboardInterrupt::new_err("interrupted: the run stopped cleanly; call again to resume it");
            }
        };
        py.import("genprompt.errors")
            .and_then(|module| module.getattr(class))
            .and_then(|class| class.call1((message,)))
            .map_or_else(|err| err, PyErr::from_value)
    }
}

impl From<genprompt::Error> for Failure {
    fn from(err: genprompt::Error) -> Failure {
        use genprompt::ErrorKind;
        // The whole chain, as the command line prints it after `error: `.
        let message = err.report();
        match err.kind() {
            ErrorKind::BadInput => Failure::BadInput(message),
            ErrorKind::Interrupted => Failure::Interrupted,
            ErrorKind::Endpoint => Failure::Endpoint(message),
            ErrorKind::Failed => Failure::Run(message),
        }
    }
}

/// Runs `body` on the calling thread with panics turned into `genprompt.Error`, so no panic
/// reaches Python as PyO3's `PanicException`.
pub fn guarded<T>(py: Python<'_>, body: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(body))
        .unwrap_or_else(|panic| Err(Failure::Bug(panic_message(panic.as_ref())).into_py_err(py)))
}

/// The text a panic was raised with.
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|text| text.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_string())
}
