//! All intrinsic measures of a synthetic dataset in one call and one serializable value.

use genprompt_embed::Embeddings;

use crate::intrinsic::{chamfer, chamfer_n_queries, cmd, label_faithfulness, remote_clique, top_k_similarity};
use crate::self_bleu::{corpus_self_bleu, self_bleu_n_hypotheses};
use crate::text_stats::{Corpus, TextStats};
use crate::{Aps, EvalError, Probe, aps};

/// How the intrinsic measures are computed. No `Default`: use [`IntrinsicConfig::standard`] and
/// override fields, so the values recorded with the results are chosen on purpose.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct IntrinsicConfig {
    /// Moments compared by CMD; the Genetic Prompt paper uses 5.
    pub n_moments: usize,
    /// Chamfer averages over at most this many seeded query rows (each searched against all rows).
    pub chamfer_max_queries: usize,
    /// Similarities averaged per real row by the top-k similarity; Li et al. use 5.
    pub top_k: usize,
    /// Texts scored by self-BLEU (each against all others).
    pub self_bleu_hypotheses: usize,
    /// Seeds the chamfer and self-BLEU samples.
    pub rng_seed: u64,
}

impl IntrinsicConfig {
    /// The paper settings (5 moments, top 5), chamfer over 2000 queries and self-BLEU over 500
    /// hypotheses: exact below those sizes, a sample above.
    pub fn standard() -> IntrinsicConfig {
        IntrinsicConfig { n_moments: 5, chamfer_max_queries: 2000, top_k: 5, self_bleu_hypotheses: 500, rng_seed: 0 }
    }
}

/// Intrinsic measures of one synthetic dataset; those comparing with real data are `None` without
/// it. See each function for what lower and higher mean.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct IntrinsicReport {
    pub n_synthetic: usize,
    /// Rows of the real set compared with; `None` without real data.
    pub n_real: Option<usize>,
    /// Average pairwise cosine similarity, overall, within and across labels; lower = more diverse.
    pub aps: Aps,
    /// [`crate::remote_clique`].
    pub remote_clique: Option<f64>,
    /// [`crate::chamfer`].
    pub chamfer: Option<f64>,
    /// Rows chamfer averaged over: `n_synthetic`, or fewer when it used a sample.
    pub chamfer_n_queries: usize,
    /// [`crate::cmd`] against the real rows.
    pub cmd: Option<f64>,
    /// [`crate::top_k_similarity`] of the real rows to the synthetic ones.
    pub top_k_similarity: Option<f64>,
    /// [`crate::label_faithfulness`] under the probe trained on real data.
    pub label_faithfulness: Option<f64>,
    /// Size, vocabulary and distinct-n of the synthetic texts.
    pub text: TextStats,
    /// [`crate::self_bleu`].
    pub self_bleu: Option<f64>,
    /// Texts self-BLEU averaged over: `n_synthetic`, or fewer when it used a sample.
    pub self_bleu_n_hypotheses: usize,
}

/// Computes every intrinsic measure of `synthetic` (embeddings, one label index and one text per
/// row); `real` is the real embeddings and a probe trained on real data, for CMD, top-k similarity
/// and label faithfulness.
///
/// The texts are tokenized once for the text statistics and self-BLEU. An error if the labels or
/// texts do not match the rows one to one, a label is unknown to the probe, or the dimensions of
/// the synthetic rows, the real rows and the probe differ.
pub fn intrinsic_report(
    synthetic: &Embeddings,
    synthetic_labels: &[usize],
    synthetic_texts: &[&str],
    real: Option<(&Embeddings, &Probe)>,
    config: &IntrinsicConfig,
) -> Result<IntrinsicReport, EvalError> {
    let (real, judge) = (real.map(|(x, _)| x), real.map(|(_, probe)| probe));
    intrinsic_report_with(synthetic, synthetic_labels, synthetic_texts, real, judge, config)
}

/// Like [`intrinsic_report`], with the real rows and the probe given apart: without a probe
/// trained on real *training* rows, label faithfulness is left out (`None`) rather than judged
/// by a probe trained on the test rows it is compared with.
pub fn intrinsic_report_with(
    synthetic: &Embeddings,
    synthetic_labels: &[usize],
    synthetic_texts: &[&str],
    real: Option<&Embeddings>,
    judge: Option<&Probe>,
    config: &IntrinsicConfig,
) -> Result<IntrinsicReport, EvalError> {
    let n_synthetic = synthetic.len();
    if n_synthetic != synthetic_labels.len() {
        return Err(EvalError::LengthMismatch { n_rows: n_synthetic, n_row_labels: synthetic_labels.len() });
    }
    if n_synthetic != synthetic_texts.len() {
        return Err(EvalError::TextCountMismatch { n_rows: n_synthetic, n_texts: synthetic_texts.len() });
    }
    let corpus = Corpus::new(synthetic_texts);
    let label_faithfulness = judge.map(|probe| label_faithfulness(probe, synthetic, synthetic_labels)).transpose()?;
    Ok(IntrinsicReport {
        n_synthetic,
        n_real: real.map(Embeddings::len),
        aps: aps(synthetic, synthetic_labels),
        remote_clique: remote_clique(synthetic),
        chamfer: chamfer(synthetic, config.chamfer_max_queries, config.rng_seed),
        chamfer_n_queries: chamfer_n_queries(n_synthetic, config.chamfer_max_queries),
        cmd: real.map(|real| cmd(synthetic, real, config.n_moments)).transpose()?.flatten(),
        top_k_similarity: real.map(|real| top_k_similarity(real, synthetic, config.top_k)).transpose()?.flatten(),
        label_faithfulness,
        text: corpus.stats(),
        self_bleu: corpus_self_bleu(&corpus, config.self_bleu_hypotheses, config.rng_seed),
        self_bleu_n_hypotheses: self_bleu_n_hypotheses(n_synthetic, config.self_bleu_hypotheses),
    })
}

#[cfg(test)]
mod tests;
