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
use pyo3::prelude::*;
use serde_json::{Value, json};

use crate::error::{Failure, guarded};
use crate::observer::Forward;
use crate::request::{CompareRequest, EvaluateRequest, GenerateRequest, parse};
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

/// Runs several methods, evaluates each and writes the report; answers
/// `{"comparison": <metrics.json>, "report", "out"}`.
#[pyfunction]
#[pyo3(signature = (request, progress=None))]
fn compare(py: Python<'_>, request: &str, progress: Option<Bound<'_, PyAny>>) -> PyResult<String> {
    guarded(py, || {
        let config = parse::<CompareRequest>(request).and_then(CompareRequest::into_config);
        let config = config.map_err(|failure| failure.into_py_err(py))?;
        let (cancel, stop) = cancellation();
        runner::run(py, progress.as_ref(), stop, move |events| {
            let compared = genprompt::compare(&config, &Forward(&events), &cancel)?;
            let text = std::fs::read_to_string(&compared.metrics_path)
                .map_err(|err| Failure::Run(format!("cannot read {}: {err}", compared.metrics_path.display())))?;
            // Passed on as written: parsing it into a `Value` could move a float by one ulp.
            let comparison = serde_json::value::RawValue::from_string(text)
                .map_err(|err| Failure::Bug(format!("{} is not JSON: {err}", compared.metrics_path.display())))?;
            let reply = CompareReply { comparison: &comparison, report: &compared.report, out: &config.out };
            serde_json::to_string(&reply).map_err(|err| Failure::Bug(format!("the reply does not serialise: {err}")))
        })
    })
}

#[derive(serde::Serialize)]
struct CompareReply<'a> {
    comparison: &'a serde_json::value::RawValue,
    report: &'a std::path::Path,
    out: &'a std::path::Path,
}

/// The default models and where they are.
#[pyfunction]
fn models_list(py: Python<'_>) -> PyResult<String> {
    guarded(py, || models_json().map_err(|failure| failure.into_py_err(py)))
}

/// Fetches the named catalogue models (the defaults when `names` is empty) that are missing. A
/// fetch unpacks into a staging folder and renames it into place, so on Ctrl-C the call returns
/// at once and the fetch finishes alone.
#[pyfunction]
#[pyo3(signature = (names, progress=None))]
fn models_fetch(py: Python<'_>, names: Vec<String>, progress: Option<Bound<'_, PyAny>>) -> PyResult<String> {
    guarded(py, || {
        runner::run(py, progress.as_ref(), Stop::Abandon, move |events| {
            genprompt::fetch_models(&names, &Forward(&events))?;
            models_json()
        })
    })
}

fn models_json() -> Result<String, Failure> {
    let (_, entries) = genprompt::list_models()?;
    let models: Vec<Value> = entries
        .iter()
        .map(|entry| {
            json!({
                "name": entry.name,
                "kind": entry.kind,
                "params": entry.params,
                "size": entry.size,
                "licence": entry.licence,
                "note": entry.note,
                "default": entry.default,
                "path": entry.dir,
                "present": entry.present,
            })
        })
        .collect();
    Ok(Value::Array(models).to_string())
}

/// Runs the `genprompt` command line on `argv` (the program name first) and returns its exit
/// code: the `genprompt` command the wheel installs (`genprompt/_cli.py`).
#[pyfunction]
fn run_cli(py: Python<'_>, argv: Vec<String>) -> PyResult<u8> {
    guarded(py, || Ok(py.detach(move || genprompt_cli::run_cli(argv))))
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
    use super::{compare, evaluate, generate, models_fetch, models_list, run_cli};

    #[pymodule_init]
    fn init(module: &pyo3::Bound<'_, pyo3::types::PyModule>) -> pyo3::PyResult<()> {
        use pyo3::types::PyModuleMethods;
        module.add("__version__", env!("CARGO_PKG_VERSION"))
    }
}
