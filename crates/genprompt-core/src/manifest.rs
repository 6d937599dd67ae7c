use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Bumped whenever a field changes meaning or disappears; readers check it first.
/// Version 2 added `requests` and `cost`.
pub const MANIFEST_FORMAT_VERSION: u32 = 2;

/// `manifest.json`: everything needed to know how a dataset was made and to make it again.
///
/// This is the one serialized contract of a run, so its fields are explicit rather than derived
/// from internal types.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format_version: u32,
    pub genprompt_version: String,
    pub task: String,
    pub task_file_sha256: String,
    pub method: String,
    /// Method parameters as given (selection mode, schedule, batch size, sampling...).
    pub parameters: BTreeMap<String, Value>,
    pub rng_seed: u64,
    pub llm: ModelInfo,
    pub encoder: ModelInfo,
    pub seed_rows_file: String,
    pub seed_rows_sha256: String,
    pub n_per_label: usize,
    pub labels: BTreeMap<String, LabelCounts>,
    pub tokens: TokenUsage,
    /// Where the replies came from; `tokens` counts all replies, `cost` only the paid ones.
    #[serde(default)]
    pub requests: RequestCounts,
    #[serde(default)]
    pub cost: Cost,
    pub timings: Timings,
}

/// Where a run's LLM replies came from. A resumed run counts its replayed replies here too.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestCounts {
    pub total: u64,
    /// Replayed from the run's journal (after an interruption).
    pub replayed: u64,
    /// Answered by the shared response cache.
    pub cache_hits: u64,
    /// Sent to the backend by the process that finished the run.
    pub sent: u64,
    /// Failed after the backend's retries (including failures replayed from the journal).
    pub failed: u64,
    /// Backend retries (429, 5xx, timeouts, dropped connections), where the backend counts them.
    pub retries: u64,
}

/// What the tokens sent to the backend cost, where prices are known.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Cost {
    /// Tokens of the replies the backend produced for this process, not those from a cache.
    pub paid_prompt_tokens: u64,
    pub paid_completion_tokens: u64,
    /// US dollars per million tokens, if configured.
    pub price_input_per_million: Option<f64>,
    pub price_output_per_million: Option<f64>,
    /// `None` when no price is configured (zero for the embedded model).
    pub usd: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelInfo {
    pub backend: String,
    pub name: String,
    pub sha256: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelCounts {
    pub seed_rows: usize,
    pub requested: usize,
    pub kept: usize,
    pub llm_calls: usize,
    pub batches: usize,
    /// Replies cut at max_tokens; kept if they pass cleaning, counted here either way.
    pub truncated: usize,
    pub rejected: RejectionCounts,
}

/// Why replies were dropped; no reply is ever dropped without landing in one of these.
/// Reasons added after format 1 default to zero when an older manifest is read.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectionCounts {
    pub refusal: usize,
    pub empty: usize,
    pub duplicate: usize,
    pub near_duplicate: usize,
    pub copies_parent: usize,
    pub missing_entity_tags: usize,
    pub curated_out: usize,
    pub llm_error: usize,
    #[serde(default)]
    pub chatter: usize,
    #[serde(default)]
    pub prompt_echo: usize,
    #[serde(default)]
    pub markdown: usize,
    #[serde(default)]
    pub list_scaffolding: usize,
    #[serde(default)]
    pub key_value: usize,
    #[serde(default)]
    pub placeholder: usize,
    #[serde(default)]
    pub other_script: usize,
    #[serde(default)]
    pub too_few_words: usize,
}

impl RejectionCounts {
    /// Every reason with its count, in a fixed order, named as in the manifest.
    pub fn by_reason(&self) -> [(&'static str, usize); 16] {
        [
            ("refusal", self.refusal),
            ("empty", self.empty),
            ("duplicate", self.duplicate),
            ("near_duplicate", self.near_duplicate),
            ("copies_parent", self.copies_parent),
            ("missing_entity_tags", self.missing_entity_tags),
            ("curated_out", self.curated_out),
            ("llm_error", self.llm_error),
            ("chatter", self.chatter),
            ("prompt_echo", self.prompt_echo),
            ("markdown", self.markdown),
            ("list_scaffolding", self.list_scaffolding),
            ("key_value", self.key_value),
            ("placeholder", self.placeholder),
            ("other_script", self.other_script),
            ("too_few_words", self.too_few_words),
        ]
    }

    pub fn total(&self) -> usize {
        self.by_reason().iter().map(|(_, n)| n).sum()
    }

    /// The reasons that dropped something, most frequent first (ties in the fixed order).
    pub fn top(&self) -> Vec<(&'static str, usize)> {
        let mut reasons: Vec<(&'static str, usize)> = self.by_reason().into_iter().filter(|(_, n)| *n > 0).collect();
        reasons.sort_by_key(|&(_, n)| std::cmp::Reverse(n));
        reasons
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenUsage {
    pub prompt: u64,
    pub completion: u64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    pub total_s: f64,
    pub load_s: f64,
    pub generation_s: f64,
    pub embedding_s: f64,
}
