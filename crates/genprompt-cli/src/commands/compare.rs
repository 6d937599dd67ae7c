//! `genprompt compare`: several methods, one task, equal budgets and seeds, one report.

use anyhow::Result;
use genprompt::{CancelToken, CompareConfig, Compared, Metrics};

use crate::args::CompareArgs;
use crate::convert;
use crate::progress::Progress;
use crate::tables::scores_table;

pub fn run(args: CompareArgs, progress: &Progress, cancel: &CancelToken) -> Result<()> {
    let config = CompareConfig {
        task: args.task.into(),
        examples: args.examples,
        methods: args.methods,
        n_per_label: args.n_per_label,
        test: args.test.into(),
        real_train: args.real_train.map(Into::into),
        out: args.out,
        seed: args.seed,
        runs: args.runs,
        settings: convert::settings(&args.generation),
        backends: convert::backends(&args.models),
        store: convert::store(&args.store),
    };
    crate::interrupt::install(cancel)?;
    let compared = genprompt::compare(&config, progress, cancel)?;
    let columns: Vec<(&str, &Metrics)> = compared.metrics.iter().map(|(name, m)| (name.as_str(), m)).collect();
    println!("{}", scores_table(&columns));
    println!("report: {}", compared.report.display());
    println!("metrics: {}", compared.metrics_path.display());
    short_methods_check(&compared, args.allow_short)
}

/// A method that fell short was compared at a smaller budget than the others: like a short
/// `generate`, the compare says which labels and why, and fails with exit code 3 unless
/// `--allow-short`.
fn short_methods_check(compared: &Compared, allow_short: bool) -> Result<()> {
    let mut labels = 0;
    for (method, short) in compared.short_methods() {
        eprintln!("incomplete: {method}: {} label(s) got fewer rows than asked:", short.len());
        for label in short {
            eprintln!("  {label}");
        }
        labels += short.len();
    }
    if labels == 0 {
        return Ok(());
    }
    if allow_short {
        eprintln!("--allow-short: exit code 0; the report and metrics.json mark the short methods");
        return Ok(());
    }
    Err(crate::ShortRun { labels }.into())
}
