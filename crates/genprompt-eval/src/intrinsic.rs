//! Intrinsic measures of a synthetic dataset's embeddings: how far its distribution is from real
//! data (CMD, top-k similarity), how spread out it is (remote-clique, chamfer), and whether a probe
//! trained on real data agrees with its labels (label faithfulness).
//!
//! Rows are L2-normalised, so a dot product is a cosine similarity and `1 - cos` a cosine distance.
//! Nothing here builds an n x n matrix. CMD and remote-clique are sums over rows, O(n * dim). The
//! nearest-neighbour searches (chamfer, top-k) compare every query with every row exactly, through
//! `QUERY_BLOCK x KEY_BLOCK` tiles of similarities (2 MiB of f32, reused) filled by ndarray's
//! matrix product, keeping only the best values per query.

use genprompt_embed::Embeddings;
use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayView2, s};

use crate::rng::sample_indices;
use crate::{EvalError, Probe};

/// Query rows per tile.
const QUERY_BLOCK: usize = 256;
/// Searched rows per tile.
const KEY_BLOCK: usize = 2048;

/// Width `|b - a|` of the interval `[-1, 1]` that holds every coordinate of a unit vector.
const CMD_INTERVAL_WIDTH: f64 = 2.0;

/// Central Moment Discrepancy (Zellinger et al. 2017) between two embedding sets, as the Genetic
/// Prompt paper uses it: lower = the synthetic distribution is closer to the real one; 0 when the
/// first `n_moments` moments agree.
///
/// `|mean_s - mean_r|_2 / 2 + sum_{k=2..n_moments} |c_k(s) - c_k(r)|_2 / 2^k`, where `c_k` is the
/// element-wise (per dimension) population central moment `E[(x - E x)^k]` and 2 is the width of
/// `[-1, 1]`. The paper writes `c_k` with mixed multi-indices; the element-wise form is the one of
/// Zellinger's code. Two passes over the rows (mean, then centred powers), f64 accumulation,
/// O(n_moments * dim) memory.
///
/// `None` if either set is empty; an error if the dimensions differ or `n_moments` is 0.
pub fn cmd(synthetic: &Embeddings, real: &Embeddings, n_moments: usize) -> Result<Option<f64>, EvalError> {
    check_same_dim(synthetic, real)?;
    if n_moments == 0 {
        return Err(EvalError::NoMoments);
    }
    if synthetic.is_empty() || real.is_empty() {
        return Ok(None);
    }
    let synthetic_moments = central_moments(synthetic, n_moments);
    let real_moments = central_moments(real, n_moments);
    let mut total = 0.0;
    let mut scale = 1.0;
    for (synthetic_moment, real_moment) in synthetic_moments.iter().zip(&real_moments) {
        scale /= CMD_INTERVAL_WIDTH;
        let distance: f64 = synthetic_moment.iter().zip(real_moment).map(|(a, b)| (a - b) * (a - b)).sum();
        total += distance.sqrt() * scale;
    }
    Ok(Some(total))
}

/// Remote-clique score (Li et al. 2023, after Cox et al. 2021): the mean over rows of the mean
/// cosine distance `1 - cos` to every other row. Higher = more diverse. For unit rows it equals
/// `1 - APS`.
///
/// Computed in O(n * dim) from the column sum `S`: the similarities over ordered pairs `i != j` add
/// up to `|S|^2 - sum_i |x_i|^2`. `None` with fewer than 2 rows.
pub fn remote_clique(embeddings: &Embeddings) -> Option<f64> {
    let n_rows = embeddings.len();
    if n_rows < 2 {
        return None;
    }
    let mut sum = vec![0f64; embeddings.dim()];
    let mut sq_norms = 0.0;
    for row in embeddings.rows() {
        for (acc, &x) in sum.iter_mut().zip(row) {
            let x = f64::from(x);
            *acc += x;
            sq_norms += x * x;
        }
    }
    let pair_similarity: f64 = sum.iter().map(|x| x * x).sum::<f64>() - sq_norms;
    Some(1.0 - pair_similarity / (n_rows as f64 * (n_rows - 1) as f64))
}

/// Chamfer-distance score (Li et al. 2023, after Cox et al. 2021): the mean over rows of the cosine
/// distance to the nearest other row. Higher = more diverse; near 0 means most texts have a
/// near-duplicate.
///
/// The nearest neighbour is exact: each query row is compared with every row (itself excluded by
/// index, so a duplicate row counts as distance 0). That costs `n_queries * n * dim`
/// multiply-adds, so when `n > max_queries` the mean is taken over a uniform sample of
/// `max_queries` distinct query rows drawn with `rng_seed` (the search still covers all rows):
/// about 7.7e10 multiply-adds for 2000 queries into 100k x 384. [`chamfer_n_queries`] says how
/// many rows were averaged. Memory: one tile of `QUERY_BLOCK x KEY_BLOCK`.
///
/// `None` with fewer than 2 rows or `max_queries == 0`.
pub fn chamfer(embeddings: &Embeddings, max_queries: usize, rng_seed: u64) -> Option<f64> {
    let n_rows = embeddings.len();
    if chamfer_n_queries(n_rows, max_queries) == 0 {
        return None;
    }
    let queries = sample_indices(n_rows, max_queries, rng_seed);
    let mut tiles = Tiles::new(embeddings.dim());
    let mut total = 0.0;
    for block in queries.chunks(QUERY_BLOCK) {
        let query_rows = gather(embeddings, block);
        let mut best = vec![f32::NEG_INFINITY; block.len()];
        tiles.for_each(query_rows.view(), embeddings, |key_start, tile| {
            for ((best, &query_idx), row) in best.iter_mut().zip(block).zip(tile.rows()) {
                let row = row.as_slice().expect("tile rows are contiguous; this is a bug");
                let candidate = match query_idx.checked_sub(key_start) {
                    Some(self_pos) if self_pos < row.len() => {
                        max_of(&row[..self_pos]).max(max_of(&row[self_pos + 1..]))
                    }
                    _ => max_of(row),
                };
                *best = best.max(candidate);
            }
        });
        total += best.iter().map(|&similarity| 1.0 - f64::from(similarity)).sum::<f64>();
    }
    Some(total / queries.len() as f64)
}

/// How many rows [`chamfer`] averages over for `n_rows` rows: all of them, or `max_queries` sampled
/// ones; 0 when it returns `None`.
pub fn chamfer_n_queries(n_rows: usize, max_queries: usize) -> usize {
    if n_rows < 2 { 0 } else { n_rows.min(max_queries) }
}

/// Similarity of real data to the synthetic set (Li et al. 2023): for each real row, the mean of its
/// `k` highest cosine similarities to synthetic rows, averaged over real rows. Higher = the
/// synthetic data covers the real data more closely.
///
/// Exact, through tiles like [`chamfer`]: `n_real * n_synthetic * dim` multiply-adds (2.9e11 for
/// 7.6k real rows against 100k x 384), memory one tile plus `QUERY_BLOCK * k` values. With fewer
/// than `k` synthetic rows, all of them are averaged.
///
/// `None` if either set is empty or `k == 0`; an error if the dimensions differ.
pub fn top_k_similarity(real: &Embeddings, synthetic: &Embeddings, k: usize) -> Result<Option<f64>, EvalError> {
    check_same_dim(synthetic, real)?;
    if real.is_empty() || synthetic.is_empty() || k == 0 {
        return Ok(None);
    }
    let k = k.min(synthetic.len());
    let dim = real.dim();
    let mut tiles = Tiles::new(dim);
    let mut total = 0.0;
    for block in real.as_flat().chunks(QUERY_BLOCK * dim) {
        let query_rows =
            ArrayView2::from_shape((block.len() / dim, dim), block).expect("blocks hold whole rows; this is a bug");
        // Per query, its `k` best similarities so far in decreasing order.
        let mut best = vec![f32::NEG_INFINITY; query_rows.nrows() * k];
        tiles.for_each(query_rows, synthetic, |_, tile| {
            for (top, row) in best.chunks_exact_mut(k).zip(tile.rows()) {
                for &similarity in row {
                    if similarity > top[k - 1] {
                        insert_descending(top, similarity);
                    }
                }
            }
        });
        total += best.chunks_exact(k).map(|top| top.iter().map(|&x| f64::from(x)).sum::<f64>() / k as f64).sum::<f64>();
    }
    Ok(Some(total / real.len() as f64))
}

/// Share of synthetic rows that a probe trained on real data assigns to their own label, i.e. the
/// accuracy of the real-data probe on the synthetic set. Higher = the texts carry their label the
/// way real texts do; low values flag off-label or ambiguous generations.
///
/// 0 for an empty set, like the accuracy of [`crate::classification_report`]. An error if the
/// lengths differ, a label is outside the probe's label table or the dimensions differ.
pub fn label_faithfulness(probe: &Probe, synthetic: &Embeddings, synthetic_labels: &[usize]) -> Result<f64, EvalError> {
    if synthetic.len() != synthetic_labels.len() {
        return Err(EvalError::LengthMismatch { n_rows: synthetic.len(), n_row_labels: synthetic_labels.len() });
    }
    if let Some((row_idx, &label_idx)) =
        synthetic_labels.iter().enumerate().find(|&(_, &label_idx)| label_idx >= probe.n_labels())
    {
        return Err(EvalError::LabelOutOfRange { row_idx, label_idx, n_labels: probe.n_labels() });
    }
    if synthetic.is_empty() {
        return Ok(0.0);
    }
    if synthetic.dim() != probe.dim() {
        return Err(EvalError::DimensionMismatch { synthetic: synthetic.dim(), real: probe.dim() });
    }
    let predicted = probe.predict(synthetic);
    let n_agreeing = predicted.iter().zip(synthetic_labels).filter(|(predicted, gold)| predicted == gold).count();
    Ok(n_agreeing as f64 / synthetic.len() as f64)
}

fn check_same_dim(synthetic: &Embeddings, real: &Embeddings) -> Result<(), EvalError> {
    if synthetic.dim() != real.dim() {
        return Err(EvalError::DimensionMismatch { synthetic: synthetic.dim(), real: real.dim() });
    }
    Ok(())
}

/// `moments[0]` is the mean; `moments[k - 1]` for `k >= 2` is the central moment of order `k`, per
/// dimension.
fn central_moments(embeddings: &Embeddings, n_moments: usize) -> Vec<Vec<f64>> {
    let dim = embeddings.dim();
    let n_rows = embeddings.len() as f64;
    let mut moments = vec![vec![0f64; dim]; n_moments];
    for row in embeddings.rows() {
        for (acc, &x) in moments[0].iter_mut().zip(row) {
            *acc += f64::from(x);
        }
    }
    for acc in &mut moments[0] {
        *acc /= n_rows;
    }
    let (mean, higher) = moments.split_first_mut().expect("at least one moment; this is a bug");
    let mut centred = vec![0f64; dim];
    let mut power = vec![0f64; dim];
    for row in embeddings.rows() {
        for ((centred, power), (&x, &mu)) in centred.iter_mut().zip(&mut power).zip(row.iter().zip(mean.iter())) {
            *centred = f64::from(x) - mu;
            *power = *centred;
        }
        for moment in higher.iter_mut() {
            for ((acc, power), &centred) in moment.iter_mut().zip(&mut power).zip(&centred) {
                *power *= centred;
                *acc += *power;
            }
        }
    }
    for moment in higher.iter_mut() {
        for acc in moment.iter_mut() {
            *acc /= n_rows;
        }
    }
    moments
}

/// A reusable buffer for `queries x keys^T` similarity tiles.
struct Tiles {
    dim: usize,
    scratch: Array2<f32>,
}

impl Tiles {
    fn new(dim: usize) -> Tiles {
        Tiles { dim, scratch: Array2::zeros((QUERY_BLOCK, KEY_BLOCK)) }
    }

    /// Calls `visit(key_start, tile)` for successive blocks of `keys`, where `tile[q][j]` is the
    /// similarity of query `q` with key row `key_start + j`. At most `QUERY_BLOCK` queries.
    fn for_each(&mut self, queries: ArrayView2<f32>, keys: &Embeddings, mut visit: impl FnMut(usize, ArrayView2<f32>)) {
        assert!(queries.nrows() <= QUERY_BLOCK, "too many queries for one tile; this is a bug");
        for (block_idx, key_block) in keys.as_flat().chunks(KEY_BLOCK * self.dim).enumerate() {
            let key_rows = ArrayView2::from_shape((key_block.len() / self.dim, self.dim), key_block)
                .expect("blocks hold whole rows; this is a bug");
            let mut tile = self.scratch.slice_mut(s![..queries.nrows(), ..key_rows.nrows()]);
            general_mat_mul(1.0, &queries, &key_rows.t(), 0.0, &mut tile);
            visit(block_idx * KEY_BLOCK, tile.view());
        }
    }
}

/// The rows at `indices`, as a contiguous matrix.
fn gather(embeddings: &Embeddings, indices: &[usize]) -> Array2<f32> {
    let mut rows = Array2::zeros((indices.len(), embeddings.dim()));
    for (mut row, &row_idx) in rows.rows_mut().into_iter().zip(indices) {
        row.assign(&ndarray::aview1(embeddings.row(row_idx)));
    }
    rows
}

/// The largest value, or `-inf` for none; eight lanes so that the loop vectorises.
fn max_of(values: &[f32]) -> f32 {
    let mut lanes = [f32::NEG_INFINITY; 8];
    let chunks = values.chunks_exact(8);
    let rest = chunks.remainder();
    for chunk in chunks {
        for (lane, &x) in lanes.iter_mut().zip(chunk) {
            *lane = if x > *lane { x } else { *lane };
        }
    }
    lanes.iter().chain(rest).fold(f32::NEG_INFINITY, |best, &x| if x > best { x } else { best })
}

/// Inserts `value` into `top` (sorted in decreasing order), dropping the smallest entry.
fn insert_descending(top: &mut [f32], value: f32) {
    let mut pos = top.len() - 1;
    while pos > 0 && top[pos - 1] < value {
        top[pos] = top[pos - 1];
        pos -= 1;
    }
    top[pos] = value;
}

#[cfg(test)]
mod tests;
