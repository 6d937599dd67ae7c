use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Bumped whenever a field changes meaning or disappears; readers check it first.
pub const MANIFEST_FORMAT_VERSION: u32 = 1;

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
    pub timings: Timings,
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
}

impl RejectionCounts {
    pub fn total(&self) -> usize {
        self.refusal
            + self.empty
            + self.duplicate
            + self.near_duplicate
            + self.copies_parent
            + self.missing_entity_tags
            + self.curated_out
            + self.llm_error
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
