//! A dry run: what a generation would send and cost, from the method's real first prompts, before
//! anything is sent. Token counts are estimates (4 characters per token).

use genprompt_methods::SYSTEM_PROMPT;

use crate::backends::Prices;
use crate::generate::{GenerateConfig, build_method, train_judge};
use crate::{Observer, Result};

const CHARS_PER_TOKEN: f64 = 4.0;

/// The estimate of a dry run.
#[derive(Clone, Debug)]
pub struct DryRun {
    pub method: String,
    pub task: String,
    pub n_labels: usize,
    pub n_per_label: usize,
    pub batch_size: usize,
    /// Requests when every reply is kept, and at the cap of calls per wanted row.
    pub min_requests: usize,
    pub max_requests: usize,
    pub max_calls_per_row: usize,
    /// Mean prompt tokens per request, measured on the first batch of each label.
    pub prompt_tokens: f64,
    /// Completion tokens per request: expected (the seed rows' mean length) and at most.
    pub expected_completion: f64,
    pub max_completion: f64,
    /// (prompt, completion) tokens expected and at most.
    pub expected_tokens: (f64, f64),
    pub most_tokens: (f64, f64),
    pub prices: Prices,
    /// The embedded model would run (it is free).
    pub embedded: bool,
}

impl DryRun {
    /// Expected and highest cost in US dollars, when prices are known.
    pub fn cost(&self) -> Option<(f64, f64)> {
        let (expected, most) = (self.expected_tokens, self.most_tokens);
        self.prices.cost(expected.0 as u64, expected.1 as u64).zip(self.prices.cost(most.0 as u64, most.1 as u64))
    }
}

/// Estimates the run `config` describes; loads only the encoder and sends nothing.
pub fn dry_run(config: &GenerateConfig, observer: &dyn Observer) -> Result<DryRun> {
    let (loaded, run_config) = config.prepare()?;
    let job = config.job(&loaded, &run_config);
    let task = &loaded.task;
    observer.step("loading the encoder (the LLM is not loaded and nothing is sent)");
    let encoder = config.backends.load_encoder()?;
    let judge = train_judge(&job, &*encoder)?;
    let mut method = build_method(&job, judge.as_ref())?;
    let n_labels = task.labels().len();
    let (mut prompt_chars, mut n_prompts, mut seed_chars, mut n_seeds) = (0usize, 0usize, 0usize, 0usize);
    for label_id in task.label_ids() {
        let rows = &loaded.seed_rows[label_id.0];
        let texts: Vec<&str> = rows.iter().map(|row| row.text.as_str()).collect();
        method.start_label(label_id, rows, encoder.encode(&texts)?)?;
        for draft in method.next_batch(run_config.batch_size.min(run_config.n_per_label), 0) {
            prompt_chars += SYSTEM_PROMPT.len() + draft.messages.iter().map(|m| m.content.len()).sum::<usize>();
            n_prompts += 1;
        }
        seed_chars += texts.iter().map(|t| t.len()).sum::<usize>();
        n_seeds += texts.len();
    }
    let prompt_tokens = prompt_chars as f64 / CHARS_PER_TOKEN / n_prompts.max(1) as f64;
    let expected_completion =
        (seed_chars as f64 / CHARS_PER_TOKEN / n_seeds.max(1) as f64).min(f64::from(run_config.sampling.max_tokens));
    let max_completion = f64::from(run_config.sampling.max_tokens);
    let min_requests = n_labels * run_config.n_per_label;
    let max_requests = min_requests * run_config.max_calls_per_row.max(1);
    let choice = config.backends.llm_choice(loaded.llm.as_ref());
    Ok(DryRun {
        method: method.name().to_string(),
        task: task.name.clone(),
        n_labels,
        n_per_label: run_config.n_per_label,
        batch_size: run_config.batch_size,
        min_requests,
        max_requests,
        max_calls_per_row: run_config.max_calls_per_row,
        prompt_tokens,
        expected_completion,
        max_completion,
        expected_tokens: (min_requests as f64 * prompt_tokens, min_requests as f64 * expected_completion),
        most_tokens: (max_requests as f64 * prompt_tokens, max_requests as f64 * max_completion),
        prices: choice.prices,
        embedded: choice.base_url.is_none(),
    })
}
