//! `genprompt compare`: several methods, one task, equal budgets and seeds, one report.

use anyhow::Result;
use genprompt::{CancelToken, CompareConfig, Metrics};

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
    Ok(())
}
