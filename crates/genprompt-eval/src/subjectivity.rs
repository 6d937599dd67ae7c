//! Subjectivity analysis after Li et al. (2023): a model trained on synthetic data should do worse
//! on the test items that annotators disagreed on (instance level), and the gap between training on
//! real and on synthetic data should grow with how subjective a task is (task level).

/// Accuracy (= micro-F1 for single-label data) on the test items whose annotator agreement is at
/// least `threshold`.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct AgreementPoint {
    pub threshold: f64,
    pub n_items: usize,
    /// `None` when no item reaches the threshold.
    pub accuracy: Option<f64>,
}

/// Accuracy of `pred` against `gold` on the items with `agreement >= threshold`, per threshold.
/// Items without an agreement value (`None`) count at no threshold.
///
/// Panics if the slices differ in length: all three come from the same test split, so a mismatch
/// is a bug in the caller.
pub fn accuracy_by_agreement(
    gold: &[usize],
    pred: &[usize],
    agreement: &[Option<f64>],
    thresholds: &[f64],
) -> Vec<AgreementPoint> {
    assert_eq!(gold.len(), pred.len(), "{} gold labels but {} predictions", gold.len(), pred.len());
    assert_eq!(gold.len(), agreement.len(), "{} gold labels but {} agreement values", gold.len(), agreement.len());
    thresholds
        .iter()
        .map(|&threshold| {
            let (mut n_items, mut n_correct) = (0usize, 0usize);
            for ((g, p), a) in gold.iter().zip(pred).zip(agreement) {
                if a.is_some_and(|a| a >= threshold) {
                    n_items += 1;
                    n_correct += usize::from(g == p);
                }
            }
            let accuracy = (n_items > 0).then(|| n_correct as f64 / n_items as f64);
            AgreementPoint { threshold, n_items, accuracy }
        })
        .collect()
}

/// Rising thresholds for [`accuracy_by_agreement`] when the user gives none: the distinct agreement
/// values present if there are at most `max_points` (agreement shares and annotator counts take
/// few values), else the values at the quantiles 0, 1/max_points, 2/max_points, ... of the items,
/// so every step removes about as many items. The lowest threshold always keeps every item.
pub fn agreement_thresholds(agreement: &[Option<f64>], max_points: usize) -> Vec<f64> {
    let mut values: Vec<f64> = agreement.iter().flatten().copied().filter(|v| v.is_finite()).collect();
    values.sort_by(f64::total_cmp);
    let mut distinct = values.clone();
    distinct.dedup();
    if distinct.len() <= max_points.max(1) {
        return distinct;
    }
    let mut picked: Vec<f64> = (0..max_points).map(|step| values[step * values.len() / max_points]).collect();
    picked.dedup();
    picked
}

/// 1-based ranks of `values` in ascending order; tied values share the mean of their ranks (the
/// usual convention for Spearman's rho with ties).
pub fn average_ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && values[order[end]] == values[order[start]] {
            end += 1;
        }
        // Positions start..end hold ranks start+1..=end; their mean is (start + 1 + end) / 2.
        let rank = (start + 1 + end) as f64 / 2.0;
        for &idx in &order[start..end] {
            ranks[idx] = rank;
        }
        start = end;
    }
    ranks
}

/// Spearman's rank correlation: the Pearson correlation of the average ranks. `None` with fewer
/// than two pairs or when either side is constant (the correlation is undefined there).
///
/// Panics if the slices differ in length.
pub fn spearman(x: &[f64], y: &[f64]) -> Option<f64> {
    assert_eq!(x.len(), y.len(), "{} x values but {} y values", x.len(), y.len());
    if x.len() < 2 {
        return None;
    }
    pearson(&average_ranks(x), &average_ranks(y))
}

fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    let n = x.len() as f64;
    let (mean_x, mean_y) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        let (dx, dy) = (a - mean_x, b - mean_y);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    (sxx > 0.0 && syy > 0.0).then(|| sxy / (sxx * syy).sqrt())
}

#[cfg(test)]
mod tests;
