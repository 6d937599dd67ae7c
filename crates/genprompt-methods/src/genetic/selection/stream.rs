//! Parent search for the steady schedule, which drafts one request at a time: the most distant
//! unused pair, exactly as a brute-force scan would pick it, at O(pool) work per new member
//! instead of O(pool²) per draft.
//!
//! Invariant: `store` holds every unused pair ordered at or before `limit` (every unused pair
//! when `limit` is `None`), so its first pair is the most distant unused pair of the pool. A new
//! member's pairs are scored in one pass (blocked, 32 new rows per pass) and offered; the store
//! keeps at most `CAP` pairs, and when it runs dry above `limit` it is refilled by one exact scan.

use std::collections::{BTreeSet, HashSet};

use genprompt_embed::Embeddings;

use super::kernel::{LANES, Pair, for_each_dots, pack};
use super::{Parents, exact};

/// Pairs kept: a refill (an exact scan, O(pool²)) happens at most once per `CAP` drafts.
const CAP: usize = 8192;

pub(crate) struct PairStream {
    store: BTreeSet<Pair>,
    limit: Option<Pair>,
    /// Members `0..n_seen` have had their pairs offered.
    n_seen: usize,
    cap: usize,
}

impl Default for PairStream {
    fn default() -> PairStream {
        PairStream::with_cap(CAP)
    }
}

impl PairStream {
    fn with_cap(cap: usize) -> PairStream {
        PairStream { store: BTreeSet::new(), limit: None, n_seen: 0, cap }
    }

    /// The most distant pair not in `used`; `None` when every pair is used.
    pub(crate) fn take(&mut self, embeddings: &Embeddings, used: &HashSet<(usize, usize)>) -> Option<Parents> {
        self.catch_up(embeddings, used);
        loop {
            while let Some(pair) = self.store.pop_first() {
                if !used.contains(&pair.key()) {
                    return Parents::new(pair.first, pair.second);
                }
            }
            self.limit?;
            // Everything known was taken: score every pair again, keeping the best `CAP` unused.
            let best = exact::most_distant_pairs(embeddings, self.cap, Some(used));
            self.limit = (best.len() == self.cap).then(|| best[self.cap - 1]);
            self.store.extend(best);
        }
    }

    /// Offers a pair again (its request failed, so it was never used).
    pub(crate) fn release(&mut self, embeddings: &Embeddings, parents: Parents) {
        let (first, second) = (parents.first(), parents.second());
        if second < self.n_seen {
            self.offer(Pair::new(embeddings.cosine(first, second), first, second));
        }
    }

    /// Scores the pairs of members added since the last call against every earlier member.
    fn catch_up(&mut self, embeddings: &Embeddings, used: &HashSet<(usize, usize)>) {
        let (len, dim) = (embeddings.len(), embeddings.dim());
        while self.n_seen < len {
            let new: Vec<usize> = (self.n_seen..len.min(self.n_seen + LANES)).collect();
            let packed = pack(embeddings.as_flat(), dim, &new);
            // Invariant: `n_seen < len`, so the range holds at least `n_seen`.
            let end = *new.last().expect("at least one new row");
            let mut offers = Vec::new();
            let limit = self.limit;
            for_each_dots(embeddings.as_flat(), dim, &packed, 0..end, |row, _, cosines| {
                for (&target, &cos) in new.iter().zip(cosines) {
                    let pair = Pair::new(cos, row, target);
                    if row < target && limit.is_none_or(|l| pair <= l) && !used.contains(&(row, target)) {
                        offers.push(pair);
                    }
                }
            });
            self.n_seen = end + 1;
            for pair in offers {
                self.offer(pair);
            }
        }
    }

    fn offer(&mut self, pair: Pair) {
        if self.limit.is_some_and(|limit| pair > limit) {
            return;
        }
        self.store.insert(pair);
        if self.store.len() > self.cap {
            self.store.pop_last();
            self.limit = self.store.last().copied();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use genprompt_embed::Embeddings;
    use rand::{Rng, SeedableRng};

    use super::{PairStream, exact};

    fn random_rows(n: usize, dim: usize, seed: u64) -> Vec<Vec<f32>> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        (0..n).map(|_| (0..dim).map(|_| rng.random_range(-1.0f32..1.0)).collect()).collect()
    }

    /// Draft after draft, with members joining in between and some pairs released, the stream
    /// picks exactly the pair a brute-force scan of the pool as it stands would pick, also when its
    /// store overflows and has to be refilled.
    #[test]
    fn takes_what_brute_force_would_take_as_the_pool_grows() {
        for cap in [4, 64, super::CAP] {
            let rows = random_rows(70, 8, cap as u64);
            let mut stream = PairStream::with_cap(cap);
            let mut used = HashSet::new();
            let mut n = 6;
            for step in 0..150 {
                let embeddings = Embeddings::from_rows_normalised(8, &rows[..n]).unwrap();
                let expected = exact::most_distant_pairs(&embeddings, 1, Some(&used));
                let taken = stream.take(&embeddings, &used);
                let expected = expected.first().map(|p| (p.first, p.second));
                assert_eq!(taken.map(|p| (p.first(), p.second())), expected, "cap {cap}, step {step}");
                let parents = taken.expect("pairs remain");
                used.insert((parents.first(), parents.second()));
                if step % 5 == 4 {
                    used.remove(&(parents.first(), parents.second()));
                    stream.release(&embeddings, parents);
                }
                if step % 2 == 0 && n < rows.len() {
                    n += 1;
                }
            }
        }
    }

    #[test]
    fn says_none_once_every_pair_is_used() {
        let rows = random_rows(4, 3, 1);
        let embeddings = Embeddings::from_rows_normalised(3, &rows).unwrap();
        let mut stream = PairStream::with_cap(2);
        let mut used = HashSet::new();
        for _ in 0..6 {
            let parents = stream.take(&embeddings, &used).expect("six pairs");
            assert!(used.insert((parents.first(), parents.second())));
        }
        assert!(stream.take(&embeddings, &used).is_none());
    }
}
