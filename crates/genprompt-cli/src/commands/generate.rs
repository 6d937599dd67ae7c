//! `genprompt generate` (and `--dry-run`): flags to a `GenerateConfig`, one library call, and the
//! summary.

use anyhow::Result;
use genprompt::{CancelToken, DryRun, GenerateConfig, Generated};

use crate::args::GenerateArgs;
use crate::convert;
use crate::progress::Progress;

pub fn run(args: GenerateArgs, progress: &Progress, cancel: &CancelToken) -> Result<()> {
    let config = GenerateConfig {
        task: args.task.into(),
        examples: args.examples,
        method: convert::method(args.method),
        n_per_label: args.n_per_label,
        seed: args.seed,
        out: args.out,
        force: args.force,
        settings: convert::settings(&args.generation),
        backends: convert::backends(&args.models),
        store: convert::store(&args.store),
    };
    if args.dry_run {
        print_dry_run(&genprompt::dry_run(&config, progress)?);
        return Ok(());
    }
    crate::interrupt::install(cancel)?;
    let generated = genprompt::generate(&config, progress, cancel)?;
    print_summary(&generated);
    short_run_check(&generated, args.allow_short)
}

/// A run whose labels fell short of `-n` wrote what it kept, but is no success: it says which
/// labels and why, and fails with exit code 3 unless `--allow-short`.
pub fn short_run_check(generated: &Generated, allow_short: bool) -> Result<()> {
    let short = &generated.manifest.short_labels;
    if short.is_empty() {
        return Ok(());
    }
    let max_calls = &generated.manifest.parameters["max_calls_per_row"];
    eprintln!("incomplete: {} label(s) got fewer rows than asked ({max_calls} calls per row at most):", short.len());
    for label in short {
        eprintln!("  {label}");
    }
    if allow_short {
        eprintln!("--allow-short: exit code 0; the manifest marks the run incomplete");
        return Ok(());
    }
    Err(crate::ShortRun { labels: short.len() }.into())
}

fn print_dry_run(estimate: &DryRun) {
    println!(
        "dry run: {} on task \"{}\" ({} labels), {} rows per label, batches of {}",
        estimate.method, estimate.task, estimate.n_labels, estimate.n_per_label, estimate.batch_size
    );
    println!(
        "  requests: at least {} (every reply kept), at most {} (the cap of {} calls per wanted row)",
        estimate.min_requests, estimate.max_requests, estimate.max_calls_per_row
    );
    println!("  prompt tokens per request: ~{:.0} (measured on the first batch of each label)", estimate.prompt_tokens);
    println!(
        "  completion tokens per request: ~{:.0} expected (the seed rows' mean length), at most {:.0} (max_tokens)",
        estimate.expected_completion, estimate.max_completion
    );
    let (expected, most) = (estimate.expected_tokens, estimate.most_tokens);
    println!(
        "  tokens: ~{:.0} prompt + ~{:.0} completion expected; at most {:.0} + {:.0}",
        expected.0, expected.1, most.0, most.1
    );
    let prices = estimate.prices;
    match estimate.cost() {
        Some((low, high)) => println!(
            "  cost: ~${low:.4} expected, at most ${high:.4} (${} / ${} per million prompt / completion tokens){}",
            prices.input.unwrap_or_default(),
            prices.output.unwrap_or_default(),
            if estimate.embedded { "; the embedded model is free" } else { "" }
        ),
        None => println!("  cost: unknown; give prices with --price-input/--price-output or [llm] in the task file"),
    }
    println!("  replies already in the response cache cost nothing; nothing was sent");
}

pub fn print_summary(generated: &Generated) {
    let manifest = &generated.manifest;
    for (label, counts) in &manifest.labels {
        let rejected = &counts.rejected;
        let reasons: Vec<String> =
            rejected.by_reason().iter().filter(|(_, n)| *n > 0).map(|(reason, n)| format!("{reason} {n}")).collect();
        println!(
            "{label}: kept {}/{} from {} calls; rejected {}{}; truncated {}",
            counts.kept,
            counts.requested,
            counts.llm_calls,
            rejected.total(),
            if reasons.is_empty() { String::new() } else { format!(" ({})", reasons.join(", ")) },
            counts.truncated
        );
    }
    let t = &manifest.timings;
    let tokens = manifest.tokens.prompt + manifest.tokens.completion;
    println!(
        "tokens: {} prompt + {} completion; {:.1}s total ({:.1}s generating, {:.1} tokens/s)",
        manifest.tokens.prompt,
        manifest.tokens.completion,
        t.total_s,
        t.generation_s,
        tokens as f64 / t.generation_s.max(1e-9)
    );
    let r = &manifest.requests;
    let spent = match manifest.cost.usd {
        Some(usd) => format!("${usd:.4}"),
        None => "unknown (set prices with --price-input/--price-output or [llm] in the task file)".to_string(),
    };
    println!(
        "requests: {} ({} replayed from the journal, {} from the cache, {} sent, {} failed, {} retries); {} prompt + {} completion tokens paid, cost {spent}",
        r.total,
        r.replayed,
        r.cache_hits,
        r.sent,
        r.failed,
        r.retries,
        manifest.cost.paid_prompt_tokens,
        manifest.cost.paid_completion_tokens
    );
    println!("dataset: {}", generated.dataset.display());
    println!("manifest: {}", generated.dataset.with_file_name("manifest.json").display());
}
