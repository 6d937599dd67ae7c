//! The machinery every method shares: per label, batch after batch, until enough rows are kept.

use std::collections::HashSet;

use genprompt_core::{LabelCounts, LabelId, Lineage, RngStream, SeedRow, Task, TokenUsage, stream_seed};
use genprompt_embed::{Embeddings, Encoder};
use genprompt_llm::{ChatMessage, ChatModel, ChatRequest, FinishReason, LlmError, Sampling};

use crate::clean::{duplicate_key, is_near_copy};
use crate::{Cleaning, Method, MethodError, Rejection, SYSTEM_PROMPT, check_entity_tags, clean_reply};

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

/// Runs `method` on every label of `task`; `seed_rows[label]` are the label's real rows.
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
    let mut outcome = GenerationOutcome { offspring: Vec::new(), counts: Vec::new(), tokens: TokenUsage::default() };
    let mut failures = FailureTally::default();
    for label_id in task.label_ids() {
        let rows = &seed_rows[label_id.0];
        let texts: Vec<&str> = rows.iter().map(|row| row.text.as_str()).collect();
        method.start_label(label_id, rows, encoder.encode(&texts)?)?;
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
            let candidate_embeddings = self.encoder.encode(&texts)?;
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
                kept_embeddings.push(embedding);
                batch_embeddings.push(embedding);
                kept.push((id.clone(), text.clone()));
                kept_requests.push(draft_idx);
                let lineage = drafts[draft_idx].lineage.clone();
                self.outcome.offspring.push(Offspring { id, label: self.label_id, text, lineage, truncated });
            }
            method.kept(&kept, &batch_embeddings);
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
        let mut messages = vec![ChatMessage::system(SYSTEM_PROMPT)];
        messages.extend(draft.messages.iter().cloned());
        let sampling = &self.config.sampling;
        ChatRequest {
            messages,
            sampling: Sampling {
                temperature: sampling.temperature,
                top_p: sampling.top_p,
                min_p: sampling.min_p,
                repeat_penalty: sampling.repeat_penalty,
                max_tokens: sampling.max_tokens,
                stop: Vec::new(),
                seed: stream_seed(self.config.rng_seed, RngStream::Sampling { label: self.label_id.0, batch, request }),
            },
            json_schema: self.config.structured.then(|| text_schema(sampling.max_tokens)),
        }
    }

    /// Cleaning, entity tags, copies and exact duplicates; `seen` records the kept texts' keys.
    fn check_text(&self, raw: &str, draft: &crate::Draft, seen: &mut HashSet<String>) -> Result<String, Rejection> {
        let label = self.task.label(self.label_id);
        let cleaning = self.config.cleaning;
        let raw = if self.config.structured { text_field(raw) } else { raw.to_string() };
        let text = clean_reply(&raw, cleaning, &label.name, &self.task.text_kind)?;
        if let (Cleaning::Clean, Some(relation)) = (cleaning, &self.task.relation) {
            check_entity_tags(&text, relation)?;
        }
        let key = duplicate_key(&text);
        let copies =
            |shown: &String| duplicate_key(shown) == key || cleaning == Cleaning::Clean && is_near_copy(&text, shown);
        if self.seed_keys.contains(&key) || draft.shown_texts.iter().any(copies) {
            return Err(Rejection::CopiesParent);
        }
        if cleaning == Cleaning::Clean && !seen.insert(key) {
            return Err(Rejection::Duplicate);
        }
        Ok(text)
    }

    fn is_near_duplicate(&self, embedding: &[f32], kept: &Embeddings) -> bool {
        let Some(threshold) = self.config.near_duplicate_threshold.filter(|_| self.config.cleaning == Cleaning::Clean)
        else {
            return false;
        };
        kept.rows().any(|row| genprompt_embed::dot(row, embedding) >= threshold)
    }
}

/// The structured reply's shape: one non-empty string, short enough to close within `max_tokens`
/// (about 3 characters a token), so that a long reply is cut inside the string, not left invalid.
pub fn text_schema(max_tokens: u32) -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "properties": {"text": {"type": "string", "minLength": 1, "maxLength": 3 * max_tokens.max(8)}},
        "required": ["text"]
    })
}

/// The `text` of a structured reply; a reply that is not such an object is cleaned as it is.
fn text_field(raw: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(raw) {
        Ok(serde_json::Value::Object(map)) => match map.get("text") {
            Some(serde_json::Value::String(text)) => text.clone(),
            _ => raw.to_string(),
        },
        _ => raw.to_string(),
    }
}

fn count_rejection(counts: &mut LabelCounts, rejection: Rejection) {
    rejection.count(&mut counts.rejected);
}

#[cfg(test)]
mod tests;
