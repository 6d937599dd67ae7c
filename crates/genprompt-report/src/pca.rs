//! PCA to two dimensions by subspace (power) iteration: each step multiplies by the covariance
//! implicitly, `C v = (1/n) sum_i c_i (c_i . v)` with `c_i` the centred rows, so memory is
//! O(dim) and time O(n * dim) per step; neither an n x n nor a dim x dim matrix is built.

use serde::{Deserialize, Serialize};

const MAX_STEPS: usize = 500;
const TOLERANCE: f64 = 1e-12;

/// The mean and the two leading principal axes of a set of rows.
///
/// Fit once (e.g. on the real rows, or on real and all synthetic rows) and [`Pca2::project`]
/// every method's rows, so that the scatters of different methods share one coordinate system.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pca2 {
    pub mean: Vec<f64>,
    /// Unit axes, the first of the largest variance; an axis is all zeros when the rows have no
    /// variance left for it. Signs are canonical: an axis's largest component is positive.
    pub axes: [Vec<f64>; 2],
    /// Variance of the rows along each axis.
    pub variances: [f64; 2],
}

impl Pca2 {
    /// Deterministic: the same rows and `rng_seed` (which only picks the starting vectors) give
    /// the same axes. Rows shorter than the longest one count as zero-padded.
    pub fn fit(rows: &[&[f32]], rng_seed: u64) -> Pca2 {
        let dim = rows.iter().map(|row| row.len()).max().unwrap_or(0);
        let n = rows.len().max(1) as f64;
        let mut mean = vec![0.0; dim];
        for row in rows {
            for (m, &x) in mean.iter_mut().zip(row.iter()) {
                *m += f64::from(x) / n;
            }
        }
        let mut rng = SplitMix64(rng_seed);
        let mut axes = [0, 1].map(|_| (0..dim).map(|_| rng.uniform() * 2.0 - 1.0).collect::<Vec<f64>>());
        let mut variances = orthonormalize(&mut axes);
        let mut centred = vec![0.0; dim];
        for _ in 0..MAX_STEPS {
            let mut next = [vec![0.0; dim], vec![0.0; dim]];
            for row in rows {
                for (k, c) in centred.iter_mut().enumerate() {
                    *c = row.get(k).map_or(0.0, |&x| f64::from(x)) - mean[k];
                }
                for (axis, out) in axes.iter().zip(next.iter_mut()) {
                    let a = dot(&centred, axis) / n;
                    out.iter_mut().zip(&centred).for_each(|(o, c)| *o += a * c);
                }
            }
            let norms = orthonormalize(&mut next);
            let moved = (0..2).any(|k| norms[k] > 0.0 && 1.0 - dot(&axes[k], &next[k]).abs() > TOLERANCE);
            axes = next;
            variances = norms;
            if !moved {
                break;
            }
        }
        for axis in &mut axes {
            let largest = axis.iter().copied().fold(0.0f64, |best, v| if v.abs() > best.abs() { v } else { best });
            if largest < 0.0 {
                axis.iter_mut().for_each(|v| *v = -*v);
            }
        }
        Pca2 { mean, axes, variances }
    }

    /// Coordinates of `row` on the two axes.
    pub fn project(&self, row: &[f32]) -> (f32, f32) {
        let coordinate = |axis: &[f64]| -> f32 {
            let sum: f64 = self
                .mean
                .iter()
                .enumerate()
                .map(|(k, m)| (row.get(k).map_or(0.0, |&x| f64::from(x)) - m) * axis[k])
                .sum();
            sum as f32
        };
        (coordinate(&self.axes[0]), coordinate(&self.axes[1]))
    }
}

/// Projects `rows` on their own two leading principal axes ([`Pca2::fit`] then
/// [`Pca2::project`]).
pub fn project_2d(rows: &[&[f32]], rng_seed: u64) -> Vec<(f32, f32)> {
    let pca = Pca2::fit(rows, rng_seed);
    rows.iter().map(|row| pca.project(row)).collect()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Gram-Schmidt on the pair, returning the norms before normalisation (the variances when the
/// inputs were `C v` for unit axes). A vector with (numerically) nothing left becomes zeros.
fn orthonormalize(vectors: &mut [Vec<f64>; 2]) -> [f64; 2] {
    let scale = dot(&vectors[0], &vectors[0]).sqrt().max(dot(&vectors[1], &vectors[1]).sqrt());
    let mut norms = [0.0; 2];
    for k in 0..2 {
        if k == 1 {
            let (first, second) = vectors.split_at_mut(1);
            let overlap = dot(&first[0], &second[0]);
            second[0].iter_mut().zip(&first[0]).for_each(|(v, u)| *v -= overlap * u);
        }
        let norm = dot(&vectors[k], &vectors[k]).sqrt();
        if norm > 1e-12 * scale && norm > 0.0 {
            vectors[k].iter_mut().for_each(|v| *v /= norm);
            norms[k] = norm;
        } else {
            vectors[k].iter_mut().for_each(|v| *v = 0.0);
        }
    }
    norms
}

/// Starting vectors only; any fixed generator would do.
struct SplitMix64(u64);

impl SplitMix64 {
    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows spread widely along `u`, less along `w`, with a little noise elsewhere.
    fn dataset() -> (Vec<Vec<f32>>, Vec<f64>, Vec<f64>, Vec<f32>) {
        let dim = 12;
        let norm = |v: Vec<f64>| {
            let n = dot(&v, &v).sqrt();
            v.into_iter().map(|x| x / n).collect::<Vec<f64>>()
        };
        let u = norm((0..dim).map(|k| if k < 4 { 1.0 + k as f64 } else { 0.0 }).collect());
        let w = norm(
            (0..dim)
                .map(|k| {
                    if k == 6 {
                        1.0
                    } else if k == 7 {
                        -1.0
                    } else {
                        0.0
                    }
                })
                .collect(),
        );
        let mut rng = SplitMix64(7);
        let mut ts = Vec::new();
        let rows = (0..300)
            .map(|_| {
                let t = (rng.uniform() - 0.5) * 10.0;
                let s = (rng.uniform() - 0.5) * 3.0;
                ts.push(t as f32);
                (0..dim).map(|k| (2.0 + t * u[k] + s * w[k] + (rng.uniform() - 0.5) * 0.1) as f32).collect()
            })
            .collect();
        (rows, u, w, ts)
    }

    #[test]
    fn recovers_the_dominant_axes() {
        let (rows, u, w, ts) = dataset();
        let refs: Vec<&[f32]> = rows.iter().map(Vec::as_slice).collect();
        let pca = Pca2::fit(&refs, 1);
        assert!(dot(&pca.axes[0], &u).abs() > 0.999, "first axis {:?}", pca.axes[0]);
        assert!(dot(&pca.axes[1], &w).abs() > 0.99, "second axis {:?}", pca.axes[1]);
        assert!(dot(&pca.axes[0], &pca.axes[1]).abs() < 1e-9);
        assert!(pca.variances[0] > pca.variances[1]);
        // Var(t) for t uniform on [-5, 5] is 100 / 12.
        assert!((pca.variances[0] - 100.0 / 12.0).abs() < 1.0, "{:?}", pca.variances);
        let points = project_2d(&refs, 1);
        let sign = dot(&pca.axes[0], &u).signum() as f32;
        for (p, t) in points.iter().zip(&ts) {
            assert!((p.0 - sign * t).abs() < 0.2, "{p:?} vs {t}");
        }
    }

    #[test]
    fn is_deterministic_and_seed_independent_up_to_tolerance() {
        let (rows, ..) = dataset();
        let refs: Vec<&[f32]> = rows.iter().map(Vec::as_slice).collect();
        assert_eq!(project_2d(&refs, 3), project_2d(&refs, 3));
        for (a, b) in project_2d(&refs, 3).iter().zip(project_2d(&refs, 99)) {
            assert!((a.0 - b.0).abs() < 1e-3 && (a.1 - b.1).abs() < 1e-3, "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn degenerate_inputs_give_zeros() {
        assert!(project_2d(&[], 0).is_empty());
        let same = [1.0f32, 2.0, 3.0];
        assert_eq!(project_2d(&[&same, &same], 0), vec![(0.0, 0.0), (0.0, 0.0)]);
        let line = [[0.0f32, 0.0], [1.0, 1.0], [2.0, 2.0]];
        let refs: Vec<&[f32]> = line.iter().map(|r| r.as_slice()).collect();
        let points = project_2d(&refs, 0);
        assert!((points[2].0 - points[0].0 - 8f32.sqrt()).abs() < 1e-5, "{points:?}");
        assert!(points.iter().all(|p| p.1.abs() < 1e-5), "{points:?}");
    }
}
