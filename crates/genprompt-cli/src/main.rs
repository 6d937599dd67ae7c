//! The `genprompt` binary: parse arguments, set up logging, dispatch, map errors to exit codes.
//!
//! Exit codes: 0 success, 2 bad input or usage (the same code clap uses), 1 a run that could not
//! finish, 130 a run stopped by Ctrl-C (it continues when run again).

mod args;
mod backends;
mod commands;
mod curation;
mod interrupt;
mod progress;
mod run_store;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command};

/// An error caused by what the user gave us; exits with code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let progress = progress::Progress::new(cli.no_progress || cli.verbose > 0);
    let result = match cli.command {
        Command::Models(command) => commands::models::run(command),
        Command::Quickstart(args) => commands::quickstart::run(args, &progress),
        Command::Embed(args) => commands::embed::run(args, &progress),
        Command::Genes(args) => commands::genes::run(args),
        Command::Attributes(args) => commands::attributes::run(args),
        Command::Generate(args) => commands::generate::run(args, &progress),
        Command::Preview(args) => commands::preview::run(args, &progress),
        Command::Eval(args) => commands::eval::run(args, &progress).map(|_| ()),
        Command::Compare(args) => commands::compare::run(args, &progress),
        Command::Subjectivity(args) => commands::subjectivity::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            progress.clear();
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::from(exit_code(&err))
        }
    }
}

/// 130 for a run stopped by Ctrl-C, 2 when any error in the chain is the user's input, 1 otherwise.
fn exit_code(err: &anyhow::Error) -> u8 {
    use genprompt_data::DataError;
    use genprompt_embed::EmbedError;
    use genprompt_llm::LlmError;
    use genprompt_methods::MethodError;
    use genprompt_models::ModelError;
    if err.chain().any(|cause| matches!(cause.downcast_ref::<MethodError>(), Some(MethodError::Interrupted))) {
        return interrupt::EXIT_INTERRUPTED;
    }
    let bad_input = err.chain().any(|cause| {
        cause.is::<BadInput>()
            || cause.downcast_ref::<DataError>().is_some_and(DataError::is_bad_input)
            || matches!(cause.downcast_ref::<ModelError>(), Some(ModelError::Missing { .. }))
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
            )
    });
    if bad_input { 2 } else { 1 }
}

fn init_logging(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = std::env::var("GENPROMPT_LOG")
        .ok()
        .and_then(|value| EnvFilter::try_new(value).ok())
        .or_else(|| EnvFilter::try_from_default_env().ok())
        .unwrap_or_else(|| EnvFilter::new(default));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).init();
}
