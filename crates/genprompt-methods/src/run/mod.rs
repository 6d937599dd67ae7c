//! The machinery every method shares. Two schedules: generational (per label, batch after batch
//! with a barrier, until enough rows are kept) and steady (`steady.rs`: every label at once, a
//! window of requests always in flight, each reply used as it arrives).

use std::collections::HashSet;

use genprompt_core::{LabelCounts, LabelId, Lineage, SeedRow, Task, TokenUsage};
use genprompt_embed::{Embeddings, Encoder};
use genprompt_llm::{ChatModel, ChatRequest, FinishReason, LlmError};

use crate::clean::duplicate_key;
use crate::{Cleaning, Method, MethodError, Rejection};

/// What every method's run shares; build it with `RunConfig::paper` and adjust.
#[derive(Clone, Debug)]
pub struct RunConfig {
    pub n_per_label: usize,
    /// Prompts per batch; methods that learn from their output see a batch's rows after it.
    pub batch_size: usize,
    pub cleaning: Cleaning,
    pub sampling: SamplingConfig,
    /// Stop a label after this many LLM calls per wanted row, however many were kept.
    pub max_calls_per_row: usize,
    /// In `Clean` mode, drop a reply whose cosine similarity to a kept row of its label reaches
    /// this value; `None` keeps near duplicates (exact duplicates are always dropped in `Clean`).
    pub near_duplicate_threshold: Option<f32>,
    /// Stop the run when more than this share of its LLM calls failed (after their retries),
    /// counted once at least [`MIN_CALLS_FOR_FAILURE_SHARE`] calls were made.
    pub max_failure_share: f64,
    /// Ask for `{"text": "..."}` under a JSON schema (a grammar on the embedded model,
    /// `response_format` on endpoints) instead of free text, so nothing can precede the text.
    pub structured: bool,
    pub rng_seed: u64,
    pub schedule: Schedule,
}

/// When replies are used and new requests drafted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Schedule {
    /// The paper's: per label, `batch_size` drafts, wait for every reply, use them, draft again.
    /// A batch's replies are used in request order, so runs are reproducible on backends whose
    /// replies depend on their batch-mates (the embedded engine).
    Generational,
    /// Every label at once, `window` requests always submitted: each reply is used as it arrives
    /// (in arrival order, which a run journal records so a resumed run replays it) and the next
    /// request of its label is drafted from the pool as it stands then.
    Steady { window: usize },
}

impl Schedule {
    pub fn as_str(self) -> &'static str {
        match self {
            Schedule::Generational => "generational",
            Schedule::Steady { .. } => "steady",
        }
    }
}

/// Below this many calls, a few failures say little about the backend; do not stop yet.
pub const MIN_CALLS_FOR_FAILURE_SHARE: usize = 10;

#[derive(Clone, Debug, PartialEq)]
pub struct SamplingConfig {
    pub temperature: f32,
    pub top_p: f32,
    /// 0 = off (the paper).
    pub min_p: f32,
    /// 1 = off (the paper).
    pub repeat_penalty: f32,
    pub max_tokens: u32,
}

impl SamplingConfig {
    /// The paper's sampling: temperature 1, top_p 1, nothing else.
    pub fn paper(max_tokens: u32) -> SamplingConfig {
        SamplingConfig { temperature: 1.0, top_p: 1.0, min_p: 0.0, repeat_penalty: 1.0, max_tokens }
    }
}

impl RunConfig {
    /// The paper's sampling (temperature 1, top_p 1) and batches of 20, with a 256-token cap
    /// instead of 1024 because single texts are short, and near duplicates at cosine >= 0.95 dropped.
    pub fn paper(n_per_label: usize, rng_seed: u64) -> RunConfig {
        RunConfig {
            n_per_label,
            batch_size: 20,
            cleaning: Cleaning::Clean,
            sampling: SamplingConfig::paper(256),
            max_calls_per_row: 4,
            near_duplicate_threshold: Some(0.95),
            max_failure_share: 0.2,
            structured: false,
            rng_seed,
            schedule: Schedule::Generational,
        }
    }
}

/// One generated row with its lineage.
#[derive(Clone, Debug, PartialEq)]
pub struct Offspring {
    pub id: String,
    pub label: LabelId,
    pub text: String,
    pub lineage: Lineage,
    /// The reply was cut at `max_tokens`.
    pub truncated: bool,
}

/// What a run produced: rows in label order, then batch order, and the counts per label.
#[derive(Debug)]
pub struct GenerationOutcome {
    pub offspring: Vec<Offspring>,
    pub counts: Vec<LabelCounts>,
    pub tokens: TokenUsage,
}

/// One finished batch: for display, and for journals that commit the kept rows.
#[derive(Clone, Debug)]
pub struct BatchReport<'a> {
    pub label: &'a str,
    pub batch: usize,
    pub n_requests: usize,
    pub n_kept: usize,
    pub kept_so_far: usize,
    pub wanted: usize,
    pub tokens: TokenUsage,
    /// The batch's requests, and its kept rows with the index of the request behind each.
    pub requests: &'a [ChatRequest],
    pub kept: &'a [Offspring],
    pub kept_requests: &'a [usize],
}

/// A request that failed after the backend's retries.
#[derive(Clone, Debug)]
pub struct FailedRequest<'a> {
    pub label: &'a str,
    pub batch: usize,
    pub request: usize,
    pub error: &'a LlmError,
}

/// Receives progress events and may stop the run between batches; the CLI draws progress and
/// journals rows, tests record events.
pub trait RunObserver: Sync {
    fn label_started(&self, _label: &str, _n_seed_rows: usize, _wanted: usize) {}
    /// An error stops the run: a batch the observer cannot keep must not be built upon.
    fn batch_finished(&self, _report: &BatchReport<'_>) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        Ok(())
    }
    fn request_failed(&self, _failure: &FailedRequest<'_>) {}
    /// Checked before each batch; `true` ends the run with [`MethodError::Interrupted`].
    fn should_stop(&self) -> bool {
        false
    }
}

impl RunObserver for () {}

/// Runs `method` on every label of `task` on `config.schedule`; `seed_rows[label]` are the
/// label's real rows (a label without an entry has none, which most methods refuse).
pub fn run_method(
    task: &Task,
    seed_rows: &[Vec<SeedRow>],
    method: &mut dyn Method,
    config: &RunConfig,
    chat: &dyn ChatModel,
    encoder: &dyn Encoder,
    observer: &dyn RunObserver,
) -> Result<GenerationOutcome, MethodError> {
    // Seed rows never reach the output, whichever label they belong to.
    let seed_keys: HashSet<String> = seed_rows.iter().flatten().map(|row| duplicate_key(&row.text)).collect();
    if let Schedule::Steady { window } = config.schedule {
        let run = steady::Steady { task, config, seed_keys: &seed_keys, encoder, observer, window: window.max(1) };
        return run.run(seed_rows, &*method, chat);
    }
    let mut outcome = GenerationOutcome { offspring: Vec::new(), counts: Vec::new(), tokens: TokenUsage::default() };
    let mut failures = FailureTally::default();
    for label_id in task.label_ids() {
        let rows = label_seed_rows(seed_rows, label_id);
        let texts: Vec<&str> = rows.iter().map(|row| row.text.as_str()).collect();
        method.start_label(label_id, rows, check::encode_all(encoder, &texts)?)?;
        let mut label_run = LabelRun {
            task,
            label_id,
            config,
            seed_keys: &seed_keys,
            encoder,
            outcome: &mut outcome,
            failures: &mut failures,
        };
        let counts = label_run.run(method, chat, observer, rows.len())?;
        outcome.counts.push(counts);
    }
    Ok(outcome)
}

fn label_seed_rows(seed_rows: &[Vec<SeedRow>], label: LabelId) -> &[SeedRow] {
    seed_rows.get(label.0).map_or(&[], Vec::as_slice)
}

struct LabelRun<'r> {
    task: &'r Task,
    label_id: LabelId,
    config: &'r RunConfig,
    seed_keys: &'r HashSet<String>,
    encoder: &'r dyn Encoder,
    outcome: &'r mut GenerationOutcome,
    failures: &'r mut FailureTally,
}

/// Calls and failures over the whole run, for the failure threshold.
#[derive(Default)]
struct FailureTally {
    calls: usize,
    failed: usize,
    last_error: String,
}

impl FailureTally {
    fn check(&self, limit: f64) -> Result<(), MethodError> {
        let share = self.failed as f64 / self.calls.max(1) as f64;
        if self.calls >= MIN_CALLS_FOR_FAILURE_SHARE && share > limit {
            return Err(MethodError::TooManyFailures {
                failed: self.failed,
                calls: self.calls,
                limit,
                last_error: self.last_error.clone(),
            });
        }
        Ok(())
    }
}

impl LabelRun<'_> {
    fn run(
        &mut self,
        method: &mut dyn Method,
        chat: &dyn ChatModel,
        observer: &dyn RunObserver,
        n_seed_rows: usize,
    ) -> Result<LabelCounts, MethodError> {
        let label = self.task.label(self.label_id);
        let wanted = self.config.n_per_label;
        observer.label_started(&label.name, n_seed_rows, wanted);
        let batch_size = method.batch_size_override().unwrap_or(self.config.batch_size).max(1);
        let max_calls = wanted * self.config.max_calls_per_row.max(1);
        let mut counts = LabelCounts { seed_rows: n_seed_rows, requested: wanted, ..LabelCounts::default() };
        let mut seen: HashSet<String> = HashSet::new();
        let mut kept_embeddings = Embeddings::new(self.encoder.dim());
        let mut n_kept = 0;
        let mut batch = 0;
        while n_kept < wanted && counts.llm_calls < max_calls {
            if observer.should_stop() {
                return Err(MethodError::Interrupted);
            }
            let n_prompts = batch_size.min(wanted - n_kept).min(max_calls - counts.llm_calls);
            let mut drafts = method.next_batch(n_prompts, batch);
            drafts.truncate(n_prompts);
            if drafts.is_empty() {
                break;
            }
            let requests: Vec<ChatRequest> =
                drafts.iter().enumerate().map(|(idx, draft)| self.request(draft, batch, idx)).collect();
            let replies = chat.chat(&requests);
            counts.llm_calls += requests.len();
            self.failures.calls += requests.len();
            counts.batches += 1;
            let mut batch_tokens = TokenUsage::default();
            // Candidates that passed the text checks, then the embedding check.
            let mut candidates: Vec<(usize, String, bool)> = Vec::new();
            for (draft_idx, (draft, reply)) in drafts.iter().zip(replies).enumerate() {
                let reply = match reply {
                    Ok(reply) => reply,
                    Err(error) => {
                        observer.request_failed(&FailedRequest {
                            label: &label.name,
                            batch,
                            request: draft_idx,
                            error: &error,
                        });
                        self.failures.failed += 1;
                        self.failures.last_error = error.to_string();
                        method.request_failed(draft_idx);
                        count_rejection(&mut counts, Rejection::LlmError);
                        continue;
                    }
                };
                batch_tokens.prompt += u64::from(reply.usage.prompt_tokens);
                batch_tokens.completion += u64::from(reply.usage.completion_tokens);
                let truncated = reply.finish == FinishReason::Length;
                counts.truncated += usize::from(truncated);
                match self.check_text(&reply.text, draft, &mut seen) {
                    Ok(text) => candidates.push((draft_idx, text, truncated)),
                    Err(rejection) => count_rejection(&mut counts, rejection),
                }
            }
            let texts: Vec<&str> = candidates.iter().map(|(_, text, _)| text.as_str()).collect();
            let candidate_embeddings = check::encode_all(self.encoder, &texts)?;
            let passes = method.screen(&candidate_embeddings);
            let mut kept = Vec::new();
            let mut kept_requests = Vec::new();
            let first_kept = self.outcome.offspring.len();
            let mut batch_embeddings = Embeddings::new(self.encoder.dim());
            for (row, (draft_idx, text, truncated)) in candidates.into_iter().enumerate() {
                let embedding = candidate_embeddings.row(row);
                if !passes.get(row).copied().unwrap_or(true) {
                    count_rejection(&mut counts, Rejection::CuratedOut);
                    continue;
                }
                if self.is_near_duplicate(embedding, &kept_embeddings) {
                    count_rejection(&mut counts, Rejection::NearDuplicate);
                    continue;
                }
                let id = format!("gen:{}:{}", label.name, n_kept);
                n_kept += 1;
                kept_embeddings.push(embedding)?;
                batch_embeddings.push(embedding)?;
                kept.push((id.clone(), text.clone()));
                kept_requests.push(draft_idx);
                let lineage = drafts[draft_idx].lineage.clone();
                self.outcome.offspring.push(Offspring { id, label: self.label_id, text, lineage, truncated });
            }
            method.kept(&kept, &batch_embeddings)?;
            self.outcome.tokens.prompt += batch_tokens.prompt;
            self.outcome.tokens.completion += batch_tokens.completion;
            observer
                .batch_finished(&BatchReport {
                    label: &label.name,
                    batch,
                    n_requests: requests.len(),
                    n_kept: kept.len(),
                    kept_so_far: n_kept,
                    wanted,
                    tokens: batch_tokens,
                    requests: &requests,
                    kept: &self.outcome.offspring[first_kept..],
                    kept_requests: &kept_requests,
                })
                .map_err(MethodError::Observer)?;
            self.failures.check(self.config.max_failure_share)?;
            batch += 1;
        }
        counts.kept = n_kept;
        Ok(counts)
    }

    fn request(&self, draft: &crate::Draft, batch: usize, request: usize) -> ChatRequest {
        build_request(self.task, self.config, self.label_id, draft, batch, request)
    }

    /// Cleaning, entity tags, copies and exact duplicates; `seen` records the kept texts' keys.
    fn check_text(&self, raw: &str, draft: &crate::Draft, seen: &mut HashSet<String>) -> Result<String, Rejection> {
        let (text, key) = check_reply(self.task, self.label_id, self.config, self.seed_keys, raw, draft)?;
        check_duplicate(self.config, key, seen)?;
        Ok(text)
    }

    fn is_near_duplicate(&self, embedding: &[f32], kept: &Embeddings) -> bool {
        is_near_duplicate(self.config, embedding, kept)
    }
}

mod check;
mod steady;

use check::{build_request, check_duplicate, check_reply, count_rejection, is_near_duplicate};
pub use check::{tagged_sentence_pattern, text_schema};

#[cfg(test)]
mod tests;
