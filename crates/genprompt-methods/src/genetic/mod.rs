//! Genetic Prompt: breed each offspring from the two most distant members of the label's pool.

mod crossover;
mod pool;
mod prompt;
mod selection;
mod steady;

use genprompt_core::{Crossover, GeneRole, LabelId, Lineage, RngStream, SeedRow, Task, rng_for};
use genprompt_embed::Embeddings;
use genprompt_llm::ChatMessage;
use serde_json::json;

pub use crossover::{GeneSchedule, assign_genes};
pub use pool::{Member, Pool};
pub use prompt::render_prompt;
pub use selection::{ParentSelection, Parents, select_parents};

use crate::{Draft, Method, MethodError};

/// Paper versus official code, and the ablations; build with `GeneticConfig::paper()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GeneticConfig {
    pub parents: ParentSelection,
    pub schedule: GeneSchedule,
    pub variant: GeneticVariant,
    pub pool_update: PoolUpdate,
}

impl GeneticConfig {
    /// The paper: active selection, random three-way gene partition, pool updated per batch as in
    /// the official code (the paper's Algorithm 1 adds offspring one by one: `PoolUpdate::PerOffspring`).
    pub fn paper() -> GeneticConfig {
        GeneticConfig {
            parents: ParentSelection::Active,
            schedule: GeneSchedule::RandomPartition,
            variant: GeneticVariant::Full,
            pool_update: PoolUpdate::PerBatch,
        }
    }
}

/// The method itself or one of the paper's ablations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GeneticVariant {
    Full,
    /// "w/o mutation": every gene is inherited from one parent or the other.
    NoMutation,
    /// "word as gene": words of the parents, not attributes, are inherited and mutated.
    WordAsGene,
}

impl GeneticVariant {
    pub fn as_str(self) -> &'static str {
        match self {
            GeneticVariant::Full => "none",
            GeneticVariant::NoMutation => "no-mutation",
            GeneticVariant::WordAsGene => "word-as-gene",
        }
    }
}

/// When offspring join the pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolUpdate {
    /// After each batch (official code: batches of 20).
    PerBatch,
    /// After each offspring (paper's Algorithm 1): batches of one request.
    PerOffspring,
}

pub struct Genetic<'a> {
    task: &'a Task,
    config: GeneticConfig,
    rng_seed: u64,
    label: LabelId,
    pool: Option<Pool>,
    /// Parents of the drafts of the current batch, to release the pair of a failed request.
    batch_parents: Vec<Parents>,
    /// The steady schedule's parent search and the parents of its unsettled drafts.
    steady: steady::SteadyParents,
}

impl<'a> Genetic<'a> {
    pub fn new(task: &'a Task, config: GeneticConfig, rng_seed: u64) -> Genetic<'a> {
        Genetic {
            task,
            config,
            rng_seed,
            label: LabelId(0),
            pool: None,
            batch_parents: Vec::new(),
            steady: steady::SteadyParents::default(),
        }
    }

    /// The prompt for `parents` with `crossover`, and where it comes from.
    fn draft(&self, parents: Parents, crossover: &Crossover, batch: usize) -> Draft {
        let label = self.task.label(self.label);
        // Invariant: `draft` is called only by `next_batch` and `next_draft`, once they have a pool.
        let pool = self.pool.as_ref().expect("drafts are made only from a started pool");
        let (first, second) = (pool.member(parents.first()), pool.member(parents.second()));
        let prompt = render_prompt(self.task, label, [&first.text, &second.text], crossover);
        Draft {
            messages: vec![ChatMessage::user(prompt)],
            lineage: Lineage::genetic([first.id.clone(), second.id.clone()], crossover, batch),
            shown_texts: vec![first.text.clone(), second.text.clone()],
        }
    }

    fn crossover(&self, batch: usize, rng: &mut impl rand::Rng, shared: &mut Option<Crossover>) -> Crossover {
        if self.config.variant == GeneticVariant::WordAsGene {
            let roles = [GeneRole::FromParent1, GeneRole::FromParent2, GeneRole::Mutate];
            return Crossover { roles: roles.iter().map(|role| ("words".to_string(), *role)).collect() };
        }
        let mut crossover = match self.config.schedule {
            GeneSchedule::Alternating => {
                shared.get_or_insert_with(|| assign_genes(&self.task.genes, self.config.schedule, batch, rng)).clone()
            }
            GeneSchedule::RandomPartition => assign_genes(&self.task.genes, self.config.schedule, batch, rng),
        };
        if self.config.variant == GeneticVariant::NoMutation {
            for (idx, (_, role)) in crossover.roles.iter_mut().enumerate() {
                if *role == GeneRole::Mutate {
                    *role = if idx % 2 == 0 { GeneRole::FromParent1 } else { GeneRole::FromParent2 };
                }
            }
        }
        crossover
    }
}

impl Method for Genetic<'_> {
    fn name(&self) -> &'static str {
        "genetic"
    }

    fn parameters(&self) -> Vec<(&'static str, serde_json::Value)> {
        vec![
            ("parents", json!(self.config.parents.as_str())),
            ("genes_schedule", json!(self.config.schedule.as_str())),
            ("ablation", json!(self.config.variant.as_str())),
            ("pool_update", json!(if self.config.pool_update == PoolUpdate::PerBatch { "batch" } else { "offspring" })),
            ("genes", json!(self.task.genes.iter().map(|g| g.name.as_str()).collect::<Vec<_>>())),
        ]
    }

    fn start_label(
        &mut self,
        label: LabelId,
        seed_rows: &[SeedRow],
        seed_embeddings: Embeddings,
    ) -> Result<(), MethodError> {
        if self.task.genes.is_empty() && self.config.variant != GeneticVariant::WordAsGene {
            return Err(MethodError::NoGenes);
        }
        if seed_rows.len() < 2 {
            return Err(MethodError::TooFewSeedRows {
                label: self.task.label(label).name.clone(),
                n_seed_rows: seed_rows.len(),
                method: "Genetic Prompt",
                needed: 2,
            });
        }
        let members = seed_rows.iter().map(|row| Member { id: row.id(), text: row.text.clone() }).collect();
        self.label = label;
        self.pool = Some(Pool::new(members, seed_embeddings)?);
        self.steady = steady::SteadyParents::default();
        Ok(())
    }

    fn next_batch(&mut self, n: usize, batch: usize) -> Vec<Draft> {
        let mut parents_rng = rng_for(self.rng_seed, RngStream::Parents { label: self.label.0, batch });
        // Before `start_label` there is no pool to draft from: no draft, as the trait allows.
        let Some(pool) = self.pool.as_mut() else { return Vec::new() };
        let mut all_parents = select_parents(pool, self.config.parents, n, &mut parents_rng);
        if all_parents.len() < n {
            // Every pair has been used once: start a new round over all pairs rather than stop.
            pool.forget_used_pairs();
            all_parents.extend(select_parents(pool, self.config.parents, n - all_parents.len(), &mut parents_rng));
        }
        let mut crossover_rng = rng_for(self.rng_seed, RngStream::Crossover { label: self.label.0, batch });
        let mut shared_crossover = None;
        let mut drafts = Vec::with_capacity(all_parents.len());
        for parents in &all_parents {
            let crossover = self.crossover(batch, &mut crossover_rng, &mut shared_crossover);
            drafts.push(self.draft(*parents, &crossover, batch));
        }
        self.batch_parents = all_parents;
        drafts
    }

    fn fresh(&self) -> Box<dyn Method + '_> {
        Box::new(Genetic::new(self.task, self.config, self.rng_seed))
    }

    fn next_draft(&mut self, seq: usize) -> Option<Draft> {
        let parents = self.steady_parents(seq)?;
        let mut crossover_rng = rng_for(self.rng_seed, RngStream::Crossover { label: self.label.0, batch: seq });
        let crossover = self.crossover(seq, &mut crossover_rng, &mut None);
        Some(self.draft(parents, &crossover, seq))
    }

    fn draft_settled(&mut self, seq: usize, failed: bool) {
        self.settle(seq, failed);
    }

    fn kept(&mut self, offspring: &[(String, String)], embeddings: &Embeddings) -> Result<(), MethodError> {
        let members = offspring.iter().map(|(id, text)| Member { id: id.clone(), text: text.clone() }).collect();
        let Some(pool) = self.pool.as_mut() else {
            return Err(MethodError::Contract("Genetic::kept was called before start_label".into()));
        };
        pool.add(members, embeddings)
    }

    fn request_failed(&mut self, draft_idx: usize) {
        // A failed call says nothing about the pair: let it be chosen again.
        if let (Some(pool), Some(parents)) = (self.pool.as_mut(), self.batch_parents.get(draft_idx)) {
            pool.release_pair(*parents);
        }
    }

    fn batch_size_override(&self) -> Option<usize> {
        (self.config.pool_update == PoolUpdate::PerOffspring).then_some(1)
    }
}
