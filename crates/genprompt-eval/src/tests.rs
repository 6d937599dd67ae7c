use genprompt_embed::Embeddings;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::{Aps, EvalError, Probe, ProbeConfig, aps, classification_report};

fn names(names: &[&str]) -> Vec<String> {
    names.iter().map(|name| name.to_string()).collect()
}

fn assert_close(actual: f64, expected: f64, what: &str) {
    assert!((actual - expected).abs() < 1e-9, "{what}: {actual} != {expected}");
}

/// `expected` holds (precision, recall, f1, support) per label.
fn check_report(
    label_names: &[&str],
    gold: &[usize],
    pred: &[usize],
    accuracy: f64,
    macro_f1: f64,
    expected: &[(f64, f64, f64, usize)],
    confusion: &[&[usize]],
) {
    let report = classification_report(&names(label_names), gold, pred);
    assert_eq!(report.n_items, gold.len());
    assert_close(report.accuracy, accuracy, "accuracy");
    assert_close(report.micro_f1, accuracy, "micro-F1");
    assert_close(report.macro_f1, macro_f1, "macro-F1");
    assert_eq!(report.per_label.len(), expected.len());
    for (scores, &(precision, recall, f1, support)) in report.per_label.iter().zip(expected) {
        assert_close(scores.precision, precision, &format!("{} precision", scores.label));
        assert_close(scores.recall, recall, &format!("{} recall", scores.label));
        assert_close(scores.f1, f1, &format!("{} F1", scores.label));
        assert_eq!(scores.support, support, "{} support", scores.label);
    }
    assert_eq!(report.confusion, confusion.iter().map(|row| row.to_vec()).collect::<Vec<_>>());
}

#[test]
fn report_matches_hand_computation() {
    // Confusion (rows gold): a [2 1 1], b [1 2 0], c [0 0 1]; 5 of 8 correct.
    // a: P 2/3, R 2/4, F1 4/7. b: P 2/3, R 2/3, F1 2/3. c: P 1/2, R 1/1, F1 2/3.
    // Macro-F1 = (4/7 + 2/3 + 2/3) / 3 = 40/63.
    check_report(
        &["a", "b", "c"],
        &[0, 0, 0, 0, 1, 1, 1, 2],
        &[0, 0, 1, 2, 1, 1, 0, 2],
        5.0 / 8.0,
        40.0 / 63.0,
        &[(2.0 / 3.0, 0.5, 4.0 / 7.0, 4), (2.0 / 3.0, 2.0 / 3.0, 2.0 / 3.0, 3), (0.5, 1.0, 2.0 / 3.0, 1)],
        &[&[2, 1, 1], &[1, 2, 0], &[0, 0, 1]],
    );
}

#[test]
fn macro_f1_counts_labels_never_predicted_as_zero() {
    // c is never predicted and d never occurs: both score 0 and still count in the mean.
    // b: P 2/3, R 1, F1 4/5. Macro-F1 = (1 + 4/5 + 0 + 0) / 4 = 0.45.
    check_report(
        &["a", "b", "c", "d"],
        &[0, 0, 1, 1, 2],
        &[0, 0, 1, 1, 1],
        0.8,
        0.45,
        &[(1.0, 1.0, 1.0, 2), (2.0 / 3.0, 1.0, 0.8, 2), (0.0, 0.0, 0.0, 1), (0.0, 0.0, 0.0, 0)],
        &[&[2, 0, 0, 0], &[0, 2, 0, 0], &[0, 1, 0, 0], &[0, 0, 0, 0]],
    );
}

#[test]
fn report_of_no_items_is_all_zero() {
    check_report(&["a", "b"], &[], &[], 0.0, 0.0, &[(0.0, 0.0, 0.0, 0), (0.0, 0.0, 0.0, 0)], &[&[0, 0], &[0, 0]]);
}

fn check_aps(embeddings: &Embeddings, labels: &[usize], expected: [Option<f64>; 3], tolerance: f64) {
    let Aps { overall, intra, inter } = aps(embeddings, labels);
    for (what, actual, expected) in
        [("overall", overall, expected[0]), ("intra", intra, expected[1]), ("inter", inter, expected[2])]
    {
        match (actual, expected) {
            (Some(actual), Some(expected)) => {
                assert!((actual - expected).abs() < tolerance, "{what} APS: {actual} != {expected}")
            }
            _ => assert_eq!(actual, expected, "{what} APS"),
        }
    }
}

#[test]
fn aps_matches_hand_computation() {
    // Dots: ab = 0, ac = 0.6, bc = 0.8. Same label: ab only. Different labels: ac, bc.
    let embeddings = Embeddings::from_flat(2, vec![1.0, 0.0, 0.0, 1.0, 0.6, 0.8]).unwrap();
    check_aps(&embeddings, &[0, 0, 1], [Some(1.4 / 3.0), Some(0.0), Some(0.7)], 1e-6);
}

#[test]
fn aps_without_pairs_is_none() {
    let one = Embeddings::from_flat(2, vec![1.0, 0.0]).unwrap();
    check_aps(&one, &[0], [None, None, None], 0.0);
    check_aps(&Embeddings::new(2), &[], [None, None, None], 0.0);
    let two = Embeddings::from_flat(2, vec![1.0, 0.0, 0.0, 1.0]).unwrap();
    check_aps(&two, &[0, 1], [Some(0.0), None, Some(0.0)], 1e-12);
    check_aps(&two, &[1, 1], [Some(0.0), Some(0.0), None], 1e-12);
}

#[test]
fn aps_matches_brute_force_pairwise_loop() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let dim = 24;
    let mut rows: Vec<Vec<f32>> = (0..61).map(|_| (0..dim).map(|_| gaussian(&mut rng)).collect()).collect();
    rows[7] = vec![0.0; dim]; // encoders keep empty texts as zero rows
    let embeddings = Embeddings::from_rows_normalised(dim, &rows).unwrap();
    // Label 3 has a single row and label 4 none, to exercise labels without pairs.
    let mut labels: Vec<usize> = (0..rows.len()).map(|_| rng.random_range(0..3)).collect();
    labels[20] = 3;

    let (mut sums, mut counts) = ([0.0; 3], [0u64; 3]);
    for i in 0..embeddings.len() {
        for j in i + 1..embeddings.len() {
            let dot: f64 =
                embeddings.row(i).iter().zip(embeddings.row(j)).map(|(&a, &b)| f64::from(a) * f64::from(b)).sum();
            let kind = if labels[i] == labels[j] { 1 } else { 2 };
            for idx in [0, kind] {
                sums[idx] += dot;
                counts[idx] += 1;
            }
        }
    }
    let expected = [0, 1, 2].map(|idx| Some(sums[idx] / counts[idx] as f64));
    check_aps(&embeddings, &labels, expected, 1e-12);
}

fn gaussian(rng: &mut ChaCha8Rng) -> f32 {
    let u1 = 1.0 - rng.random::<f64>();
    let u2 = rng.random::<f64>();
    ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
}

const DIM: usize = 384;

fn unit_directions(rng: &mut ChaCha8Rng, n_labels: usize) -> Vec<Vec<f32>> {
    let rows: Vec<Vec<f32>> = (0..n_labels).map(|_| (0..DIM).map(|_| gaussian(rng)).collect()).collect();
    Embeddings::from_rows_normalised(DIM, &rows).unwrap().rows().map(<[f32]>::to_vec).collect()
}

/// Row `i` has label `i % n_labels`: its direction plus Gaussian noise of expected norm `noise`,
/// normalised like an encoder output.
fn clusters(rng: &mut ChaCha8Rng, directions: &[Vec<f32>], n_rows: usize, noise: f32) -> (Embeddings, Vec<usize>) {
    let scale = noise / (DIM as f32).sqrt();
    let mut embeddings = Embeddings::new(DIM);
    let mut labels = Vec::with_capacity(n_rows);
    for row_idx in 0..n_rows {
        let label_idx = row_idx % directions.len();
        let row: Vec<f32> = directions[label_idx].iter().map(|&x| x + scale * gaussian(rng)).collect();
        embeddings.push_normalised(&row).unwrap();
        labels.push(label_idx);
    }
    (embeddings, labels)
}

fn accuracy(gold: &[usize], pred: &[usize]) -> f64 {
    gold.iter().zip(pred).filter(|(gold, pred)| gold == pred).count() as f64 / gold.len() as f64
}

/// Train and held-out test sets of four clusters, 100 training and 400 test rows per label.
fn toy_task(rng_seed: u64, noise: f32) -> (Embeddings, Vec<usize>, Embeddings, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(rng_seed);
    let directions = unit_directions(&mut rng, 4);
    let (train, train_labels) = clusters(&mut rng, &directions, 400, noise);
    let (test, test_labels) = clusters(&mut rng, &directions, 1600, noise);
    (train, train_labels, test, test_labels)
}

#[test]
fn probe_separates_clusters() {
    for noise in [1.0, 2.0] {
        let (train, train_labels, test, test_labels) = toy_task(1, noise);
        let probe = Probe::train(&train, &train_labels, 4, &ProbeConfig::standard()).unwrap();
        let train_accuracy = accuracy(&train_labels, &probe.predict(&train));
        let test_accuracy = accuracy(&test_labels, &probe.predict(&test));
        eprintln!("noise {noise}: train accuracy {train_accuracy:.4}, held-out accuracy {test_accuracy:.4}");
        assert!(test_accuracy >= 0.95, "held-out accuracy {test_accuracy} at noise {noise}");
    }
}

#[test]
fn probe_trained_on_shuffled_labels_stays_near_chance() {
    let (train, mut train_labels, test, test_labels) = toy_task(2, 1.0);
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for idx in (1..train_labels.len()).rev() {
        train_labels.swap(idx, rng.random_range(0..=idx));
    }
    let probe = Probe::train(&train, &train_labels, 4, &ProbeConfig::standard()).unwrap();
    let train_accuracy = accuracy(&train_labels, &probe.predict(&train));
    let test_accuracy = accuracy(&test_labels, &probe.predict(&test));
    eprintln!("shuffled labels: train accuracy {train_accuracy:.4}, held-out accuracy {test_accuracy:.4}");
    assert!(test_accuracy < 0.45, "held-out accuracy {test_accuracy}");
}

#[test]
fn probe_is_deterministic_given_the_seed() {
    let (train, train_labels, test, _) = toy_task(4, 3.0);
    // Batches smaller than the training set, so the seed matters.
    let config = ProbeConfig { batch_size: 64, steps: 300, ..ProbeConfig::standard() };
    let first = Probe::train(&train, &train_labels, 4, &config).unwrap();
    let second = Probe::train(&train, &train_labels, 4, &config).unwrap();
    assert_eq!(first.predict(&test), second.predict(&test));
    assert_eq!(first.predict_proba(&test), second.predict_proba(&test));
    let other_seed = Probe::train(&train, &train_labels, 4, &ProbeConfig { rng_seed: 1, ..config }).unwrap();
    assert_ne!(first.predict_proba(&test), other_seed.predict_proba(&test));
}

#[test]
fn labels_absent_from_training_never_win() {
    let (train, train_labels, test, _) = toy_task(5, 1.0);
    // Move labels 0..4 to 0, 2, 4, 6 of 7: labels 1, 3 and 5 have no training rows.
    let train_labels: Vec<usize> = train_labels.iter().map(|&label_idx| 2 * label_idx).collect();
    let probe = Probe::train(&train, &train_labels, 7, &ProbeConfig::standard()).unwrap();
    assert!(probe.predict(&test).iter().all(|label_idx| label_idx % 2 == 0));
    let proba = probe.predict_proba(&test);
    assert_eq!(proba.dim(), (test.len(), 7));
    for row in proba.rows() {
        assert!(row[1] == 0.0 && row[3] == 0.0 && row[5] == 0.0);
        assert!((row.sum() - 1.0).abs() < 1e-5);
    }
}

#[test]
fn single_label_training_set_predicts_that_label() {
    let (train, _, test, _) = toy_task(6, 1.0);
    let probe = Probe::train(&train, &vec![2; train.len()], 3, &ProbeConfig::standard()).unwrap();
    assert!(probe.predict(&test).iter().all(|&label_idx| label_idx == 2));
    assert!(probe.predict_proba(&test).rows().into_iter().all(|row| row.to_vec() == [0.0, 0.0, 1.0]));
    assert_eq!(probe.predict(&Embeddings::new(DIM)), Vec::<usize>::new());
}

#[test]
fn probe_rejects_bad_input() {
    let config = ProbeConfig::standard();
    let two = Embeddings::from_flat(2, vec![1.0, 0.0, 0.0, 1.0]).unwrap();
    let train = |embeddings: &Embeddings, labels: &[usize], n_labels, config: &ProbeConfig| {
        Probe::train(embeddings, labels, n_labels, config).unwrap_err()
    };
    assert_eq!(train(&Embeddings::new(2), &[], 2, &config), EvalError::EmptyTrainingSet);
    assert_eq!(train(&two, &[0, 1], 0, &config), EvalError::NoLabels);
    assert_eq!(train(&two, &[0], 2, &config), EvalError::LengthMismatch { n_rows: 2, n_row_labels: 1 });
    assert_eq!(train(&two, &[0, 2], 2, &config), EvalError::LabelOutOfRange { row_idx: 1, label_idx: 2, n_labels: 2 });
    let nan = Embeddings::from_flat(2, vec![1.0, 0.0, f32::NAN, 1.0]).unwrap();
    assert_eq!(train(&nan, &[0, 1], 2, &config), EvalError::NonFinite { row_idx: 1 });
    let no_steps = ProbeConfig { steps: 0, ..config.clone() };
    assert!(matches!(train(&two, &[0, 1], 2, &no_steps), EvalError::InvalidConfig(_)));
    let empty_batch = ProbeConfig { batch_size: 0, ..config };
    assert_eq!(train(&two, &[0, 1], 2, &empty_batch).to_string(), "invalid probe config: batch size must be positive");
}

#[test]
fn per_label_scores_are_averaged_over_runs_not_taken_from_the_first() {
    let labels = ["a".to_string(), "b".to_string()];
    let gold = [0, 0, 1, 1];
    let runs = [
        classification_report(&labels, &gold, &[0, 0, 1, 1]),
        classification_report(&labels, &gold, &[0, 1, 1, 1]),
        classification_report(&labels, &gold, &[1, 1, 1, 1]),
    ];
    let mean = crate::mean_per_label(&runs);
    assert_eq!(mean.len(), 2);
    assert_eq!((mean[0].label.as_str(), mean[0].support), ("a", 2));
    // Recall of "a": 1, 1/2, 0; precision of "b": 1, 2/3, 1/2.
    assert!((mean[0].recall - 0.5).abs() < 1e-12, "{mean:?}");
    assert!((mean[1].precision - (1.0 + 2.0 / 3.0 + 0.5) / 3.0).abs() < 1e-12, "{mean:?}");
    let f1s: Vec<f64> = runs.iter().map(|r| r.per_label[1].f1).collect();
    assert!((mean[1].f1 - f1s.iter().sum::<f64>() / 3.0).abs() < 1e-12);
    assert!(crate::mean_per_label(&[]).is_empty());
}

#[test]
fn without_a_judge_label_faithfulness_is_left_out_but_the_real_set_still_counts() {
    let rows = [[1.0f32, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]];
    let x = Embeddings::from_rows_normalised(2, &rows).unwrap();
    let texts = ["a b", "a c", "d e", "d f"];
    let report =
        crate::intrinsic_report_with(&x, &[0, 0, 1, 1], &texts, Some(&x), None, &crate::IntrinsicConfig::standard())
            .unwrap();
    assert_eq!(report.label_faithfulness, None);
    assert_eq!(report.n_real, Some(4));
    assert!(report.cmd.is_some() && report.top_k_similarity.is_some());
}
