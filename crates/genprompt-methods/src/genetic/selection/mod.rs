//! Parent selection. `Active` and `Argmax` search exactly up to `EXACT_MAX_POOL` members
//! (`exact`), through an incremental index beyond (`index`); `kernel` holds the loop both share.

mod exact;
mod index;
mod kernel;
mod stream;

use rand::Rng;

pub(crate) use index::FarIndex;
pub(crate) use stream::PairStream;

use super::Pool;

/// How parents are chosen; paper behaviour versus official-code behaviour is a variant, not a flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParentSelection {
    /// Paper: the most distant pair never used before; every call returns new pairs.
    Active,
    /// Final official code: the global most distant pair, reused until an offspring beats it.
    Argmax,
    /// Ablation "w/o active learning": two uniform draws.
    Random,
}

impl ParentSelection {
    pub fn as_str(self) -> &'static str {
        match self {
            ParentSelection::Active => "active",
            ParentSelection::Argmax => "argmax",
            ParentSelection::Random => "random",
        }
    }
}

/// Two distinct pool members, by index; `first` is Example 1 in the prompt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parents {
    first: usize,
    second: usize,
}

impl Parents {
    /// `None` when both are the same member: an offspring needs two parents.
    pub fn new(first: usize, second: usize) -> Option<Parents> {
        (first != second).then_some(Parents { first, second })
    }

    pub fn first(self) -> usize {
        self.first
    }

    pub fn second(self) -> usize {
        self.second
    }
}

/// Pools up to this size are searched exactly (identical to brute force); larger ones through
/// `FarIndex`. At 4096 rows of 384 dimensions an exact call scores 8 million pairs, a fraction of
/// a second.
pub(crate) const EXACT_MAX_POOL: usize = 4096;

/// Picks up to `n` parent pairs from `pool`. Fewer come back only in `Active` mode, when every
/// pair has been used; none when the pool has fewer than two members.
///
/// `Active` and `Argmax` are exact for pools of up to `EXACT_MAX_POOL` members (O(pool²) time,
/// no list of pairs), and approximate beyond, for about one pass over the pool per call (see
/// `index`).
pub fn select_parents(pool: &mut Pool, mode: ParentSelection, n: usize, rng: &mut impl Rng) -> Vec<Parents> {
    let n_members = pool.len();
    if n_members < 2 || n == 0 {
        return Vec::new();
    }
    match mode {
        ParentSelection::Random => (0..n)
            .map(|_| {
                let first = rng.random_range(0..n_members);
                let second = (first + rng.random_range(1..n_members)) % n_members;
                Parents::new(first, second).expect("offset in 1..n keeps the draws distinct")
            })
            .collect(),
        ParentSelection::Argmax => {
            let pairs = most_distant_pairs(pool, 1, false);
            pairs.into_iter().cycle().take(n).collect()
        }
        ParentSelection::Active => {
            let mut pairs = most_distant_pairs(pool, n, true);
            pool.used_pairs.extend(pairs.iter().map(|p| (p.first, p.second)));
            if pairs.len() < n && n_members > EXACT_MAX_POOL {
                // The index knows no more unused pairs: rebuild it, and as a last resort take any
                // unused pair, so that fewer than `n` still means that every pair has been used.
                pool.index = None;
                let mut more = most_distant_pairs(pool, n - pairs.len(), true);
                pool.used_pairs.extend(more.iter().map(|p| (p.first, p.second)));
                more.extend(unused_in_order(pool, n - pairs.len() - more.len()));
                pool.used_pairs.extend(more.iter().map(|p| (p.first, p.second)));
                pairs.extend(more);
            }
            pairs
        }
    }
}

/// The `n` pairs of lowest cosine (unused ones only if `skip_used`), most distant first: exact,
/// ties to the lower indices, up to `EXACT_MAX_POOL` members; the best known ones beyond.
fn most_distant_pairs(pool: &mut Pool, n: usize, skip_used: bool) -> Vec<Parents> {
    let used = skip_used.then_some(&pool.used_pairs);
    let pairs = if pool.len() <= EXACT_MAX_POOL {
        exact::most_distant_pairs(&pool.embeddings, n, used)
    } else {
        FarIndex::select(&mut pool.index, &pool.embeddings, &pool.used_pairs, n, skip_used)
    };
    // Invariant: both searches build their pairs with `first < second`.
    pairs.into_iter().map(|pair| Parents::new(pair.first, pair.second).expect("first < second")).collect()
}

/// Unused pairs in index order: the last resort that keeps `Active` from stopping early.
fn unused_in_order(pool: &Pool, n: usize) -> Vec<Parents> {
    let len = pool.len();
    let all = (0..len).flat_map(|first| (first + 1..len).map(move |second| (first, second)));
    all.filter(|pair| !pool.used_pairs.contains(pair))
        .take(n)
        // Invariant: `second` runs from `first + 1`.
        .map(|(first, second)| Parents::new(first, second).expect("first < second"))
        .collect()
}

#[cfg(test)]
mod large_tests;
#[cfg(test)]
mod tests;
