//! The `genprompt` binary; everything happens in the library's `run_cli`.

use std::process::ExitCode;

fn main() -> ExitCode {
    genprompt_cli::run_cli(std::env::args_os())
}
