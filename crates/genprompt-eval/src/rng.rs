//! The crate's one source of randomness: seeded, and identical across platforms and upgrades.

/// splitmix64: a few lines that keep batch orders and samples identical across platforms and
/// across upgrades of `rand`, whose algorithms are not a stability promise.
pub(crate) struct SplitMix64(pub(crate) u64);

impl SplitMix64 {
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..bound` by multiply-shift; the bias is below `bound / 2^64`.
    pub(crate) fn below(&mut self, bound: usize) -> usize {
        ((u128::from(self.next_u64()) * bound as u128) >> 64) as usize
    }
}

pub(crate) fn shuffle(order: &mut [usize], rng: &mut SplitMix64) {
    for idx in (1..order.len()).rev() {
        order.swap(idx, rng.below(idx + 1));
    }
}

/// `n_sampled` distinct indices below `n_items`, drawn uniformly with `rng_seed` and returned in
/// increasing order; all of `0..n_items` when `n_sampled >= n_items`. O(n_items) time and memory
/// (a partial Fisher-Yates shuffle).
pub(crate) fn sample_indices(n_items: usize, n_sampled: usize, rng_seed: u64) -> Vec<usize> {
    let mut indices: Vec<usize> = (0..n_items).collect();
    if n_sampled >= n_items {
        return indices;
    }
    let mut rng = SplitMix64(rng_seed);
    for idx in 0..n_sampled {
        indices.swap(idx, idx + rng.below(n_items - idx));
    }
    indices.truncate(n_sampled);
    indices.sort_unstable();
    indices
}
