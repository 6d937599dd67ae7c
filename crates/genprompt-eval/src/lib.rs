//! Evaluation of a generated dataset. Downstream: how well a classifier trained on it labels real
//! test texts (a linear probe on frozen embeddings, scored with accuracy and F1). Intrinsic: how
//! diverse its texts are (APS, remote-clique, chamfer, vocabulary, distinct-n, self-BLEU), how
//! close they are to real data (CMD, top-k similarity) and how well they carry their labels
//! (label faithfulness); [`intrinsic_report`] gathers these. Subjectivity (Li et al. 2023): accuracy
//! by annotator agreement and the rank correlation of task subjectivity with the real-synthetic gap.
//!
//! Architecture invariant: pure computation. No IO, no printing, no clock; randomness comes in as
//! `ProbeConfig::rng_seed` and `IntrinsicConfig::rng_seed`, so the same inputs give the same
//! numbers. No measure builds an n x n matrix: memory stays proportional to the inputs.

mod bootstrap;
mod error;
mod intrinsic;
mod metrics;
mod probe;
mod report;
mod rng;
mod self_bleu;
mod subjectivity;
mod text_stats;

pub use bootstrap::{BootstrapConfig, BootstrapReport, Interval, bootstrap_f1};
pub use error::EvalError;
pub use intrinsic::{chamfer, chamfer_n_queries, cmd, label_faithfulness, remote_clique, top_k_similarity};
pub use metrics::{Aps, ClassificationReport, LabelScores, aps, classification_report, mean_per_label};
pub use probe::{Probe, ProbeConfig};
pub use report::{IntrinsicConfig, IntrinsicReport, intrinsic_report, intrinsic_report_with};
pub use self_bleu::{self_bleu, self_bleu_n_hypotheses};
pub use subjectivity::{AgreementPoint, accuracy_by_agreement, agreement_thresholds, average_ranks, spearman};
pub use text_stats::{TextStats, text_stats, tokenize};

#[cfg(test)]
mod tests;
