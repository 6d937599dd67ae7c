//! `genprompt-bench fuzz [--iterations N] [--target T] [--seed S]`: a seeded mutational fuzzer
//! for every parser of outside input (cargo-fuzz needs a nightly toolchain for its sanitizers;
//! this runs on stable). Each target starts from valid inputs and mutates them (bit flips,
//! interesting bytes, dictionary tokens, deleted, repeated and spliced ranges); some targets also
//! generate structured inputs (JSON schemas and values) whose expected outcome they check.
//!
//! A finding is a panic (or a failed check) in any input, an input that takes longer than the
//! hang limit (a watchdog aborts the process and prints the input), or resident memory above the
//! limit. Inputs are capped in size, so memory must stay flat.

mod driver;
mod schema_gen;
mod store;
mod targets;

pub use driver::{Options, run};

/// `fuzz` from the command line.
pub fn main(args: &[String]) {
    let mut options = Options::default();
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{flag} needs a value")).clone();
        match flag.as_str() {
            "--iterations" => options.iterations = value().parse().expect("--iterations N"),
            "--target" => options.target = Some(value()),
            "--seed" => options.seed = value().parse().expect("--seed N"),
            other => panic!("unknown flag {other}; use --iterations N, --target T, --seed S"),
        }
    }
    let reports = run(&options);
    let failed = reports.iter().any(|r| !r.failures.is_empty());
    if failed {
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The short seeded run of every target that is part of the test suite.
    #[test]
    fn every_parser_survives_ten_thousand_mutated_inputs() {
        let reports = run(&Options { iterations: 10_000, target: None, seed: 1 });
        assert_eq!(reports.len(), targets::all().len());
        for report in &reports {
            assert_eq!(report.inputs, 10_000, "{}", report.target);
            assert!(report.failures.is_empty(), "{}: {:#?}", report.target, report.failures);
        }
    }
}
