//! Percentile bootstrap intervals over the test rows.
//!
//! The probe's runs differ only in its seed, so their standard deviation is often 0.0 and says
//! nothing about whether two methods differ by two points. What varies a score most is which test
//! rows were drawn: resampling them with replacement (the same draw for every run, each draw's
//! score averaged over the runs, as the reported mean is) gives an interval that does.

use crate::EvalError;
use crate::rng::SplitMix64;

#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct BootstrapConfig {
    /// Resamples of the test rows (default 1,000).
    pub resamples: usize,
    /// Two-sided coverage of the interval (default 0.95: the 2.5th and 97.5th percentiles).
    pub confidence: f64,
    pub rng_seed: u64,
}

impl BootstrapConfig {
    pub fn standard(rng_seed: u64) -> BootstrapConfig {
        BootstrapConfig { resamples: 1000, confidence: 0.95, rng_seed }
    }
}

/// The percentile interval of a score, as a fraction like the score.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct BootstrapReport {
    pub resamples: usize,
    pub confidence: f64,
    /// Equal to `micro_f1` for single-label data, as in [`crate::ClassificationReport`].
    pub accuracy: Interval,
    pub micro_f1: Interval,
    pub macro_f1: Interval,
}

/// Intervals of the run-averaged micro- and macro-F1 of `runs` (one prediction per test row each)
/// against `gold`; `None` without test rows or runs.
pub fn bootstrap_f1(
    n_labels: usize,
    gold: &[usize],
    runs: &[Vec<usize>],
    config: &BootstrapConfig,
) -> Result<Option<BootstrapReport>, EvalError> {
    if config.resamples == 0 || !(config.confidence > 0.0 && config.confidence < 1.0) {
        return Err(EvalError::InvalidConfig("bootstrap needs resamples > 0 and 0 < confidence < 1"));
    }
    for run in runs {
        if run.len() != gold.len() {
            return Err(EvalError::LengthMismatch { n_rows: run.len(), n_row_labels: gold.len() });
        }
        let out_of_range = gold.iter().chain(run).enumerate().find(|(_, label)| **label >= n_labels);
        if let Some((idx, &label_idx)) = out_of_range {
            return Err(EvalError::LabelOutOfRange { row_idx: idx % gold.len(), label_idx, n_labels });
        }
    }
    if gold.is_empty() || runs.is_empty() {
        return Ok(None);
    }
    // Labels seen in the whole test set (as gold, or predicted by the run): a resample that happens
    // to draw none of a label's rows leaves it out of its macro mean instead of scoring it 0.
    let in_full_set: Vec<Vec<bool>> = runs
        .iter()
        .map(|run| {
            let mut seen = vec![false; n_labels];
            gold.iter().chain(run).for_each(|&label| seen[label] = true);
            seen
        })
        .collect();
    let mut rng = SplitMix64(config.rng_seed);
    let (mut micro, mut macro_) = (Vec::with_capacity(config.resamples), Vec::with_capacity(config.resamples));
    let mut draw = vec![0usize; gold.len()];
    let mut counts = Counts::new(n_labels);
    for _ in 0..config.resamples {
        draw.iter_mut().for_each(|row| *row = rng.below(gold.len()));
        let (mut micro_sum, mut macro_sum) = (0.0, 0.0);
        for (run, in_full_set) in runs.iter().zip(&in_full_set) {
            counts.clear();
            for &row in &draw {
                counts.add(gold[row], run[row]);
            }
            micro_sum += counts.correct as f64 / draw.len() as f64;
            macro_sum += counts.macro_f1(in_full_set);
        }
        micro.push(micro_sum / runs.len() as f64);
        macro_.push(macro_sum / runs.len() as f64);
    }
    let micro_f1 = percentile_interval(&mut micro, config.confidence);
    Ok(Some(BootstrapReport {
        resamples: config.resamples,
        confidence: config.confidence,
        accuracy: micro_f1,
        micro_f1,
        macro_f1: percentile_interval(&mut macro_, config.confidence),
    }))
}

/// Per-label true positives, gold counts and predicted counts of one resample.
struct Counts {
    true_pos: Vec<usize>,
    gold: Vec<usize>,
    predicted: Vec<usize>,
    correct: usize,
}

impl Counts {
    fn new(n_labels: usize) -> Counts {
        Counts { true_pos: vec![0; n_labels], gold: vec![0; n_labels], predicted: vec![0; n_labels], correct: 0 }
    }

    fn clear(&mut self) {
        for counts in [&mut self.true_pos, &mut self.gold, &mut self.predicted] {
            counts.iter_mut().for_each(|n| *n = 0);
        }
        self.correct = 0;
    }

    fn add(&mut self, gold: usize, predicted: usize) {
        self.gold[gold] += 1;
        self.predicted[predicted] += 1;
        if gold == predicted {
            self.true_pos[gold] += 1;
            self.correct += 1;
        }
    }

    /// Unweighted mean over the labels, as `classification_report` computes it (a label absent
    /// from the whole test set and its predictions scores 0), except labels of the test set that
    /// this resample did not draw, which it cannot score.
    fn macro_f1(&self, in_full_set: &[bool]) -> f64 {
        let (mut sum, mut n) = (0.0, 0usize);
        for (label, &seen) in in_full_set.iter().enumerate() {
            let denominator = self.gold[label] + self.predicted[label];
            if denominator == 0 && seen {
                continue;
            }
            if denominator > 0 {
                sum += 2.0 * self.true_pos[label] as f64 / denominator as f64;
            }
            n += 1;
        }
        sum / n.max(1) as f64
    }
}

/// The `(1 - confidence) / 2` and `(1 + confidence) / 2` quantiles (nearest rank) of `values`.
fn percentile_interval(values: &mut [f64], confidence: f64) -> Interval {
    values.sort_by(f64::total_cmp);
    let at = |quantile: f64| {
        let rank = (quantile * values.len() as f64).ceil() as usize;
        values[rank.clamp(1, values.len()) - 1]
    };
    Interval { low: at((1.0 - confidence) / 2.0), high: at((1.0 + confidence) / 2.0) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classification_report;

    fn labels(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("l{i}")).collect()
    }

    #[test]
    fn the_interval_holds_the_score_and_narrows_with_more_test_rows() {
        // 80% correct, errors spread over both labels.
        let pattern = |n: usize| -> (Vec<usize>, Vec<usize>) {
            let gold: Vec<usize> = (0..n).map(|i| i % 2).collect();
            let pred = gold.iter().enumerate().map(|(i, &g)| if i % 5 == 0 { 1 - g } else { g }).collect();
            (gold, pred)
        };
        let config = BootstrapConfig::standard(7);
        let mut widths = Vec::new();
        for n in [50, 2000] {
            let (gold, pred) = pattern(n);
            let report = classification_report(&labels(2), &gold, &pred);
            let boot = bootstrap_f1(2, &gold, &[pred], &config).unwrap().unwrap();
            assert!(boot.micro_f1.low <= report.micro_f1 && report.micro_f1 <= boot.micro_f1.high, "{boot:?}");
            assert!(boot.macro_f1.low <= report.macro_f1 && report.macro_f1 <= boot.macro_f1.high, "{boot:?}");
            assert!(boot.micro_f1.low < boot.micro_f1.high, "{boot:?}");
            widths.push(boot.micro_f1.high - boot.micro_f1.low);
        }
        // The binomial standard error shrinks with sqrt(n): 40x the rows, about 1/6 the width.
        assert!(widths[1] < widths[0] / 3.0, "{widths:?}");
        assert!(widths[0] > 0.1 && widths[0] < 0.35, "50 rows at 80%: about ±11 points, {widths:?}");
    }

    #[test]
    fn perfect_predictions_have_a_point_interval_and_the_same_seed_the_same_interval() {
        let gold: Vec<usize> = (0..30).map(|i| i % 3).collect();
        let config = BootstrapConfig::standard(1);
        let boot = bootstrap_f1(3, &gold, &[gold.clone(), gold.clone()], &config).unwrap().unwrap();
        assert_eq!(boot.micro_f1, Interval { low: 1.0, high: 1.0 });
        // A resample that draws no row of a label does not score it 0.
        assert_eq!(boot.macro_f1, Interval { low: 1.0, high: 1.0 });
        let three_rows = bootstrap_f1(3, &[0, 1, 2], &[vec![0, 1, 2]], &config).unwrap().unwrap();
        assert_eq!(three_rows.macro_f1, Interval { low: 1.0, high: 1.0 });
        let noisy: Vec<usize> =
            gold.iter().enumerate().map(|(i, &g)| if i % 4 == 0 { (g + 1) % 3 } else { g }).collect();
        let a = bootstrap_f1(3, &gold, std::slice::from_ref(&noisy), &config).unwrap();
        assert_eq!(a, bootstrap_f1(3, &gold, std::slice::from_ref(&noisy), &config).unwrap());
        assert_ne!(a, bootstrap_f1(3, &gold, &[noisy], &BootstrapConfig::standard(2)).unwrap());
    }

    #[test]
    fn bad_shapes_are_errors_and_nothing_to_resample_is_none() {
        let config = BootstrapConfig::standard(0);
        assert!(matches!(bootstrap_f1(2, &[0, 1], &[vec![0]], &config), Err(EvalError::LengthMismatch { .. })));
        assert!(matches!(bootstrap_f1(2, &[0, 1], &[vec![0, 2]], &config), Err(EvalError::LabelOutOfRange { .. })));
        let zero = BootstrapConfig { resamples: 0, ..config };
        assert!(matches!(bootstrap_f1(2, &[0], &[vec![0]], &zero), Err(EvalError::InvalidConfig(_))));
        assert_eq!(bootstrap_f1(2, &[], &[vec![]], &config), Ok(None));
        assert_eq!(bootstrap_f1(2, &[0, 1], &[], &config), Ok(None));
    }
}
