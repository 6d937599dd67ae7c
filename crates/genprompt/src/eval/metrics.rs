//! `metrics.json`: what was trained on what, how it scored, and what the training set looks like.

use std::path::{Path, PathBuf};

use genprompt_eval::{BootstrapReport, ClassificationReport, IntrinsicReport, ProbeConfig};
use serde::Serialize;

use super::agreement::AgreementCurve;

/// Version 3 added `agreement`, version 4 `summary.bootstrap`, version 5 `short_labels`.
pub const METRICS_FORMAT_VERSION: u32 = 5;

#[derive(Clone, Debug, Serialize)]
pub struct Metrics {
    pub format_version: u32,
    pub train: String,
    pub real_train: Option<String>,
    pub test: String,
    pub mix: &'static str,
    pub n_train: usize,
    pub n_test: usize,
    pub classifier: &'static str,
    pub encoder: genprompt_core::ModelInfo,
    pub probe: ProbeConfig,
    /// Fine-tuning settings when `classifier` is "finetune".
    pub finetune: Option<FinetuneSettings>,
    pub labels: Vec<String>,
    /// Mean and population standard deviation over the runs, and bootstrap intervals over the
    /// test rows.
    pub summary: Summary,
    /// Precision, recall and F1 of every label, averaged over the runs.
    pub per_label_mean: Vec<genprompt_eval::LabelScores>,
    /// One report per run (seed, seed+1, ...).
    pub runs: Vec<ClassificationReport>,
    /// Diversity and fidelity of the training rows (the synthetic set).
    pub intrinsic: IntrinsicReport,
    /// What was left out of these metrics and why (e.g. label faithfulness without real rows).
    pub notes: Vec<String>,
    /// Accuracy by annotator agreement of the test rows, else null.
    pub agreement: Option<AgreementCurve>,
    /// Labels of the training set's run that kept fewer rows than asked (`compare` fills it from
    /// the method's manifest): scores of a short set are not comparable at equal budget.
    pub short_labels: Vec<genprompt_core::ShortLabel>,
}

#[derive(Clone, Debug, Serialize)]
pub struct FinetuneSettings {
    pub learning_rate: f64,
    pub epochs: usize,
    pub batch_size: usize,
    pub max_length: usize,
    pub weight_decay: f64,
    /// Entity tags found in the data and added to the tokenizer as special tokens.
    pub special_tokens: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub accuracy: MeanStd,
    pub micro_f1: MeanStd,
    pub macro_f1: MeanStd,
    /// 95% percentile intervals of the run-averaged scores over 1,000 resamples of the test rows
    /// (the runs' std reflects only the probe's seed); null without test rows.
    pub bootstrap: Option<BootstrapReport>,
}

#[derive(Clone, Copy, Debug, Serialize)]
pub struct MeanStd {
    pub mean: f64,
    pub std: f64,
}

impl MeanStd {
    pub fn of(values: impl Iterator<Item = f64>) -> MeanStd {
        let values: Vec<f64> = values.collect();
        let n = values.len().max(1) as f64;
        let mean = values.iter().sum::<f64>() / n;
        let std = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
        MeanStd { mean, std }
    }

    pub fn percent(self) -> String {
        format!("{:.1} ± {:.1}", 100.0 * self.mean, 100.0 * self.std)
    }
}

/// Where an evaluation's `metrics.json` goes in `out`.
pub fn metrics_path(out: &Path) -> PathBuf {
    out.join("metrics.json")
}
