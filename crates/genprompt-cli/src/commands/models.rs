//! `genprompt models fetch|list`.

use anyhow::Result;

use crate::args::ModelsCommand;
use crate::progress::Progress;

pub fn run(command: ModelsCommand, progress: &Progress) -> Result<()> {
    match command {
        ModelsCommand::Fetch { names } => genprompt::fetch_models(&names, progress)?,
        ModelsCommand::List => {
            let (folder, models) = genprompt::list_models()?;
            println!("models folder: {}", folder.display());
            println!(
                "{:<20} {:<8} {:>6} {:>8}  {:<11} {:<8} note",
                "name", "kind", "params", "size", "licence", "status"
            );
            for model in models {
                let status = if model.present { "present" } else { "missing" };
                let default = if model.default { " (default)" } else { "" };
                println!(
                    "{:<20} {:<8} {:>6} {:>5} MB  {:<11} {:<8} {}{default}",
                    model.name,
                    model.kind,
                    model.params,
                    (model.size as f64 / 1e6).round(),
                    model.licence,
                    status,
                    model.note
                );
            }
            println!("`genprompt models fetch [NAME...]` fetches the defaults or the named models;");
            println!("`--llm NAME` runs a catalogue LLM, `--llm FILE.gguf` any GGUF chat model.");
        }
    }
    Ok(())
}
