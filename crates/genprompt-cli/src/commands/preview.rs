//! `genprompt preview`: a few rows per label on screen, to check prompts and model before paying
//! for a long run.

use anyhow::Result;
use genprompt::{CancelToken, GenerateConfig};

use crate::args::PreviewArgs;
use crate::convert;
use crate::progress::Progress;

pub fn run(args: PreviewArgs, progress: &Progress, cancel: &CancelToken) -> Result<()> {
    let config = GenerateConfig {
        task: args.task.into(),
        examples: args.examples,
        method: convert::method(args.method),
        n_per_label: args.n_per_label,
        seed: args.seed,
        settings: convert::settings(&args.generation),
        backends: convert::backends(&args.models),
        store: convert::store(&args.store),
        ..GenerateConfig::default()
    };
    let preview = genprompt::preview(&config, progress, cancel)?;
    for label in &preview.labels {
        println!("== {} ({} kept from {} calls)", label.label, label.kept, label.llm_calls);
        for (i, text) in label.texts.iter().enumerate() {
            println!("{:>3}. {}", i + 1, text.replace('\n', " "));
        }
        for failure in &label.failures {
            println!("  failed (batch {}, request {}): {}", failure.batch, failure.request, failure.error);
        }
    }
    println!(
        "{} requests ({} from the cache), {} prompt + {} completion tokens paid",
        preview.requests, preview.cache_hits, preview.paid_prompt_tokens, preview.paid_completion_tokens
    );
    Ok(())
}
