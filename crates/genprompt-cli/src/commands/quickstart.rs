//! `genprompt quickstart`: the whole loop on a small shipped task, from a fresh machine.

use anyhow::Result;
use genprompt::{CancelToken, QuickstartConfig};

use crate::args::QuickstartArgs;
use crate::convert;
use crate::progress::Progress;
use crate::tables::scores_table;

pub fn run(args: QuickstartArgs, progress: &Progress, cancel: &CancelToken) -> Result<()> {
    let config = QuickstartConfig {
        out: args.out,
        n_per_label: args.n_per_label,
        seed: args.seed,
        store: convert::store(&args.store),
        backends: convert::backends(&args.models),
    };
    crate::interrupt::install(cancel)?;
    let result = genprompt::quickstart(&config, progress, cancel)?;
    let manifest = &result.generated.manifest;
    let kept: usize = manifest.labels.values().map(|c| c.kept).sum();
    let calls: usize = manifest.labels.values().map(|c| c.llm_calls).sum();
    println!();
    println!(
        "Generated {kept} rows from {calls} LLM calls in {:.0}s ({} prompt + {} completion tokens).",
        manifest.timings.total_s, manifest.tokens.prompt, manifest.tokens.completion
    );
    println!("Test set: {} real rows. Columns: what the probe was trained on.", result.synthetic.n_test);
    println!(
        "{}",
        scores_table(&[("synthetic (Genetic Prompt)", &result.synthetic), ("real seed rows", &result.real)])
    );
    println!("files:");
    for path in &result.files {
        println!("  {}", path.display());
    }
    println!("SmolLM2-135M proves the pipeline offline; for datasets worth training on, use a 1.5B+ GGUF (--llm).");
    Ok(())
}
