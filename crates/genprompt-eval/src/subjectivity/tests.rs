use crate::{AgreementPoint, accuracy_by_agreement, agreement_thresholds, average_ranks, spearman};

fn assert_close(actual: Option<f64>, expected: f64, what: &str) {
    let actual = actual.unwrap_or_else(|| panic!("{what}: None, expected {expected}"));
    assert!((actual - expected).abs() < 1e-12, "{what}: {actual} != {expected}");
}

/// Five items; the fifth has no agreement value. Correct: items 0 and 1. By threshold:
/// 0.4 keeps items 0-3 (2 of 4 right), 0.6 keeps 0, 1, 3 (2 of 3), 1.0 keeps 0 and 3 (1 of 2),
/// 1.1 keeps none.
#[test]
fn accuracy_by_agreement_counts_only_items_at_or_above_each_threshold() {
    let gold = [0, 1, 0, 1, 0];
    let pred = [0, 1, 1, 0, 1];
    let agreement = [Some(1.0), Some(0.6), Some(0.4), Some(1.0), None];
    let points = accuracy_by_agreement(&gold, &pred, &agreement, &[0.4, 0.6, 1.0, 1.1]);
    let counts: Vec<usize> = points.iter().map(|p| p.n_items).collect();
    assert_eq!(counts, [4, 3, 2, 0]);
    assert_close(points[0].accuracy, 0.5, "0.4");
    assert_close(points[1].accuracy, 2.0 / 3.0, "0.6");
    assert_close(points[2].accuracy, 0.5, "1.0");
    assert_eq!(points[3], AgreementPoint { threshold: 1.1, n_items: 0, accuracy: None });
}

#[test]
fn annotator_counts_work_as_thresholds_too() {
    // Agreeing annotators out of 5: the item with 5 of 5 is right, the two with 3 are wrong.
    let points = accuracy_by_agreement(&[0, 1, 1], &[0, 0, 0], &[Some(5.0), Some(3.0), Some(3.0)], &[3.0, 4.0]);
    assert_eq!((points[0].n_items, points[1].n_items), (3, 1));
    assert_close(points[0].accuracy, 1.0 / 3.0, "3 annotators");
    assert_close(points[1].accuracy, 1.0, "4 annotators");
}

#[test]
#[should_panic(expected = "3 gold labels but 2 agreement values")]
fn accuracy_by_agreement_refuses_misaligned_inputs() {
    accuracy_by_agreement(&[0, 1, 0], &[0, 1, 0], &[Some(1.0), None], &[0.5]);
}

#[test]
fn default_thresholds_are_the_distinct_values_when_few() {
    let agreement = [Some(1.0), Some(0.6), None, Some(0.6), Some(0.8), Some(f64::NAN)];
    assert_eq!(agreement_thresholds(&agreement, 10), [0.6, 0.8, 1.0]);
    assert!(agreement_thresholds(&[None, None], 10).is_empty());
}

#[test]
fn default_thresholds_are_quantiles_when_values_are_many() {
    // Ten distinct values 0.1..1.0, four points: sorted positions 0, 10/4 = 2, 5, 7.
    let agreement: Vec<Option<f64>> = (1..=10).rev().map(|i| Some(f64::from(i) / 10.0)).collect();
    assert_eq!(agreement_thresholds(&agreement, 4), [0.1, 0.3, 0.6, 0.8]);
}

#[test]
fn ties_share_the_mean_of_their_ranks() {
    assert_eq!(average_ranks(&[5.0, 6.0, 7.0, 8.0, 7.0]), [1.0, 2.0, 3.5, 5.0, 3.5]);
    assert_eq!(average_ranks(&[2.0, 2.0, 2.0, 1.0]), [3.0, 3.0, 3.0, 1.0]);
}

/// Ranks x = 1..5 and y = (1, 2, 3.5, 5, 3.5): deviations from the mean rank 3 give
/// sum dx*dy = 4 + 1 + 0 + 2 + 1 = 8, sum dx^2 = 10, sum dy^2 = 9.5, so rho = 8 / sqrt(95).
#[test]
fn spearman_matches_a_hand_computed_case_with_ties() {
    let rho = spearman(&[1.0, 2.0, 3.0, 4.0, 5.0], &[5.0, 6.0, 7.0, 8.0, 7.0]);
    assert_close(rho, 8.0 / 95f64.sqrt(), "rho");
}

#[test]
fn spearman_depends_on_order_only() {
    // Any increasing transform of one side leaves rho at 1; reversing it gives -1.
    let x = [1.0, 2.0, 3.0, 4.0];
    assert_close(spearman(&x, &[0.1, 10.0, 11.0, 500.0]), 1.0, "monotone");
    assert_close(spearman(&x, &[9.0, 3.0, 2.0, -7.0]), -1.0, "reversed");
}

#[test]
fn spearman_is_undefined_for_constant_or_tiny_inputs() {
    assert_eq!(spearman(&[1.0, 2.0, 3.0], &[4.0, 4.0, 4.0]), None);
    assert_eq!(spearman(&[1.0], &[2.0]), None);
    assert_eq!(spearman(&[], &[]), None);
}
