use rand::Rng;

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

/// Picks up to `n` parent pairs from `pool`. Fewer come back only in `Active` mode, when every
/// pair has been used; none when the pool has fewer than two members.
///
/// Exact brute force over all pairs: O(pool²) per call, fine for pools of a few thousand.
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
            let pairs = most_distant_pairs(pool, n, true);
            for parents in &pairs {
                pool.used_pairs.insert((parents.first, parents.second));
            }
            pairs
        }
    }
}

/// The `n` pairs of lowest cosine similarity, most distant first; ties go to the lower indices so
/// the choice never depends on hash or sort stability.
fn most_distant_pairs(pool: &Pool, n: usize, skip_used: bool) -> Vec<Parents> {
    let embeddings = pool.embeddings();
    let mut candidates: Vec<(f32, usize, usize)> = Vec::new();
    for first in 0..pool.len() {
        for second in first + 1..pool.len() {
            if skip_used && pool.used_pairs.contains(&(first, second)) {
                continue;
            }
            candidates.push((embeddings.cosine(first, second), first, second));
        }
    }
    let order =
        |a: &(f32, usize, usize), b: &(f32, usize, usize)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2));
    if candidates.len() > n {
        candidates.select_nth_unstable_by(n, order);
        candidates.truncate(n);
    }
    candidates.sort_unstable_by(order);
    candidates.into_iter().map(|(_, first, second)| Parents::new(first, second).expect("first < second")).collect()
}

#[cfg(test)]
mod tests;
