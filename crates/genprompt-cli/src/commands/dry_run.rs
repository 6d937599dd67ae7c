//! `generate --dry-run`: what a run would send and cost, from the method's real first prompts,
//! before anything is sent. Token counts are estimates (4 characters per token).

use anyhow::Result;
use genprompt_embed::Encoder;
use genprompt_methods::SYSTEM_PROMPT;

use super::generate::{self, Job};
use crate::backends::{LlmChoice, load_encoder};
use crate::progress::Progress;

const CHARS_PER_TOKEN: f64 = 4.0;

pub fn run(job: &Job<'_>, progress: &Progress) -> Result<()> {
    let (loaded, config) = (job.loaded, job.config);
    let task = &loaded.task;
    progress.step("loading the encoder (the LLM is not loaded and nothing is sent)");
    let encoder = load_encoder(job.models)?;
    let judge = generate::train_judge(job, &encoder)?;
    let mut method = generate::build_method(job, judge.as_ref());
    let n_labels = task.labels().len();
    let (mut prompt_chars, mut n_prompts, mut seed_chars, mut n_seeds) = (0usize, 0usize, 0usize, 0usize);
    for label_id in task.label_ids() {
        let rows = &loaded.seed_rows[label_id.0];
        let texts: Vec<&str> = rows.iter().map(|row| row.text.as_str()).collect();
        method.start_label(label_id, rows, encoder.encode(&texts)?)?;
        for draft in method.next_batch(config.batch_size.min(config.n_per_label), 0) {
            prompt_chars += SYSTEM_PROMPT.len() + draft.messages.iter().map(|m| m.content.len()).sum::<usize>();
            n_prompts += 1;
        }
        seed_chars += texts.iter().map(|t| t.len()).sum::<usize>();
        n_seeds += texts.len();
    }
    let prompt_tokens = prompt_chars as f64 / CHARS_PER_TOKEN / n_prompts.max(1) as f64;
    let expected_completion =
        (seed_chars as f64 / CHARS_PER_TOKEN / n_seeds.max(1) as f64).min(f64::from(config.sampling.max_tokens));
    let max_completion = f64::from(config.sampling.max_tokens);
    let min_requests = n_labels * config.n_per_label;
    let max_requests = min_requests * config.max_calls_per_row.max(1);
    let expected = (min_requests as f64 * prompt_tokens, min_requests as f64 * expected_completion);
    let most = (max_requests as f64 * prompt_tokens, max_requests as f64 * max_completion);

    println!(
        "dry run: {} on task \"{}\" ({n_labels} labels), {} rows per label, batches of {}",
        method.name(),
        task.name,
        config.n_per_label,
        config.batch_size
    );
    println!(
        "  requests: at least {min_requests} (every reply kept), at most {max_requests} (the cap of {} calls per wanted row)",
        config.max_calls_per_row
    );
    println!("  prompt tokens per request: ~{prompt_tokens:.0} (measured on the first batch of each label)");
    println!(
        "  completion tokens per request: ~{expected_completion:.0} expected (the seed rows' mean length), at most {max_completion:.0} (max_tokens)"
    );
    println!(
        "  tokens: ~{:.0} prompt + ~{:.0} completion expected; at most {:.0} + {:.0}",
        expected.0, expected.1, most.0, most.1
    );
    let choice = LlmChoice::resolve(job.models, loaded.llm.as_ref());
    let prices = choice.prices;
    match (prices.cost(expected.0 as u64, expected.1 as u64), prices.cost(most.0 as u64, most.1 as u64)) {
        (Some(low), Some(high)) => println!(
            "  cost: ~${low:.4} expected, at most ${high:.4} (${} / ${} per million prompt / completion tokens){}",
            prices.input.unwrap_or_default(),
            prices.output.unwrap_or_default(),
            if choice.base_url.is_none() { "; the embedded model is free" } else { "" }
        ),
        _ => println!("  cost: unknown; give prices with --price-input/--price-output or [llm] in the task file"),
    }
    println!("  replies already in the response cache cost nothing; nothing was sent");
    Ok(())
}
