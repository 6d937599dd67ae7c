//! `selection`: Genetic Prompt parent selection (`Active`, batches of 20 pairs) on pools of 384-d
//! unit vectors, against the dense n x n matrix of the paper's code, in the same run.
//!
//! - Speed and memory from 3996 to 4096 members (the exact path throughout), at 10k, 100k and 1M:
//!   the first batch (including the index build), then steady-state batches, each after adding 20
//!   rows, with peak resident memory (VmHWM, reset per case through /proc/self/clear_refs).
//! - Reference: the paper's code fills a dense n x n distance matrix and takes a masked argmax per
//!   pair, rebuilding the matrix when the pool grows. It runs at 10k (400 MB); beyond, its cost is
//!   extrapolated (n²), since the matrix alone would need 40 GB at 100k and 4 TB at 1M.
//! - Quality at 10k and 50k, where every pair can be scored: the chosen pairs' cosine distance
//!   over that of the best pair still available, rank by rank (ratio), the share of the gap
//!   between a random pair and that best pair which the choice closes, and the share of the exact
//!   best 20 available pairs that were chosen (recall), over 5 batches with 20 rows added between
//!   them; also on a pool grown from 4097 to 10k members by such batches, as in a generation run.
//!   `GENPROMPT_BENCH_EMBEDDINGS=file.jsonl` (rows with an `embedding`, as written by
//!   `genprompt embed`) adds the same check on real sentence embeddings (10k and all rows).

use std::collections::{BinaryHeap, HashSet};
use std::time::Instant;

use genprompt_core::{RngStream, rng_for};
use genprompt_embed::Embeddings;
use genprompt_methods::{Member, ParentSelection, Pool, select_parents};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const DIM: usize = 384;
const BATCH: usize = 20;
const BATCHES: usize = 5;
const LANES: usize = 16;

/// Runs every part and prints the tables.
pub fn run() {
    println!("parent selection, Active, {BATCH} pairs per batch, {DIM}-d unit vectors");
    println!(
        "\n{:>9} {:<10} {:>8} {:>12} {:>14} {:>12} {:>9}",
        "pool", "shape", "pool MB", "first batch", "steady median", "steady max", "peak MB"
    );
    for (n, shape) in [
        // 3996 + 5 batches of 20 rows ends at 4096: every batch on the exact path.
        (3996, Shape::Isotropic),
        (10_000, Shape::Isotropic),
        (100_000, Shape::Isotropic),
        (1_000_000, Shape::Isotropic),
        (1_000_000, Shape::Clustered),
    ] {
        speed(n, shape);
    }
    dense_reference(10_000);
    println!("\nquality: chosen distance / best available distance (rank by rank) in the first batch and over all");
    println!(
        "5, the share of the gap between a random pair and the best pair closed, recall of the exact best {BATCH}"
    );
    println!(
        "{:<24} {:>6} {:>11} {:>9} {:>12} {:>13} {:>11}",
        "data", "pool", "first ratio", "min ratio", "first recall", "5-batch ratio", "gap closed"
    );
    for n in [10_000, 50_000] {
        for shape in [Shape::Isotropic, Shape::Clustered] {
            let mut source = Source::new(shape, 11);
            quality(&format!("{shape:?}"), &mut |k| source.rows(k), n, n);
        }
    }
    for shape in [Shape::Isotropic, Shape::Clustered] {
        // The Genetic Prompt loop: the index is built at 4097 members, then 20 rows join per batch.
        let mut source = Source::new(shape, 11);
        quality(&format!("{shape:?}, grown from 4097"), &mut |k| source.rows(k), 4097, 10_000);
    }
    if let Ok(path) = std::env::var("GENPROMPT_BENCH_EMBEDDINGS") {
        let real = read_embeddings(&path);
        let most = real.len().saturating_sub(BATCH * BATCHES);
        for n in [10_000.min(most), most] {
            let mut next = 0;
            let mut take = |k: usize| {
                let rows =
                    Embeddings::from_flat(real.dim(), real.as_flat()[next * real.dim()..][..k * real.dim()].to_vec())
                        .expect("whole rows");
                next += k;
                rows
            };
            quality("real sentence embeddings", &mut take, n, n);
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Shape {
    /// Uniform on the sphere: no structure to exploit, the hardest case for an approximation.
    Isotropic,
    /// A shared mean, 50 cluster centres and noise with a decaying spectrum, like the sentence
    /// embeddings of one label.
    Clustered,
}

struct Source {
    shape: Shape,
    rng: ChaCha8Rng,
    mean: Vec<f32>,
    centres: Vec<Vec<f32>>,
}

impl Source {
    fn new(shape: Shape, seed: u64) -> Source {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mean = (0..DIM).map(|_| gaussian(&mut rng)).collect();
        let centres = (0..50).map(|_| (0..DIM).map(|_| gaussian(&mut rng)).collect()).collect();
        Source { shape, rng, mean, centres }
    }

    /// `n` normalised rows, written straight into one buffer (1.5 GB at 1M: no second copy).
    fn rows(&mut self, n: usize) -> Embeddings {
        let mut data = Vec::with_capacity(n * DIM);
        for _ in 0..n {
            let start = data.len();
            match self.shape {
                Shape::Isotropic => data.extend((0..DIM).map(|_| gaussian(&mut self.rng))),
                Shape::Clustered => {
                    let centre = &self.centres[self.rng.random_range(0..self.centres.len())];
                    for (t, (mean, centre)) in self.mean.iter().zip(centre).enumerate() {
                        let noise = 0.9 * gaussian(&mut self.rng) / (1.0 + t as f32 / 20.0).sqrt();
                        data.push(0.5 * mean + 0.5 * centre + noise);
                    }
                }
            }
            let row = &mut data[start..];
            let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
            row.iter_mut().for_each(|v| *v /= norm);
        }
        Embeddings::from_flat(DIM, data).expect("whole rows of DIM")
    }
}

fn gaussian(rng: &mut impl Rng) -> f32 {
    let (u, v): (f32, f32) = (rng.random_range(f32::EPSILON..1.0), rng.random());
    (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
}

fn pool_of(embeddings: Embeddings) -> Pool {
    Pool::new(members(embeddings.len()), embeddings).expect("one member per embedding")
}

/// Empty texts: the bench measures selection, not the members' strings.
fn members(n: usize) -> Vec<Member> {
    (0..n).map(|_| Member { id: String::new(), text: String::new() }).collect()
}

fn speed(n: usize, shape: Shape) {
    let mut source = Source::new(shape, 7);
    let mut pool = pool_of(source.rows(n));
    let pool_mb = (n * DIM * 4) as f64 / 1e6;
    let peak_reset = reset_peak();
    let mut rng = rng_for(0, RngStream::Other(0));
    let started = Instant::now();
    let first = select_parents(&mut pool, ParentSelection::Active, BATCH, &mut rng);
    let first_s = started.elapsed().as_secs_f64();
    assert_eq!(first.len(), BATCH);
    let mut steady = Vec::new();
    for _ in 0..BATCHES {
        let rows = source.rows(BATCH);
        let started = Instant::now();
        pool.add(members(BATCH), &rows).expect("one member per embedding");
        let chosen = select_parents(&mut pool, ParentSelection::Active, BATCH, &mut rng);
        steady.push(started.elapsed().as_secs_f64());
        assert_eq!(chosen.len(), BATCH);
    }
    steady.sort_by(f64::total_cmp);
    let peak = format!("{:.0}{}", peak_rss_mb(), if peak_reset { "" } else { " (since start)" });
    let shape = format!("{shape:?}");
    let (median, max) = (steady[steady.len() / 2], steady[steady.len() - 1]);
    println!("{n:>9} {shape:<10} {pool_mb:>8.0} {first_s:>11.3}s {median:>13.3}s {max:>11.3}s {peak:>9}");
}

/// The paper's code: a dense distance matrix, a masked argmax per pair.
fn dense_reference(n: usize) {
    let embeddings = Source::new(Shape::Isotropic, 7).rows(n);
    let peak_reset = reset_peak();
    let started = Instant::now();
    let mut distance = vec![f32::NEG_INFINITY; n * n];
    let rows: Vec<usize> = (0..n).collect();
    let packed = pack(&embeddings, &rows);
    for (block_idx, block) in packed.chunks_exact(DIM * LANES).enumerate() {
        for i in 0..(block_idx * LANES + LANES).min(n) {
            for (j, cos) in (block_idx * LANES..n).zip(dots(embeddings.row(i), block)) {
                if j > i {
                    distance[i * n + j] = 1.0 - cos;
                    distance[j * n + i] = 1.0 - cos;
                }
            }
        }
    }
    let matrix_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    for _ in 0..BATCH {
        let (at, _) =
            distance.iter().enumerate().fold((0, f32::NEG_INFINITY), |b, (k, &d)| if d > b.1 { (k, d) } else { b });
        let (i, j) = (at / n, at % n);
        distance[i * n + j] = f32::NEG_INFINITY;
        distance[j * n + i] = f32::NEG_INFINITY;
    }
    let argmax_s = started.elapsed().as_secs_f64();
    let peak = format!("{:.0}{}", peak_rss_mb(), if peak_reset { "" } else { " (since start)" });
    let batch_s = matrix_s + argmax_s;
    println!(
        "\ndense reference (paper's code), isotropic: matrix {matrix_s:.2}s + {BATCH} masked argmax {argmax_s:.2}s"
    );
    println!("{n:>9}: {batch_s:.2}s per batch (the matrix is rebuilt as the pool grows), peak {peak} MB");
    for big in [100_000usize, 1_000_000] {
        let scale = (big as f64 / n as f64).powi(2);
        let gb = (big * big * 4) as f64 / 1e9;
        println!(
            "{big:>9}: cannot run, the matrix alone is {gb:.0} GB; extrapolated {:.0}s per batch",
            batch_s * scale
        );
    }
}

/// Scored pair (cos, first, second), ordered most distant first, ties to lower indices.
type Scored = (OrdF32, usize, usize);

/// A cosine ordered by `total_cmp`.
#[derive(Clone, Copy)]
struct OrdF32(f32);

impl PartialEq for OrdF32 {
    fn eq(&self, other: &OrdF32) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for OrdF32 {}

impl PartialOrd for OrdF32 {
    fn partial_cmp(&self, other: &OrdF32) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for OrdF32 {
    fn cmp(&self, other: &OrdF32) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// Quality over `BATCHES` batches at `n` members, the pool first grown from `start` members by
/// batches of selection plus 20 new rows (the pairs used then stay used).
fn quality(name: &str, rows: &mut dyn FnMut(usize) -> Embeddings, start: usize, n: usize) {
    let mut pool = pool_of(rows(start));
    let mut used = HashSet::new();
    let mut rng = rng_for(0, RngStream::Other(0));
    while pool.len() < n {
        let chosen = select_parents(&mut pool, ParentSelection::Active, BATCH, &mut rng);
        used.extend(chosen.iter().map(|c| (c.first(), c.second())));
        pool.add(members(BATCH), &rows(BATCH)).expect("one member per embedding");
    }
    let n = pool.len();
    let keep = BATCH * (BATCHES + 1) + used.len();
    let started = Instant::now();
    let mut exact = exact_best(pool.embeddings(), keep);
    let exact_s = started.elapsed().as_secs_f64();
    let random = random_pair_distance(pool.embeddings());
    let (mut ratios, mut gaps, mut first) = (Vec::new(), Vec::new(), None);
    for batch in 0..BATCHES {
        if batch > 0 {
            let old = pool.len();
            pool.add(members(BATCH), &rows(BATCH)).expect("one member per embedding");
            let all = pool.embeddings();
            let new_pairs = (old..pool.len()).flat_map(|j| (0..j).map(move |i| (OrdF32(all.cosine(i, j)), i, j)));
            exact = lowest(exact.into_iter().chain(new_pairs), keep);
        }
        let chosen = select_parents(&mut pool, ParentSelection::Active, BATCH, &mut rng);
        let best: Vec<&Scored> = exact.iter().filter(|p| !used.contains(&(p.1, p.2))).take(BATCH).collect();
        let distances = chosen.iter().zip(&best).map(|(c, b)| {
            let chosen = 1.0 - f64::from(pool.embeddings().cosine(c.first(), c.second()));
            (chosen, 1.0 - f64::from(b.0.0))
        });
        let (batch_ratios, batch_gaps): (Vec<f64>, Vec<f64>) =
            distances.map(|(chosen, best)| (chosen / best, (chosen - random) / (best - random))).unzip();
        let hits = chosen.iter().filter(|c| best.iter().any(|b| (b.1, b.2) == (c.first(), c.second()))).count();
        if batch == 0 {
            let min = batch_ratios.iter().copied().fold(f64::INFINITY, f64::min);
            first = Some((mean(&batch_ratios), min, hits));
        }
        ratios.extend(batch_ratios);
        gaps.extend(batch_gaps);
        used.extend(chosen.iter().map(|c| (c.first(), c.second())));
    }
    let (ratio, min, hits) = first.expect("at least one batch");
    let (all, gap) = (mean(&ratios), mean(&gaps));
    println!(
        "{name:<24} {n:>6} {ratio:>11.4} {min:>9.4} {hits:>9}/{BATCH} {all:>13.4} {gap:>11.3}   (exact {exact_s:.0}s)"
    );
}

/// Mean cosine distance of 100,000 pairs drawn at random.
fn random_pair_distance(embeddings: &Embeddings) -> f64 {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let n = embeddings.len();
    let total: f64 = (0..100_000)
        .map(|_| {
            let (a, b) = (rng.random_range(0..n), rng.random_range(0..n - 1));
            1.0 - f64::from(embeddings.cosine(a, if b >= a { b + 1 } else { b }))
        })
        .sum();
    total / 100_000.0
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// The `keep` most distant pairs of all, by brute force on two threads.
fn exact_best(embeddings: &Embeddings, keep: usize) -> Vec<Scored> {
    let n = embeddings.len();
    let packed = pack(embeddings, &(0..n).collect::<Vec<_>>());
    let blocks: Vec<&[f32]> = packed.chunks_exact(DIM * LANES).collect();
    let halves: Vec<Vec<Scored>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..2)
            .map(|half| {
                let blocks = &blocks;
                scope.spawn(move || {
                    let mut best: BinaryHeap<Scored> = BinaryHeap::new();
                    for (block_idx, block) in blocks.iter().enumerate().skip(half).step_by(2) {
                        for i in 0..(block_idx * LANES + LANES).min(n) {
                            for (j, cos) in (block_idx * LANES..n).zip(dots(embeddings.row(i), block)) {
                                if j > i && (best.len() < keep || OrdF32(cos) <= best.peek().expect("full").0) {
                                    best.push((OrdF32(cos), i, j));
                                    if best.len() > keep {
                                        best.pop();
                                    }
                                }
                            }
                        }
                    }
                    best.into_vec()
                })
            })
            .collect();
        workers.into_iter().map(|worker| worker.join().expect("worker")).collect()
    });
    lowest(halves.into_iter().flatten(), keep)
}

fn lowest(pairs: impl Iterator<Item = Scored>, keep: usize) -> Vec<Scored> {
    let mut all: Vec<Scored> = pairs.collect();
    all.sort_unstable();
    all.dedup();
    all.truncate(keep);
    all
}

/// Rows packed t-major in blocks of `LANES`, for `dots`.
fn pack(embeddings: &Embeddings, rows: &[usize]) -> Vec<f32> {
    let mut packed = vec![0.0; rows.len().div_ceil(LANES) * DIM * LANES];
    for (slot, &row) in rows.iter().enumerate() {
        for (t, value) in embeddings.row(row).iter().enumerate() {
            packed[(slot / LANES * DIM + t) * LANES + slot % LANES] = *value;
        }
    }
    packed
}

/// Sixteen dot products at once; each lane sums in the order of `Embeddings::cosine`.
fn dots(row: &[f32], block: &[f32]) -> [f32; LANES] {
    let mut sums = [-0.0f32; LANES];
    for (x, column) in row.iter().zip(block.chunks_exact(LANES)) {
        for (sum, y) in sums.iter_mut().zip(column) {
            *sum += x * y;
        }
    }
    sums
}

fn read_embeddings(path: &str) -> Embeddings {
    let reader = genprompt_data::RowReader::open(std::path::Path::new(path)).expect("embeddings file opens");
    let mut embeddings = Embeddings::new(DIM);
    for item in reader {
        let (_, row) = item.expect("row parses");
        let vector = row.extra.get("embedding").and_then(|v| v.as_array()).expect("row has an embedding");
        let values: Vec<f32> = vector.iter().map(|v| v.as_f64().expect("number") as f32).collect();
        embeddings.push(&values).expect("embeddings of the benchmark's dimension");
    }
    embeddings
}

/// Resets VmHWM to the current resident size (Linux 4.0+); false if the kernel refused.
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Peak resident memory (VmHWM, in kB of 1024 bytes) in MB of 10⁶ bytes, like the pool sizes.
fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let line = status.lines().find(|line| line.starts_with("VmHWM:")).unwrap_or_default();
    line.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()).unwrap_or(0.0) * 1024.0 / 1e6
}
