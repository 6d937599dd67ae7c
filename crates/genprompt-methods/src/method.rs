use genprompt_core::{LabelId, Lineage, SeedRow};
use genprompt_embed::Embeddings;
use genprompt_llm::ChatMessage;

use crate::MethodError;

/// Sent as the system message of every method: llama.cpp's built-in templates add no default
/// system prompt while Jinja-based servers do, so we always pass one to get the same prompt
/// everywhere.
pub const SYSTEM_PROMPT: &str = "You write realistic synthetic training data for text classifiers.";

/// One request a method wants answered, with where its answer will have come from.
#[derive(Clone, Debug, PartialEq)]
pub struct Draft {
    /// The conversation after the system message (usually one user message).
    pub messages: Vec<ChatMessage>,
    pub lineage: Lineage,
    /// Texts shown in the prompt; a reply that repeats one of them is a copy, not an offspring.
    pub shown_texts: Vec<String>,
}

/// A way of generating rows for one label at a time.
///
/// `run_method` calls `start_label`, then, on the generational schedule, alternates `next_batch`
/// and `kept` until the label has enough rows or the call cap is reached; on the steady schedule
/// it works on every label at once, through one fresh instance per label (`fresh`), drafting one
/// request at a time (`next_draft`) and reporting each draft's fate (`kept`, `draft_settled`).
///
/// That order is the contract: `next_batch`, `next_draft` or `kept` before any `start_label` is a
/// caller bug; since callers are outside code, a method answers it with no draft or an error
/// (`MethodError::Contract`), not a panic.
pub trait Method {
    /// Name in the manifest, e.g. "genetic" or "simprompt".
    fn name(&self) -> &'static str;

    /// Method-specific parameters for the manifest.
    fn parameters(&self) -> Vec<(&'static str, serde_json::Value)>;

    /// Prepares a label: `seed_rows` are its real rows, `seed_embeddings` their embeddings.
    fn start_label(
        &mut self,
        label: LabelId,
        seed_rows: &[SeedRow],
        seed_embeddings: Embeddings,
    ) -> Result<(), MethodError>;

    /// Up to `n` drafts for batch `batch`; fewer (even none) when the method cannot draft more.
    fn next_batch(&mut self, n: usize, batch: usize) -> Vec<Draft>;

    /// The offspring kept from the last batch (id, text) with their embeddings, in order; an
    /// error if they do not fit (a count or dimension that differs).
    fn kept(&mut self, offspring: &[(String, String)], embeddings: &Embeddings) -> Result<(), MethodError>;

    /// A last look at the batch's candidates (already cleaned and deduplicated), by embedding:
    /// `false` drops a candidate as curated out. Most methods keep everything.
    fn screen(&self, _candidates: &Embeddings) -> Vec<bool> {
        vec![true; _candidates.len()]
    }

    /// The request of draft `draft_idx` of the last batch failed (no reply at all).
    fn request_failed(&mut self, _draft_idx: usize) {}

    /// A new instance with the same settings and no label started: the steady schedule runs one
    /// per label.
    fn fresh(&self) -> Box<dyn Method + '_>;

    /// Steady schedule: the draft numbered `seq` within the label, from the state as it is now;
    /// `None` when the method cannot draft more.
    fn next_draft(&mut self, seq: usize) -> Option<Draft> {
        self.next_batch(1, seq).pop()
    }

    /// Steady schedule: draft `seq` was settled, its reply used (`kept` has been called if it was
    /// kept) or, with `failed`, its request failed.
    fn draft_settled(&mut self, _seq: usize, _failed: bool) {}

    /// Prompts per batch this method prefers, if it has a reason to (e.g. the paper's per-offspring
    /// pool update); `None` keeps the run's batch size.
    fn batch_size_override(&self) -> Option<usize> {
        None
    }
}
