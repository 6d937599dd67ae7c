//! Genetic Prompt on the steady schedule: one pair per draft, chosen from the pool as it stands
//! when the draft is made.

use std::collections::{HashMap, VecDeque};

use genprompt_core::{RngStream, rng_for};

use super::selection::{EXACT_MAX_POOL, PairStream};
use super::{Genetic, ParentSelection, Parents, select_parents};

/// Pairs taken per selection call beyond `EXACT_MAX_POOL` members, where one call of the
/// approximate index costs about one pass over the pool: a pass per 32 drafts.
const LARGE_POOL_CHUNK: usize = 32;

#[derive(Default)]
pub(super) struct SteadyParents {
    /// Exact incremental search, up to `EXACT_MAX_POOL` members (`Active` only).
    stream: Option<PairStream>,
    /// Pairs selected ahead for large pools, most distant first.
    queued: VecDeque<Parents>,
    /// Parents of drafts whose reply has not been used yet, by draft number.
    unsettled: HashMap<usize, Parents>,
}

impl Genetic<'_> {
    /// The parents of steady draft `seq`.
    pub(super) fn steady_parents(&mut self, seq: usize) -> Option<Parents> {
        let label = self.label.0;
        let mode = self.config.parents;
        // Before `start_label` there is no pool: no draft, as the trait allows.
        let pool = self.pool.as_mut()?;
        if pool.len() < 2 {
            return None;
        }
        let steady = &mut self.steady;
        let parents = if mode == ParentSelection::Active && pool.len() <= EXACT_MAX_POOL {
            steady.queued.clear();
            let stream = steady.stream.get_or_insert_with(PairStream::default);
            let mut taken = stream.take(&pool.embeddings, &pool.used_pairs);
            if taken.is_none() {
                // Every pair has been used once: start a new round over all pairs.
                pool.forget_used_pairs();
                *stream = PairStream::default();
                taken = stream.take(&pool.embeddings, &pool.used_pairs);
            }
            let parents = taken?;
            pool.used_pairs.insert((parents.first(), parents.second()));
            parents
        } else {
            steady.stream = None;
            if steady.queued.is_empty() {
                let n = if mode == ParentSelection::Active { LARGE_POOL_CHUNK } else { 1 };
                let mut rng = rng_for(self.rng_seed, RngStream::Parents { label, batch: seq });
                let mut pairs = select_parents(pool, mode, n, &mut rng);
                if pairs.is_empty() {
                    pool.forget_used_pairs();
                    pairs = select_parents(pool, mode, n, &mut rng);
                }
                steady.queued.extend(pairs);
            }
            steady.queued.pop_front()?
        };
        steady.unsettled.insert(seq, parents);
        Some(parents)
    }

    /// Forgets draft `seq`; a failed request frees its pair to be chosen again.
    pub(super) fn settle(&mut self, seq: usize, failed: bool) {
        let Some(parents) = self.steady.unsettled.remove(&seq) else { return };
        if !failed {
            return;
        }
        if let Some(pool) = self.pool.as_mut() {
            pool.release_pair(parents);
            if let Some(stream) = &mut self.steady.stream {
                stream.release(&pool.embeddings, parents);
            }
        }
    }
}
