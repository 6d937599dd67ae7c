use genprompt_embed::Embeddings;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{KEY_BLOCK, QUERY_BLOCK};
use crate::rng::sample_indices;
use crate::{
    EvalError, Probe, ProbeConfig, chamfer, chamfer_n_queries, cmd, label_faithfulness, remote_clique, top_k_similarity,
};

fn assert_close(actual: Option<f64>, expected: f64, tolerance: f64, what: &str) {
    let actual = actual.unwrap_or_else(|| panic!("{what}: None, expected {expected}"));
    assert!((actual - expected).abs() < tolerance, "{what}: {actual} != {expected}");
}

fn gaussian(rng: &mut ChaCha8Rng) -> f32 {
    let u1 = 1.0 - rng.random::<f64>();
    let u2 = rng.random::<f64>();
    ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
}

/// Unit rows with a shared direction (so similarities are not all near 0), plus two exact
/// duplicates and an all-zero row, as encoders produce for empty texts.
fn random_rows(rng_seed: u64, n_rows: usize, dim: usize) -> Embeddings {
    let mut rng = ChaCha8Rng::seed_from_u64(rng_seed);
    let mut rows: Vec<Vec<f32>> =
        (0..n_rows).map(|_| (0..dim).map(|dim_idx| gaussian(&mut rng) + (dim_idx % 3) as f32).collect()).collect();
    if n_rows > 10 {
        rows[5] = rows[2].clone();
        rows[9] = vec![0.0; dim];
    }
    Embeddings::from_rows_normalised(dim, &rows).unwrap()
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(&x, &y)| f64::from(x) * f64::from(y)).sum()
}

/// Three unit rows a = (1, 0), b = (0, 1), c = (0.6, 0.8): similarities ab 0, ac 0.6, bc 0.8, so
/// cosine distances ab 1, ac 0.4, bc 0.2.
fn three_rows() -> Embeddings {
    Embeddings::from_flat(2, vec![1.0, 0.0, 0.0, 1.0, 0.6, 0.8]).unwrap()
}

#[test]
fn cmd_matches_hand_computation() {
    // One dimension. Synthetic {1, 0, 0}: mean 1/3, centred 2/3, -1/3, -1/3, so
    // c2 = (4 + 1 + 1) / 27 = 2/9, c3 = (8 - 1 - 1) / 81 = 2/27, c4 = (16 + 1 + 1) / 243 = 2/27,
    // c5 = (32 - 1 - 1) / 729 = 10/243. Real {0}: every moment 0.
    // CMD = (1/3)/2 + (2/9)/4 + (2/27)/8 + (2/27)/16 + (10/243)/32
    //     = 1/6 + 1/18 + 1/108 + 1/216 + 10/7776 = (1296 + 432 + 72 + 36 + 10) / 7776 = 1846/7776.
    let synthetic = Embeddings::from_flat(1, vec![1.0, 0.0, 0.0]).unwrap();
    let real = Embeddings::from_flat(1, vec![0.0]).unwrap();
    assert_close(cmd(&synthetic, &real, 5).unwrap(), 1846.0 / 7776.0, 1e-12, "CMD, 5 moments");
    assert_close(cmd(&real, &synthetic, 5).unwrap(), 1846.0 / 7776.0, 1e-12, "CMD is symmetric");
    assert_close(cmd(&synthetic, &real, 1).unwrap(), 1.0 / 6.0, 1e-12, "CMD, mean only");
    assert_close(cmd(&synthetic, &real, 2).unwrap(), 1.0 / 6.0 + 1.0 / 18.0, 1e-12, "CMD, 2 moments");

    // Two dimensions. Synthetic {(1, 0), (0, 1)}: mean (1/2, 1/2), centred +-1/2 per dimension, so
    // c2 = (1/4, 1/4), c3 = 0, c4 = (1/16, 1/16), c5 = 0. Real {(1, 0), (1, 0)}: mean (1, 0), no spread.
    // CMD = |(-1/2, 1/2)|/2 + |(1/4, 1/4)|/4 + |(1/16, 1/16)|/16 = sqrt(2) * (1/4 + 1/16 + 1/256).
    let synthetic = Embeddings::from_flat(2, vec![1.0, 0.0, 0.0, 1.0]).unwrap();
    let real = Embeddings::from_flat(2, vec![1.0, 0.0, 1.0, 0.0]).unwrap();
    assert_close(cmd(&synthetic, &real, 5).unwrap(), 2f64.sqrt() * (0.25 + 0.0625 + 0.00390625), 1e-12, "2-d CMD");
    assert_close(cmd(&synthetic, &synthetic, 5).unwrap(), 0.0, 1e-15, "CMD of a set with itself");
}

/// The textbook definition, two passes over rows kept as f64 vectors.
fn cmd_two_pass(synthetic: &Embeddings, real: &Embeddings, n_moments: usize) -> f64 {
    let moments = |embeddings: &Embeddings| -> Vec<Vec<f64>> {
        let n_rows = embeddings.len() as f64;
        let dim = embeddings.dim();
        let mean: Vec<f64> =
            (0..dim).map(|j| embeddings.rows().map(|row| f64::from(row[j])).sum::<f64>() / n_rows).collect();
        let mut moments = vec![mean.clone()];
        for order in 2..=n_moments {
            moments.push(
                (0..dim)
                    .map(|j| {
                        embeddings.rows().map(|row| (f64::from(row[j]) - mean[j]).powi(order as i32)).sum::<f64>()
                            / n_rows
                    })
                    .collect(),
            );
        }
        moments
    };
    let (synthetic_moments, real_moments) = (moments(synthetic), moments(real));
    (0..n_moments)
        .map(|k_idx| {
            let distance: f64 =
                synthetic_moments[k_idx].iter().zip(&real_moments[k_idx]).map(|(a, b)| (a - b).powi(2)).sum();
            distance.sqrt() / 2f64.powi(k_idx as i32 + 1)
        })
        .sum()
}

#[test]
fn cmd_matches_two_pass_definition_on_random_rows() {
    let synthetic = random_rows(1, 700, 24);
    let real = random_rows(2, 333, 24);
    for n_moments in [1, 3, 5, 7] {
        let expected = cmd_two_pass(&synthetic, &real, n_moments);
        assert_close(cmd(&synthetic, &real, n_moments).unwrap(), expected, 1e-12, &format!("CMD, {n_moments} moments"));
    }
    // Different distributions score higher than two samples of the same one.
    let same = cmd(&random_rows(3, 700, 24), &real, 5).unwrap().unwrap();
    let shifted = Embeddings::from_rows_normalised(
        24,
        &real.rows().map(|row| row.iter().map(|x| x + 0.2).collect::<Vec<f32>>()).collect::<Vec<_>>(),
    )
    .unwrap();
    assert!(cmd(&synthetic, &shifted, 5).unwrap().unwrap() > same);
}

#[test]
fn cmd_of_an_empty_set_is_none() {
    let one = Embeddings::from_flat(2, vec![1.0, 0.0]).unwrap();
    assert_eq!(cmd(&Embeddings::new(2), &one, 5).unwrap(), None);
    assert_eq!(cmd(&one, &Embeddings::new(2), 5).unwrap(), None);
    // A single row on each side is fine: no spread, only the means differ.
    assert_close(
        cmd(&one, &Embeddings::from_flat(2, vec![0.0, 1.0]).unwrap(), 5).unwrap(),
        2f64.sqrt() / 2.0,
        1e-12,
        "one row each",
    );
}

#[test]
fn cmd_and_top_k_refuse_mixed_dimensions_and_no_moments() {
    let two = Embeddings::from_flat(2, vec![1.0, 0.0]).unwrap();
    let three = Embeddings::from_flat(3, vec![1.0, 0.0, 0.0]).unwrap();
    assert_eq!(cmd(&two, &three, 5), Err(EvalError::DimensionMismatch { synthetic: 2, real: 3 }));
    assert_eq!(top_k_similarity(&three, &two, 5), Err(EvalError::DimensionMismatch { synthetic: 2, real: 3 }));
    assert_eq!(cmd(&two, &two, 0), Err(EvalError::NoMoments));
}

#[test]
fn remote_clique_matches_hand_computation() {
    // Mean distance to the others: a (1 + 0.4)/2 = 0.7, b (1 + 0.2)/2 = 0.6, c (0.4 + 0.2)/2 = 0.3;
    // mean 1.6/3.
    assert_close(remote_clique(&three_rows()), 1.6 / 3.0, 1e-7, "remote-clique");
    // Two identical rows are at distance 0.
    assert_close(remote_clique(&Embeddings::from_flat(2, vec![0.6, 0.8, 0.6, 0.8]).unwrap()), 0.0, 1e-7, "copies");
}

#[test]
fn remote_clique_matches_brute_force() {
    let embeddings = random_rows(4, 301, 16);
    let n_rows = embeddings.len();
    let expected = (0..n_rows)
        .map(|i| {
            (0..n_rows).filter(|&j| j != i).map(|j| 1.0 - dot(embeddings.row(i), embeddings.row(j))).sum::<f64>()
                / (n_rows - 1) as f64
        })
        .sum::<f64>()
        / n_rows as f64;
    assert_close(remote_clique(&embeddings), expected, 1e-10, "remote-clique");
}

#[test]
fn chamfer_matches_hand_computation() {
    // Nearest other row: a -> c at 0.4, b -> c at 0.2, c -> b at 0.2; mean 0.8/3.
    assert_close(chamfer(&three_rows(), 10, 0), 0.8 / 3.0, 1e-7, "chamfer");
    // A duplicate is its copy's nearest neighbour at distance 0; only the row itself is skipped.
    // a, a, b: 0, 0 and 1 (b to a); mean 1/3.
    let with_copy = Embeddings::from_flat(2, vec![1.0, 0.0, 1.0, 0.0, 0.0, 1.0]).unwrap();
    assert_close(chamfer(&with_copy, 10, 0), 1.0 / 3.0, 1e-7, "chamfer with a copy");
}

/// Mean over `queries` of the distance to the nearest other row, by a full scan per query.
fn chamfer_brute_force(embeddings: &Embeddings, queries: &[usize]) -> f64 {
    let nearest = |i: usize| {
        (0..embeddings.len())
            .filter(|&j| j != i)
            .map(|j| 1.0 - dot(embeddings.row(i), embeddings.row(j)))
            .fold(f64::INFINITY, f64::min)
    };
    queries.iter().map(|&i| nearest(i)).sum::<f64>() / queries.len() as f64
}

#[test]
fn chamfer_matches_brute_force_over_several_tiles() {
    // More rows than one query block and one key block, so tiles are cut both ways.
    let n_rows = KEY_BLOCK + QUERY_BLOCK + 37;
    let embeddings = random_rows(5, n_rows, 12);
    let all: Vec<usize> = (0..n_rows).collect();
    let expected = chamfer_brute_force(&embeddings, &all);
    assert_close(chamfer(&embeddings, n_rows, 0), expected, 1e-6, "chamfer, all rows");
    assert_close(chamfer(&embeddings, usize::MAX, 9), expected, 1e-6, "chamfer, max_queries above n");
    assert_eq!(chamfer_n_queries(n_rows, usize::MAX), n_rows);

    // A sample: the same seeded rows as the brute force, still searched against every row.
    let sampled = sample_indices(n_rows, 300, 7);
    assert_eq!(sampled.len(), 300);
    assert!(sampled.windows(2).all(|pair| pair[0] < pair[1]), "distinct and sorted");
    assert_close(chamfer(&embeddings, 300, 7), chamfer_brute_force(&embeddings, &sampled), 1e-6, "sampled chamfer");
    assert_eq!(chamfer(&embeddings, 300, 7), chamfer(&embeddings, 300, 7), "same seed, same sample");
    assert_ne!(chamfer(&embeddings, 300, 7), chamfer(&embeddings, 300, 8), "another seed, another sample");
    assert_eq!(chamfer_n_queries(n_rows, 300), 300);
}

#[test]
fn chamfer_and_remote_clique_need_two_rows() {
    let one = Embeddings::from_flat(2, vec![1.0, 0.0]).unwrap();
    for embeddings in [Embeddings::new(2), one] {
        assert_eq!(remote_clique(&embeddings), None);
        assert_eq!(chamfer(&embeddings, 10, 0), None);
        assert_eq!(chamfer_n_queries(embeddings.len(), 10), 0);
    }
    assert_eq!(chamfer(&three_rows(), 0, 0), None, "no queries");
    assert_eq!(chamfer_n_queries(3, 0), 0);
}

#[test]
fn top_k_similarity_matches_hand_computation() {
    // Synthetic (1, 0), (0, 1), (0.6, 0.8), (-1, 0).
    // Real (1, 0): similarities 1, 0, 0.6, -1; top 2 = 1, 0.6, mean 0.8.
    // Real (0, 1): similarities 0, 1, 0.8, 0; top 2 = 1, 0.8, mean 0.9. Average 0.85.
    let synthetic = Embeddings::from_flat(2, vec![1.0, 0.0, 0.0, 1.0, 0.6, 0.8, -1.0, 0.0]).unwrap();
    let real = Embeddings::from_flat(2, vec![1.0, 0.0, 0.0, 1.0]).unwrap();
    assert_close(top_k_similarity(&real, &synthetic, 2).unwrap(), 0.85, 1e-7, "top-2");
    // Top 1: 1 and 1.
    assert_close(top_k_similarity(&real, &synthetic, 1).unwrap(), 1.0, 1e-7, "top-1");
    // k above the 4 synthetic rows averages all of them: (1 + 0 + 0.6 - 1)/4 = 0.15 and
    // (0 + 1 + 0.8 + 0)/4 = 0.45; average 0.3.
    assert_close(top_k_similarity(&real, &synthetic, 5).unwrap(), 0.3, 1e-7, "top-5 of 4");
}

#[test]
fn top_k_similarity_matches_brute_force_over_several_tiles() {
    let real = random_rows(6, QUERY_BLOCK + 44, 12);
    let synthetic = random_rows(7, KEY_BLOCK + 150, 12);
    for k in [1, 5, 13] {
        let expected = real
            .rows()
            .map(|real_row| {
                let mut similarities: Vec<f64> = synthetic.rows().map(|row| dot(real_row, row)).collect();
                similarities.sort_by(|a, b| b.total_cmp(a));
                similarities[..k].iter().sum::<f64>() / k as f64
            })
            .sum::<f64>()
            / real.len() as f64;
        assert_close(top_k_similarity(&real, &synthetic, k).unwrap(), expected, 1e-6, &format!("top-{k}"));
    }
}

#[test]
fn top_k_similarity_of_nothing_is_none() {
    let one = Embeddings::from_flat(2, vec![1.0, 0.0]).unwrap();
    assert_eq!(top_k_similarity(&Embeddings::new(2), &one, 5).unwrap(), None);
    assert_eq!(top_k_similarity(&one, &Embeddings::new(2), 5).unwrap(), None);
    assert_eq!(top_k_similarity(&one, &one, 0).unwrap(), None);
    assert_close(top_k_similarity(&one, &one, 5).unwrap(), 1.0, 1e-7, "single row each");
}

fn two_label_probe() -> Probe {
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let mut rows = Vec::new();
    let mut labels = Vec::new();
    for row_idx in 0..40 {
        let label_idx = row_idx % 2;
        let noise = 0.1 * gaussian(&mut rng);
        rows.push(if label_idx == 0 { [1.0, noise] } else { [noise, 1.0] });
        labels.push(label_idx);
    }
    Probe::train(&Embeddings::from_rows_normalised(2, &rows).unwrap(), &labels, 2, &ProbeConfig::standard()).unwrap()
}

#[test]
fn label_faithfulness_matches_hand_computation() {
    let probe = two_label_probe();
    // The probe separates the two axes. Rows 0, 2 and 3 carry the label of their axis, row 1 does
    // not: 3 of 4 agree.
    let synthetic = Embeddings::from_rows_normalised(2, &[[1.0, 0.0], [0.0, 1.0], [0.9, 0.1], [0.1, 0.9]]).unwrap();
    assert_eq!(label_faithfulness(&probe, &synthetic, &[0, 0, 0, 1]).unwrap(), 0.75);
    assert_eq!(label_faithfulness(&probe, &synthetic, &[0, 1, 0, 1]).unwrap(), 1.0);
    assert_eq!(label_faithfulness(&probe, &synthetic, &[1, 0, 1, 0]).unwrap(), 0.0);
    assert_eq!(label_faithfulness(&probe, &Embeddings::new(2), &[]).unwrap(), 0.0);
}

#[test]
fn label_faithfulness_refuses_unknown_labels_other_lengths_and_dimensions() {
    let probe = two_label_probe();
    let one = Embeddings::from_flat(2, vec![1.0, 0.0]).unwrap();
    let unknown = EvalError::LabelOutOfRange { row_idx: 0, label_idx: 2, n_labels: 2 };
    assert_eq!(label_faithfulness(&probe, &one, &[2]), Err(unknown));
    assert_eq!(
        label_faithfulness(&probe, &one, &[0, 1]),
        Err(EvalError::LengthMismatch { n_rows: 1, n_row_labels: 2 })
    );
    let three = Embeddings::from_flat(3, vec![1.0, 0.0, 0.0]).unwrap();
    assert_eq!(label_faithfulness(&probe, &three, &[0]), Err(EvalError::DimensionMismatch { synthetic: 3, real: 2 }));
}

#[test]
fn tile_helpers_find_maxima_and_keep_the_top_in_order() {
    assert_eq!(super::max_of(&[]), f32::NEG_INFINITY);
    let values: Vec<f32> = (0..21).map(|x| ((x * 7) % 19) as f32).collect();
    assert_eq!(super::max_of(&values), 18.0);
    assert_eq!(super::max_of(&values[..3]), 14.0);
    let mut top = [f32::NEG_INFINITY; 3];
    for value in [0.5, 0.1, 0.9, 0.7, 0.2, 0.9] {
        if value > top[2] {
            super::insert_descending(&mut top, value);
        }
    }
    assert_eq!(top, [0.9, 0.9, 0.7]);
}
