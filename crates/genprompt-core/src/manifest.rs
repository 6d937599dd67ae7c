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
    /// Per endpoint when the run was spread over several, in the order given; else empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endpoints: Vec<EndpointUsage>,
    pub timings: Timings,
    /// Labels that ended with fewer rows than asked (their call cap was reached), with why their
    /// replies were dropped; empty for a complete run. Manifests written before it read as complete.
    #[serde(default)]
    pub short_labels: Vec<ShortLabel>,
}

impl Manifest {
    /// Every label got the rows it asked for.
    pub fn is_complete(&self) -> bool {
        self.short_labels.is_empty()
    }
}

/// A label that got fewer rows than asked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShortLabel {
    pub label: String,
    pub kept: usize,
    pub requested: usize,
    pub llm_calls: usize,
    /// The most frequent rejection reasons, most frequent first (at most three).
    pub top_rejections: Vec<ReasonCount>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReasonCount {
    pub reason: String,
    pub count: usize,
}

/// The labels of `labels` that kept fewer rows than they asked for, in label order.
pub fn short_labels(labels: &BTreeMap<String, LabelCounts>) -> Vec<ShortLabel> {
    labels
        .iter()
        .filter(|(_, counts)| counts.kept < counts.requested)
        .map(|(label, counts)| ShortLabel {
            label: label.clone(),
            kept: counts.kept,
            requested: counts.requested,
            llm_calls: counts.llm_calls,
            top_rejections: counts
                .rejected
                .top()
                .into_iter()
                .take(3)
                .map(|(reason, count)| ReasonCount { reason: reason.to_string(), count })
                .collect(),
        })
        .collect()
}

impl std::fmt::Display for ShortLabel {
    /// `billing: 5 of 8 rows from 32 calls (rejected: chatter 12, copies_parent 9, refusal 6)`
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} of {} rows from {} calls", self.label, self.kept, self.requested, self.llm_calls)?;
        if !self.top_rejections.is_empty() {
            let reasons: Vec<String> =
                self.top_rejections.iter().map(|r| format!("{} {}", r.reason, r.count)).collect();
            write!(f, " (rejected: {})", reasons.join(", "))?;
        }
        Ok(())
    }
}

/// One endpoint's share of a run spread over several, as this process saw it (a resumed run
/// counts what it sent itself).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointUsage {
    pub base_url: String,
    pub requests: u64,
    pub failed: u64,
    pub retries: u64,
    pub connection_errors: u64,
    pub timeouts: u64,
    pub server_errors: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Times it stopped answering and was set aside while the others carried the run.
    pub set_aside: u64,
}

/// Why a `manifest.json` cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("not a genprompt manifest: {0}")]
    Malformed(String),
    #[error(
        "the manifest has format_version {found}; this genprompt reads up to {MANIFEST_FORMAT_VERSION}: upgrade genprompt"
    )]
    Newer { found: u64 },
}

impl Manifest {
    /// Parses a manifest, checking `format_version` before anything else: a newer format is
    /// refused by name instead of failing on whichever field changed; older ones read with the
    /// defaults of the fields added since (version 1 had no `requests` and `cost`).
    pub fn from_json(text: &str) -> Result<Manifest, ManifestError> {
        let value: Value = serde_json::from_str(text).map_err(|err| ManifestError::Malformed(err.to_string()))?;
        let version = value
            .get("format_version")
            .ok_or_else(|| ManifestError::Malformed("no format_version field".to_string()))?;
        let found = version
            .as_u64()
            .filter(|v| *v >= 1)
            .ok_or_else(|| ManifestError::Malformed(format!("format_version {version} is not a version number")))?;
        if found > u64::from(MANIFEST_FORMAT_VERSION) {
            return Err(ManifestError::Newer { found });
        }
        serde_json::from_value(value).map_err(|err| ManifestError::Malformed(err.to_string()))
    }
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
    /// Relation texts whose entity tags stand on a line without a sentence around them.
    #[serde(default)]
    pub tags_outside_sentence: usize,
    /// Structured relation texts that the grammar ended at a length bound (cut mid-sentence).
    #[serde(default)]
    pub cut_by_grammar: usize,
    /// Replies that arrived after their label had all its rows (steady schedule): paid for and
    /// journaled, not used.
    #[serde(default)]
    pub surplus: usize,
}

impl RejectionCounts {
    /// Every reason with its count, in a fixed order, named as in the manifest.
    pub fn by_reason(&self) -> [(&'static str, usize); 19] {
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
            ("tags_outside_sentence", self.tags_outside_sentence),
            ("cut_by_grammar", self.cut_by_grammar),
            ("surplus", self.surplus),
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

#[cfg(test)]
#[path = "manifest_tests.rs"]
mod tests;
