//! Curated LLM (Seedat et al., ICML 2024) as the Genetic Prompt paper runs it: over-generate with
//! SimPrompt, keep only what a classifier trained on the real rows learns confidently.

use genprompt_core::{LabelId, SeedRow, Task};
use genprompt_embed::Embeddings;
use serde_json::json;

use super::SimPrompt;
use crate::{Draft, Method, MethodError};

/// How sure a classifier trained on real rows is of one row's label, across training checkpoints.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Confidence {
    /// Mean probability of the row's label over the checkpoints.
    pub mean: f32,
    /// Mean of p (1 - p) over the checkpoints: high when the classifier keeps hesitating.
    pub aleatoric: f32,
}

/// Scores rows for a label; the CLI implements it with probes trained on the real seed rows, so
/// this crate needs no classifier of its own.
pub trait LabelJudge {
    fn judge(&self, candidates: &Embeddings, label: LabelId) -> Vec<Confidence>;
}

/// Thresholds; the paper does not state CLLM's, so these are ours and go into the manifest.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CurationThresholds {
    pub min_confidence: f32,
    pub max_aleatoric: f32,
}

impl CurationThresholds {
    /// Keep a row when the real-data classifier gives its label at least 0.5 on average and does
    /// not hover around 0.5 (p (1 - p) at most 0.2, i.e. p outside about 0.28..0.72 on average).
    pub fn standard() -> CurationThresholds {
        CurationThresholds { min_confidence: 0.5, max_aleatoric: 0.2 }
    }
}

#[derive(Clone)]
pub struct Curated<'a> {
    simprompt: SimPrompt<'a>,
    judge: &'a dyn LabelJudge,
    thresholds: CurationThresholds,
    label: LabelId,
}

impl<'a> Curated<'a> {
    pub fn new(
        task: &'a Task,
        judge: &'a dyn LabelJudge,
        thresholds: CurationThresholds,
        rng_seed: u64,
    ) -> Curated<'a> {
        Curated { simprompt: SimPrompt::new(task, rng_seed), judge, thresholds, label: LabelId(0) }
    }
}

impl Method for Curated<'_> {
    fn fresh(&self) -> Box<dyn Method + '_> {
        Box::new(self.clone())
    }

    fn name(&self) -> &'static str {
        "curated"
    }

    fn parameters(&self) -> Vec<(&'static str, serde_json::Value)> {
        let mut parameters = self.simprompt.parameters();
        parameters.push(("min_confidence", json!(self.thresholds.min_confidence)));
        parameters.push(("max_aleatoric", json!(self.thresholds.max_aleatoric)));
        parameters
    }

    fn start_label(
        &mut self,
        label: LabelId,
        seed_rows: &[SeedRow],
        seed_embeddings: Embeddings,
    ) -> Result<(), MethodError> {
        self.label = label;
        self.simprompt.start_label(label, seed_rows, seed_embeddings)
    }

    fn next_batch(&mut self, n: usize, batch: usize) -> Vec<Draft> {
        self.simprompt.next_batch(n, batch)
    }

    fn kept(&mut self, offspring: &[(String, String)], embeddings: &Embeddings) -> Result<(), MethodError> {
        self.simprompt.kept(offspring, embeddings)
    }

    fn screen(&self, candidates: &Embeddings) -> Vec<bool> {
        let thresholds = self.thresholds;
        self.judge
            .judge(candidates, self.label)
            .into_iter()
            .map(|c| c.mean >= thresholds.min_confidence && c.aleatoric <= thresholds.max_aleatoric)
            .collect()
    }
}
