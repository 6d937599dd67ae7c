//! The learning curve of `compare`: probes trained on growing shares of a method's rows, so that
//! the report shows whether more rows of that method would still help.

use genprompt_embed::Embeddings;
use genprompt_eval::{Probe, ProbeConfig, classification_report};
use genprompt_report::CurvePoint;
use rand::SeedableRng;
use rand::seq::SliceRandom;

/// Shares of the synthetic set the learning curve trains on.
const CURVE_SHARES: [f64; 3] = [0.25, 0.5, 1.0];

/// The learning curve and the probes it could not train (counted, never dropped silently).
pub(super) struct LearningCurve {
    pub points: Vec<CurvePoint>,
    pub failed: usize,
    pub last_error: Option<String>,
}

/// Micro-F1 of probes trained on seeded random subsets of the synthetic rows.
pub(super) fn learning_curve(
    x: &Embeddings,
    y: &[usize],
    test_x: &Embeddings,
    test_y: &[usize],
    labels: &[String],
    seed: u64,
    runs: usize,
) -> LearningCurve {
    let n_labels = labels.len() + 1; // one spare index for test labels the task does not declare
    let mut names = labels.to_vec();
    names.push("(undeclared)".to_string());
    let mut order: Vec<usize> = (0..y.len()).collect();
    order.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
    let mut curve = LearningCurve { points: Vec::new(), failed: 0, last_error: None };
    for share in CURVE_SHARES {
        let size = ((y.len() as f64 * share).round() as usize).max(2).min(y.len());
        let mut subset = Embeddings::new(x.dim());
        let mut subset_y = Vec::new();
        for &idx in &order[..size] {
            subset.push(x.row(idx)).expect("invariant: a row of `x` fits a matrix of its dimension");
            subset_y.push(y[idx]);
        }
        let mut scores = Vec::new();
        for run in 0..runs {
            let config = ProbeConfig { rng_seed: genprompt_core::run_seed(seed, run), ..ProbeConfig::standard() };
            match Probe::train(&subset, &subset_y, n_labels, &config) {
                Ok(probe) => scores.push(classification_report(&names, test_y, &probe.predict(test_x)).micro_f1),
                Err(err) => {
                    curve.failed += 1;
                    curve.last_error = Some(err.to_string());
                }
            }
        }
        if scores.is_empty() {
            continue;
        }
        let mean = scores.iter().sum::<f64>() / scores.len() as f64;
        let std = (scores.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / scores.len() as f64).sqrt();
        curve.points.push(CurvePoint { size, mean, std });
    }
    curve
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_the_curve_cannot_train_are_counted_not_dropped() {
        let labels = vec!["a".to_string(), "b".to_string()];
        let rows: Vec<[f32; 2]> = (0..20).map(|i| if i % 2 == 0 { [1.0, 0.1] } else { [0.1, 1.0] }).collect();
        let x = Embeddings::from_rows_normalised(2, &rows).unwrap();
        let y: Vec<usize> = (0..20).map(|i| i % 2).collect();
        // A seed at u64::MAX: the runs' seeds wrap instead of overflowing.
        let clean = learning_curve(&x, &y, &x, &y, &labels, u64::MAX, 2);
        assert_eq!((clean.failed, clean.last_error.is_none()), (0, true));
        assert!(!clean.points.is_empty());
        // Non-finite embeddings: no probe can be trained, and the curve says so.
        let broken = Embeddings::from_rows_normalised(2, &[[f32::NAN; 2]; 20]).unwrap();
        let test_x = x.clone();
        let curve = learning_curve(&broken, &y, &test_x, &y, &labels, 7, 2);
        assert_eq!(curve.failed, 2 * CURVE_SHARES.len(), "every probe of every share failed");
        assert!(curve.points.is_empty());
        assert!(curve.last_error.unwrap().contains("non-finite"));
    }
}
