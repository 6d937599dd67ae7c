//! The large-pool path (`FarIndex`) against exact answers computed by the tested exact path.

use std::collections::HashSet;

use genprompt_core::{RngStream, rng_for};
use genprompt_embed::Embeddings;
use rand::Rng;

use super::kernel::{LANES, dots, for_each_dots, pack};
use super::*;
use crate::genetic::Member;

/// Past the exact threshold, small enough to check by brute force in seconds (fewer rows in
/// unoptimised builds, still on the large path).
const N_MEMBERS: usize = if cfg!(debug_assertions) { EXACT_MAX_POOL + 1000 } else { 20_000 };
const DIM: usize = 32;
const BATCH: usize = 20;
const BATCHES: usize = if cfg!(debug_assertions) { 2 } else { 5 };

/// Tolerance: every chosen pair's cosine distance is at least this share of the distance of the
/// exact best available pair of the same rank. Isotropic data is the worst case (no structure to
/// exploit): measured 0.960 to 0.989 here, where a random pair scores about 0.55.
const MIN_RATIO: f64 = 0.95;

fn rows(n: usize, rng: &mut impl Rng) -> Embeddings {
    let rows: Vec<Vec<f32>> = (0..n).map(|_| (0..DIM).map(|_| rng.random_range(-1.0f32..1.0)).collect()).collect();
    Embeddings::from_rows_normalised(DIM, &rows).unwrap()
}

fn members(n: usize) -> Vec<Member> {
    (0..n).map(|idx| Member { id: format!("m{idx}"), text: String::new() }).collect()
}

fn large_pool(rng_seed: u64) -> (Pool, impl Rng) {
    let mut rng = rng_for(rng_seed, RngStream::Other(7));
    (Pool::new(members(N_MEMBERS), rows(N_MEMBERS, &mut rng)).unwrap(), rng)
}

/// Batches of 20 pairs with 20 rows added before each but the first, as in the Genetic Prompt loop.
fn batches(pool: &mut Pool, mode: ParentSelection, rows_rng: &mut impl Rng) -> Vec<Vec<Parents>> {
    let mut rng = rng_for(0, RngStream::Other(1));
    (0..BATCHES)
        .map(|batch| {
            if batch > 0 {
                pool.add(members(BATCH), &rows(BATCH, rows_rng)).unwrap();
            }
            select_parents(pool, mode, BATCH, &mut rng)
        })
        .collect()
}

#[test]
fn large_pools_never_reuse_a_pair_and_stay_close_to_the_exact_best() {
    let (mut pool, mut rows_rng) = large_pool(1);
    let mut rng = rng_for(0, RngStream::Other(1));
    let mut used = HashSet::new();
    for batch in 0..BATCHES {
        if batch > 0 {
            pool.add(members(BATCH), &rows(BATCH, &mut rows_rng)).unwrap();
        }
        let exact = exact::most_distant_pairs(pool.embeddings(), BATCH, Some(&used));
        let chosen = select_parents(&mut pool, ParentSelection::Active, BATCH, &mut rng);
        assert_eq!(chosen.len(), BATCH);
        for (parents, best) in chosen.iter().zip(&exact) {
            let (first, second) = (parents.first(), parents.second());
            assert!(first < second && second < pool.len(), "batch {batch}: invalid pair {parents:?}");
            assert!(used.insert((first, second)), "batch {batch}: pair {parents:?} reused");
            let distance = 1.0 - f64::from(pool.embeddings().cosine(first, second));
            let ratio = distance / (1.0 - f64::from(best.cos));
            assert!(ratio >= MIN_RATIO, "batch {batch}: {parents:?} at {ratio:.4} of the exact best available");
        }
    }
}

#[test]
fn large_pools_survive_bulk_loads_and_rebuilds() {
    let mut rng = rng_for(6, RngStream::Other(7));
    let mut pool = Pool::new(members(EXACT_MAX_POOL + 100), rows(EXACT_MAX_POOL + 100, &mut rng)).unwrap();
    let mut parents_rng = rng_for(0, RngStream::Other(1));
    let mut used = HashSet::new();
    // A first index, then two bulk loads (more rows than a call scans), the second doubling the
    // pool: each rebuilds the index, which keeps the pairs it knew.
    for added in [0, 500, EXACT_MAX_POOL] {
        pool.add(members(added), &rows(added, &mut rng)).unwrap();
        let exact = exact::most_distant_pairs(pool.embeddings(), BATCH, Some(&used));
        let chosen = select_parents(&mut pool, ParentSelection::Active, BATCH, &mut parents_rng);
        assert_eq!(chosen.len(), BATCH);
        for (parents, best) in chosen.iter().zip(&exact) {
            assert!(used.insert((parents.first(), parents.second())), "pair {parents:?} reused");
            let distance = 1.0 - f64::from(pool.embeddings().cosine(parents.first(), parents.second()));
            assert!(distance / (1.0 - f64::from(best.cos)) >= MIN_RATIO, "{parents:?} after adding {added}");
        }
    }
}

#[test]
fn large_pools_choose_the_same_pairs_for_the_same_inputs() {
    let (mut a, mut rows_a) = large_pool(2);
    let (mut b, mut rows_b) = large_pool(2);
    let chosen = batches(&mut a, ParentSelection::Active, &mut rows_a);
    assert_eq!(chosen, batches(&mut b, ParentSelection::Active, &mut rows_b));
    assert!(chosen.iter().all(|batch| batch.len() == BATCH));
}

#[test]
fn large_pools_release_a_pair_for_the_next_batch() {
    let (mut pool, _) = large_pool(3);
    let mut rng = rng_for(0, RngStream::Other(1));
    let first = select_parents(&mut pool, ParentSelection::Active, BATCH, &mut rng);
    pool.release_pair(first[0]);
    let second = select_parents(&mut pool, ParentSelection::Active, BATCH, &mut rng);
    assert!(second.contains(&first[0]), "the released pair, the best known, is chosen again");
    assert!(first[1..].iter().all(|parents| !second.contains(parents)), "used pairs stay used");
}

#[test]
fn large_pools_argmax_repeats_a_near_best_pair() {
    let (mut pool, mut rows_rng) = large_pool(4);
    let chosen = batches(&mut pool, ParentSelection::Argmax, &mut rows_rng);
    let last = chosen.last().expect("at least one batch");
    assert!(last.iter().all(|parents| parents == &last[0]));
    let best = exact::most_distant_pairs(pool.embeddings(), 1, None)[0];
    let distance = 1.0 - f64::from(pool.embeddings().cosine(last[0].first(), last[0].second()));
    assert!(distance / (1.0 - f64::from(best.cos)) >= MIN_RATIO);
}

#[test]
fn packed_dot_products_equal_cosine_bit_for_bit() {
    let mut rng = rng_for(5, RngStream::Other(7));
    let mut embeddings = rows(LANES + 3, &mut rng);
    embeddings.push(&[0.0; DIM]).unwrap();
    let all: Vec<usize> = (0..embeddings.len()).collect();
    let packed = pack(embeddings.as_flat(), DIM, &all);
    let mut checked = 0;
    // The loop of every bulk scan (AVX where the CPU has it), and the single-row kernel.
    for_each_dots(embeddings.as_flat(), DIM, &packed, 0..embeddings.len(), |first, block_idx, cosines| {
        let block = &packed[block_idx * DIM * LANES..][..DIM * LANES];
        for (second, cos) in (block_idx * LANES..embeddings.len()).zip(cosines) {
            assert_eq!(cos.to_bits(), embeddings.cosine(first, second).to_bits(), "({first}, {second})");
            assert_eq!(cos.to_bits(), dots(embeddings.row(first), block)[second % LANES].to_bits());
            checked += 1;
        }
    });
    assert_eq!(checked, embeddings.len() * embeddings.len());
}
