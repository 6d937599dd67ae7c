//! Exact most-distant pairs for small pools: every pair is scored, none is stored.

use std::collections::HashSet;

use genprompt_embed::Embeddings;

use super::kernel::{LANES, Lowest, Pair, for_each_dots, pack};

/// The `n` pairs of lowest cosine not in `used`, most distant first, ties to the lower indices:
/// the brute-force answer, in O(pool² · dim) time but O(pool · dim + n) memory.
///
/// The pool is packed once into blocks of `LANES` rows; each row is scored against the blocks that
/// hold its later partners, and a pair is looked up in `used` only when it would enter the list.
pub(super) fn most_distant_pairs(
    embeddings: &Embeddings,
    n: usize,
    used: Option<&HashSet<(usize, usize)>>,
) -> Vec<Pair> {
    let (len, dim) = (embeddings.len(), embeddings.dim());
    let rows: Vec<usize> = (0..len).collect();
    let packed = pack(embeddings.as_flat(), dim, &rows);
    let mut best = Lowest::new(n);
    for (block_idx, block) in packed.chunks_exact(dim * LANES).enumerate() {
        let start = block_idx * LANES;
        let end = (start + LANES).min(len);
        for_each_dots(embeddings.as_flat(), dim, block, 0..end - 1, |first, _, cosines| {
            for (second, &cos) in (start..end).zip(cosines) {
                if second > first && best.admits(cos) && !used.is_some_and(|used| used.contains(&(first, second))) {
                    best.offer(Pair { cos, first, second });
                }
            }
        });
    }
    best.into_sorted()
}
