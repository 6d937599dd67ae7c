use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Names an independent random stream so that, e.g., adding a label does not shift the draws of
/// another label: every stream is derived from the run seed and its own coordinates.
#[derive(Clone, Copy, Debug)]
pub enum RngStream {
    /// Gene roles of one batch of one label.
    Crossover { label: usize, batch: usize },
    /// Random parent draws of one batch of one label.
    Parents { label: usize, batch: usize },
    /// The LLM sampling seed of one request.
    Sampling { label: usize, batch: usize, request: usize },
    /// Examples and attribute values drawn by the baselines for one batch of one label.
    Draws { label: usize, batch: usize },
    /// Anything else a component needs, named by a fixed tag.
    Other(u64),
}

/// A ChaCha8 generator for `stream` under `rng_seed`; ChaCha8 is portable and stable across
/// platforms and rand versions, unlike `StdRng`.
pub fn rng_for(rng_seed: u64, stream: RngStream) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(stream_seed(rng_seed, stream))
}

/// Mixes the run seed with the stream's coordinates (splitmix64 finaliser per step).
pub fn stream_seed(rng_seed: u64, stream: RngStream) -> u64 {
    let parts: [u64; 4] = match stream {
        RngStream::Crossover { label, batch } => [1, label as u64, batch as u64, 0],
        RngStream::Parents { label, batch } => [2, label as u64, batch as u64, 0],
        RngStream::Sampling { label, batch, request } => [3, label as u64, batch as u64, request as u64],
        RngStream::Other(tag) => [4, tag, 0, 0],
        RngStream::Draws { label, batch } => [5, label as u64, batch as u64, 0],
    };
    parts.iter().fold(splitmix(rng_seed), |acc, part| splitmix(acc ^ splitmix(*part)))
}

/// The seed of repeated run `run` (0, 1, ...) under `rng_seed`: `rng_seed + run`, wrapping
/// past `u64::MAX` instead of overflowing, so any `--seed` works.
pub fn run_seed(rng_seed: u64, run: usize) -> u64 {
    rng_seed.wrapping_add(run as u64)
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a = rng_for(7, RngStream::Crossover { label: 0, batch: 1 }).random::<u64>();
        let b = rng_for(7, RngStream::Crossover { label: 0, batch: 1 }).random::<u64>();
        let c = rng_for(7, RngStream::Crossover { label: 1, batch: 0 }).random::<u64>();
        let d = rng_for(8, RngStream::Crossover { label: 0, batch: 1 }).random::<u64>();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
    }

    #[test]
    fn run_seeds_count_up_and_wrap_instead_of_overflowing() {
        assert_eq!((run_seed(7, 0), run_seed(7, 2)), (7, 9));
        assert_eq!(run_seed(u64::MAX, 0), u64::MAX);
        assert_eq!(run_seed(u64::MAX, 1), 0);
        assert_eq!(run_seed(u64::MAX - 1, 3), 1);
    }
}
