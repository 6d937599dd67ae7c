//! `genprompt models fetch|list`.

use anyhow::Result;

use crate::args::ModelsCommand;
use crate::progress::Progress;

pub fn run(command: ModelsCommand, progress: &Progress) -> Result<()> {
    match command {
        ModelsCommand::Fetch => genprompt::fetch_models(progress)?,
        ModelsCommand::List => {
            let (folder, models) = genprompt::list_models()?;
            println!("models folder: {}", folder.display());
            for model in models {
                let status = if model.present { "present" } else { "missing (run `genprompt models fetch`)" };
                println!("{:<24} {:<8} {:<10} {}", model.name, model.kind, model.licence, status);
                println!("{:<24} {}", "", model.dir.display());
            }
        }
    }
    Ok(())
}
