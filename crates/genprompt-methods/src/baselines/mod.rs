//! The baselines Genetic Prompt is measured against. Each draws what it shows the LLM (real
//! examples, attribute values) from the label's seed rows with a per-batch random stream.

mod attrprompt;
mod curated;
mod li2023;
mod simprompt;

pub use attrprompt::AttrPrompt;
pub use curated::{Confidence, Curated, CurationThresholds, LabelJudge};
pub use li2023::{FewShot, ZeroShot};
pub use simprompt::SimPrompt;

use genprompt_core::SeedRow;
use rand::Rng;
use rand::seq::index::sample;

/// `n` distinct rows drawn uniformly (all of them when there are fewer), like `random.sample`.
pub(crate) fn draw_examples<'r>(rows: &'r [SeedRow], n: usize, rng: &mut impl Rng) -> Vec<&'r SeedRow> {
    let n = n.min(rows.len());
    sample(rng, rows.len(), n).into_iter().map(|idx| &rows[idx]).collect()
}

#[cfg(test)]
mod tests;
