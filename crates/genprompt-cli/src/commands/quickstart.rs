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
    println!("A few generated rows:");
    let mut shown: Vec<&str> = Vec::new();
    for row in &result.generated.rows {
        if !shown.contains(&row.label.as_str()) && shown.len() < 3 {
            shown.push(&row.label);
            println!("  [{}] {}", row.label, row.text.split_whitespace().collect::<Vec<_>>().join(" "));
        }
    }
    for label in &manifest.short_labels {
        eprintln!("warning: short label {label}");
    }
    println!("files:");
    for path in &result.files {
        println!("  {}", path.display());
    }
    let model = manifest.parameters.get("llm_catalogue_name").and_then(|v| v.as_str()).unwrap_or(&manifest.llm.name);
    println!(
        "LLM: {model}; `genprompt models list` shows the others (e.g. --llm qwen2.5-coder-1.5b: better rows, slower)."
    );
    Ok(())
}
