//! Downstream scores (accuracy, F1, confusion) and the intrinsic diversity measure APS.

use genprompt_embed::Embeddings;

/// Scores of one set of predictions against gold labels, in the form reported by the papers.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ClassificationReport {
    pub n_items: usize,
    pub accuracy: f64,
    /// Equal to `accuracy` for single-label data; kept separately because the papers report it
    /// under this name.
    pub micro_f1: f64,
    /// Unweighted mean over every label of the task, including labels absent from both gold and
    /// predictions, so a generator that drops a label is penalised for it.
    pub macro_f1: f64,
    /// One entry per label, in `label_names` order.
    pub per_label: Vec<LabelScores>,
    /// `confusion[gold][predicted]` counts, in `label_names` order.
    pub confusion: Vec<Vec<usize>>,
}

/// Precision, recall and F1 of one label; a ratio with a zero denominator is 0 (scikit-learn's
/// `zero_division=0`).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct LabelScores {
    pub label: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Number of gold items with this label.
    pub support: usize,
}

/// Precision, recall and F1 of every label averaged over runs (each run's report scores the same
/// labels in the same order); support is the first run's, as every run tests the same rows.
/// Empty for no runs.
pub fn mean_per_label(runs: &[ClassificationReport]) -> Vec<LabelScores> {
    let Some(first) = runs.first() else { return Vec::new() };
    let n = runs.len() as f64;
    first
        .per_label
        .iter()
        .enumerate()
        .map(|(idx, scores)| {
            let mean = |score: fn(&LabelScores) -> f64| {
                runs.iter().filter_map(|run| run.per_label.get(idx)).map(score).sum::<f64>() / n
            };
            LabelScores {
                label: scores.label.clone(),
                precision: mean(|s| s.precision),
                recall: mean(|s| s.recall),
                f1: mean(|s| s.f1),
                support: scores.support,
            }
        })
        .collect()
}

/// Average pairwise cosine similarity (lower = more diverse). A mean over no pairs is `None`:
/// one text per label has no intra-label pair, one label has no inter-label pair.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Aps {
    /// Over all unordered pairs of distinct rows.
    pub overall: Option<f64>,
    /// Over pairs with the same label, pooled across labels.
    pub intra: Option<f64>,
    /// Over pairs with different labels.
    pub inter: Option<f64>,
}

/// Scores `pred` against `gold`, both label indices into `label_names`.
///
/// Panics if the slices differ in length or hold an index outside `label_names`: both come from
/// the same test split and label table, so a mismatch is a bug in the caller. With no items every
/// score is 0.
pub fn classification_report(label_names: &[String], gold: &[usize], pred: &[usize]) -> ClassificationReport {
    assert_eq!(gold.len(), pred.len(), "{} gold labels but {} predictions", gold.len(), pred.len());
    let n_labels = label_names.len();
    let mut confusion = vec![vec![0usize; n_labels]; n_labels];
    for (&gold_idx, &pred_idx) in gold.iter().zip(pred) {
        assert!(
            gold_idx < n_labels && pred_idx < n_labels,
            "label index ({gold_idx} gold, {pred_idx} predicted) out of range for {n_labels} labels"
        );
        confusion[gold_idx][pred_idx] += 1;
    }

    let mut per_label = Vec::with_capacity(n_labels);
    let (mut total_tp, mut total_fp, mut total_fn) = (0, 0, 0);
    for (label_idx, label) in label_names.iter().enumerate() {
        let tp = confusion[label_idx][label_idx];
        let support: usize = confusion[label_idx].iter().sum();
        let n_predicted: usize = confusion.iter().map(|row| row[label_idx]).sum();
        let (fp, fn_) = (n_predicted - tp, support - tp);
        total_tp += tp;
        total_fp += fp;
        total_fn += fn_;
        per_label.push(LabelScores {
            label: label.clone(),
            precision: ratio(tp, tp + fp),
            recall: ratio(tp, tp + fn_),
            f1: f1(tp, fp, fn_),
            support,
        });
    }
    let macro_f1 =
        if n_labels == 0 { 0.0 } else { per_label.iter().map(|scores| scores.f1).sum::<f64>() / n_labels as f64 };
    ClassificationReport {
        n_items: gold.len(),
        accuracy: ratio(total_tp, gold.len()),
        micro_f1: f1(total_tp, total_fp, total_fn),
        macro_f1,
        per_label,
        confusion,
    }
}

/// APS of `embeddings` with one label index per row, in O(n * dim) time and O(labels * dim) memory.
///
/// The sum of dot products over unordered pairs is `(|S|^2 - sum_i |x_i|^2) / 2` with `S` the sum
/// of the rows; applied per label it gives the intra-label total, and the inter-label total is the
/// difference. Using `|x_i|^2` rather than 1 keeps this exact for the all-zero rows an encoder may
/// produce. Accumulates in f64.
///
/// Panics if `labels` and `embeddings` differ in length (a caller bug).
pub fn aps(embeddings: &Embeddings, labels: &[usize]) -> Aps {
    assert_eq!(embeddings.len(), labels.len(), "{} embedding rows but {} labels", embeddings.len(), labels.len());
    let dim = embeddings.dim();
    let n_labels = labels.iter().max().map_or(0, |&max_idx| max_idx + 1);
    let mut label_sums = vec![0f64; n_labels * dim];
    let mut label_sq_norms = vec![0f64; n_labels];
    let mut label_counts = vec![0u64; n_labels];
    for (row, &label_idx) in embeddings.rows().zip(labels) {
        let sum = &mut label_sums[label_idx * dim..(label_idx + 1) * dim];
        let mut sq_norm = 0.0;
        for (acc, &x) in sum.iter_mut().zip(row) {
            let x = f64::from(x);
            *acc += x;
            sq_norm += x * x;
        }
        label_sq_norms[label_idx] += sq_norm;
        label_counts[label_idx] += 1;
    }

    let mut total_sum = vec![0f64; dim];
    let (mut intra_dot, mut intra_pairs) = (0.0, 0u64);
    for label_idx in 0..n_labels {
        let sum = &label_sums[label_idx * dim..(label_idx + 1) * dim];
        for (acc, &x) in total_sum.iter_mut().zip(sum) {
            *acc += x;
        }
        intra_dot += (squared_norm(sum) - label_sq_norms[label_idx]) / 2.0;
        intra_pairs += pairs(label_counts[label_idx]);
    }
    let all_dot = (squared_norm(&total_sum) - label_sq_norms.iter().sum::<f64>()) / 2.0;
    let all_pairs = pairs(labels.len() as u64);
    Aps {
        overall: mean(all_dot, all_pairs),
        intra: mean(intra_dot, intra_pairs),
        inter: mean(all_dot - intra_dot, all_pairs - intra_pairs),
    }
}

fn ratio(numerator: usize, denominator: usize) -> f64 {
    if denominator == 0 { 0.0 } else { numerator as f64 / denominator as f64 }
}

/// `2tp / (2tp + fp + fn)`: the harmonic mean of precision and recall, and 0 when both are
/// undefined, as in scikit-learn.
fn f1(tp: usize, fp: usize, fn_: usize) -> f64 {
    ratio(2 * tp, 2 * tp + fp + fn_)
}

fn squared_norm(vector: &[f64]) -> f64 {
    vector.iter().map(|x| x * x).sum()
}

fn pairs(n: u64) -> u64 {
    n * n.saturating_sub(1) / 2
}

fn mean(total: f64, n_pairs: u64) -> Option<f64> {
    (n_pairs > 0).then(|| total / n_pairs as f64)
}
