//! The Curated LLM judge: probes trained on the real seed rows at several training lengths stand
//! in for CLLM's training checkpoints.

use crate::Result;
use genprompt_core::{LabelId, SeedRow};
use genprompt_embed::{Embeddings, Encoder};
use genprompt_eval::{Probe, ProbeConfig};
use genprompt_methods::{Confidence, LabelJudge};

/// Training lengths of the checkpoint probes, in Adam steps.
const CHECKPOINT_STEPS: [usize; 4] = [100, 200, 400, 800];

pub(crate) struct ProbeJudge {
    checkpoints: Vec<Probe>,
}

impl ProbeJudge {
    /// Trains the checkpoint probes on every label's seed rows.
    pub fn train(seed_rows: &[Vec<SeedRow>], encoder: &dyn Encoder, rng_seed: u64) -> Result<ProbeJudge> {
        let mut embeddings = Embeddings::new(encoder.dim());
        let mut labels = Vec::new();
        for (label_idx, rows) in seed_rows.iter().enumerate() {
            let texts: Vec<&str> = rows.iter().map(|row| row.text.as_str()).collect();
            embeddings.extend(&encoder.encode(&texts)?)?;
            labels.extend(std::iter::repeat_n(label_idx, rows.len()));
        }
        let checkpoints = CHECKPOINT_STEPS
            .iter()
            .map(|&steps| {
                let config = ProbeConfig { steps, rng_seed, ..ProbeConfig::standard() };
                Probe::train(&embeddings, &labels, seed_rows.len(), &config)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ProbeJudge { checkpoints })
    }
}

impl LabelJudge for ProbeJudge {
    fn judge(&self, candidates: &Embeddings, label: LabelId) -> Vec<Confidence> {
        if candidates.is_empty() {
            return Vec::new();
        }
        let probabilities: Vec<_> = self.checkpoints.iter().map(|probe| probe.predict_proba(candidates)).collect();
        let n_checkpoints = probabilities.len() as f32;
        (0..candidates.len())
            .map(|row| {
                let p: Vec<f32> = probabilities.iter().map(|proba| proba[[row, label.0]]).collect();
                Confidence {
                    mean: p.iter().sum::<f32>() / n_checkpoints,
                    aleatoric: p.iter().map(|p| p * (1.0 - p)).sum::<f32>() / n_checkpoints,
                }
            })
            .collect()
    }
}
