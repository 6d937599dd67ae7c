//! The `genprompt` binary; the command line lives in the library (`lib.rs`), which the Python
//! package's `genprompt` command runs too.

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(genprompt_cli::run_cli(std::env::args_os()))
}
