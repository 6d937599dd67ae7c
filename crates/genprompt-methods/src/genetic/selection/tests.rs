use std::collections::HashSet;

use genprompt_core::{RngStream, rng_for};
use genprompt_embed::Embeddings;
use rand::Rng;

use super::*;
use crate::genetic::Member;

fn random_pool(n_members: usize, dim: usize, rng_seed: u64) -> Pool {
    let mut rng = rng_for(rng_seed, RngStream::Other(99));
    let rows: Vec<Vec<f32>> =
        (0..n_members).map(|_| (0..dim).map(|_| rng.random_range(-1.0f32..1.0)).collect()).collect();
    let members = (0..n_members).map(|idx| Member { id: format!("m{idx}"), text: format!("t{idx}") }).collect();
    Pool::new(members, Embeddings::from_rows_normalised(dim, &rows).unwrap()).unwrap()
}

/// The reference algorithm of the paper's code: rebuild the dense distance matrix, mask used
/// pairs, take the global argmax, record it; one pair per call.
fn brute_force_active(pool: &Pool, used: &mut HashSet<(usize, usize)>) -> Option<(usize, usize)> {
    let n = pool.len();
    let mut distance = vec![vec![f32::NEG_INFINITY; n]; n];
    for (i, row) in distance.iter_mut().enumerate() {
        for (j, cell) in row.iter_mut().enumerate() {
            if i != j && !used.contains(&(i.min(j), i.max(j))) {
                *cell = 1.0 - pool.embeddings().cosine(i, j);
            }
        }
    }
    let mut best: Option<(f32, usize, usize)> = None;
    for (i, row) in distance.iter().enumerate() {
        for (j, &d) in row.iter().enumerate().skip(i + 1) {
            if d.is_finite() && best.is_none_or(|(b, _, _)| d > b) {
                best = Some((d, i, j));
            }
        }
    }
    let (_, i, j) = best?;
    used.insert((i, j));
    Some((i, j))
}

#[test]
fn active_matches_brute_force_over_many_batches() {
    for rng_seed in 0..5 {
        let mut pool = random_pool(23, 16, rng_seed);
        let mut used = HashSet::new();
        let mut rng = rng_for(rng_seed, RngStream::Other(1));
        for batch in 0..12 {
            let chosen = select_parents(&mut pool, ParentSelection::Active, 7, &mut rng);
            let expected: Vec<(usize, usize)> = (0..7).filter_map(|_| brute_force_active(&pool, &mut used)).collect();
            let got: Vec<(usize, usize)> = chosen.iter().map(|p| (p.first(), p.second())).collect();
            assert_eq!(got, expected, "seed {rng_seed}, batch {batch}");
        }
    }
}

#[test]
fn active_never_reuses_a_pair_and_runs_out_cleanly() {
    let mut pool = random_pool(6, 8, 3);
    let mut rng = rng_for(3, RngStream::Other(1));
    let mut seen = HashSet::new();
    loop {
        let chosen = select_parents(&mut pool, ParentSelection::Active, 4, &mut rng);
        if chosen.is_empty() {
            break;
        }
        for parents in chosen {
            assert_ne!(parents.first(), parents.second());
            assert!(seen.insert((parents.first(), parents.second())), "pair reused");
        }
    }
    assert_eq!(seen.len(), 6 * 5 / 2, "every pair is used exactly once");
}

#[test]
fn active_sees_members_added_after_a_batch() {
    let mut pool = random_pool(4, 2, 0);
    let mut rng = rng_for(0, RngStream::Other(1));
    select_parents(&mut pool, ParentSelection::Active, 6, &mut rng);
    let opposite =
        Embeddings::from_rows_normalised(2, &[[-pool.embeddings().row(0)[0], -pool.embeddings().row(0)[1]]]).unwrap();
    pool.add(vec![Member { id: "new".into(), text: "new".into() }], &opposite).unwrap();
    let chosen = select_parents(&mut pool, ParentSelection::Active, 1, &mut rng);
    assert_eq!((chosen[0].first(), chosen[0].second()), (0, 4), "the exact opposite of member 0 is the most distant");
}

#[test]
fn argmax_repeats_the_global_most_distant_pair() {
    let mut pool = random_pool(10, 8, 1);
    let mut rng = rng_for(1, RngStream::Other(1));
    let chosen = select_parents(&mut pool, ParentSelection::Argmax, 5, &mut rng);
    let mut used = HashSet::new();
    let best = brute_force_active(&pool, &mut used).unwrap();
    assert_eq!(chosen.len(), 5);
    assert!(chosen.iter().all(|p| (p.first(), p.second()) == best));
}

#[test]
fn random_parents_are_distinct_and_seeded() {
    let mut pool = random_pool(3, 4, 2);
    let draw = |pool: &mut Pool| {
        let mut rng = rng_for(5, RngStream::Parents { label: 0, batch: 0 });
        select_parents(pool, ParentSelection::Random, 50, &mut rng)
    };
    let a = draw(&mut pool);
    assert_eq!(a, draw(&mut pool));
    assert!(a.iter().all(|p| p.first() != p.second() && p.first() < 3 && p.second() < 3));
}

#[test]
fn tiny_pools_give_no_parents() {
    let mut pool = random_pool(1, 4, 2);
    let mut rng = rng_for(0, RngStream::Other(1));
    assert!(select_parents(&mut pool, ParentSelection::Active, 3, &mut rng).is_empty());
}
