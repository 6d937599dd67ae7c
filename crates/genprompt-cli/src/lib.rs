//! The `genprompt` command line as a library: `run_cli` parses arguments, sets up logging, dispatches
//! to the `genprompt` library, prints, and returns the exit code. The binary (`main.rs`) and the
//! Python package's `genprompt` command both call it, so they are one program.
//!
//! Exit codes: 0 success, 2 bad input or usage (the same code clap uses), 1 a run that could not
//! finish, 130 a run stopped by Ctrl-C (it continues when run again).

mod args;
mod commands;
mod convert;
mod interrupt;
mod progress;
mod tables;

use std::ffi::OsString;

use clap::Parser;
use genprompt::{CancelToken, ErrorKind};

use crate::args::{Cli, Command};

/// Runs the command line on `args` (the program name first, as `std::env::args_os` gives it) and
/// returns the exit code; usage errors and `--help` print and return too, so a host process (the
/// Python package) goes on.
pub fn run_cli<I, T>(args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) => {
            // Help and version go to stdout with code 0, usage errors to stderr with code 2.
            let _ = err.print();
            return u8::try_from(err.exit_code()).unwrap_or(2);
        }
    };
    init_logging(cli.verbose);
    let progress = progress::Progress::new(cli.no_progress || cli.verbose > 0);
    let cancel = CancelToken::new();
    let result = match cli.command {
        Command::Models(command) => commands::models::run(command, &progress),
        Command::Quickstart(args) => commands::quickstart::run(args, &progress, &cancel),
        Command::Embed(args) => commands::embed::run(args, &progress, &cancel),
        Command::Genes(args) => commands::genes::run(args),
        Command::Attributes(args) => commands::attributes::run(args),
        Command::Generate(args) => commands::generate::run(args, &progress, &cancel),
        Command::Preview(args) => commands::preview::run(args, &progress, &cancel),
        Command::Eval(args) => commands::eval::run(args, &progress, &cancel),
        Command::Compare(args) => commands::compare::run(args, &progress, &cancel),
        Command::Subjectivity(args) => commands::subjectivity::run(args, &progress),
    };
    match result {
        Ok(()) => 0,
        Err(err) => {
            progress.clear();
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            exit_code(&err)
        }
    }
}

/// Exit code of a run that wrote its dataset but kept fewer rows than asked for some label.
pub const EXIT_SHORT: u8 = 3;

/// A generation that ended short of `-n` for some labels (see `--allow-short`).
#[derive(Debug)]
pub struct ShortRun {
    pub labels: usize,
}

impl std::fmt::Display for ShortRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} label(s) ended with fewer rows than asked; what was kept is written and the manifest marks the run \
             incomplete (try a better model or prompt, or pass --allow-short to accept it)",
            self.labels
        )
    }
}

impl std::error::Error for ShortRun {}

/// 130 for a run stopped by Ctrl-C, 2 for bad input, 3 for a short run, 1 otherwise.
fn exit_code(err: &anyhow::Error) -> u8 {
    if err.chain().any(|cause| cause.is::<ShortRun>()) {
        return EXIT_SHORT;
    }
    match err.chain().find_map(|cause| cause.downcast_ref::<genprompt::Error>()).map(genprompt::Error::kind) {
        Some(ErrorKind::Interrupted) => interrupt::EXIT_INTERRUPTED,
        Some(ErrorKind::BadInput) => 2,
        Some(ErrorKind::Endpoint | ErrorKind::Failed) | None => 1,
    }
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
    // A second `run` in one process (the Python package) keeps the first subscriber.
    let _ =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).try_init();
}
