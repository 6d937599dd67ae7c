//! Approximate most-distant pairs for large pools, for about one pass over the pool per call.
//!
//! Brute force is O(pool²): at a million rows that is 5·10¹¹ dot products per batch. Instead:
//! - Build (on first use, after a bulk load, and whenever the pool has doubled): 32 pivots spread
//!   over a sample (farthest-point traversal from the least typical row), and one pass over the
//!   pool that keeps, per pivot, the rows least and most aligned with it. The least aligned are the
//!   pivot's most distant partners; all these rows are the pool's extreme points, and every pair
//!   among them is scored.
//! - Every call: a scan scores some rows against every member: first the rows added since the last
//!   call, then the unscanned ends of the best known pairs, then extreme rows. It gets the work of
//!   an exact call at `EXACT_MAX_POOL` (8 million dot products), less the build's pass, but always
//!   at least one 32-row pass outside a build. Each scanned row keeps its `PARTNERS` most distant
//!   partners. Every pair that involves an offspring is therefore scored; the approximation
//!   concerns pairs of rows already present at the first build.
//! - The best unused pairs found so far wait in a bounded ordered store; `Active` takes them in
//!   order, `Argmax` takes the best pair ever found.
//!
//! Scores are exact cosines (bit for bit `Embeddings::cosine`); only the choice of which pairs to
//! score is approximate. Memory beyond the pool is O(`STORE` + extremes), independent of its size.

use std::collections::{BTreeSet, HashSet, VecDeque};

use genprompt_embed::Embeddings;

use super::kernel::{LANES, Lowest, Pair, dots, for_each_dots, pack};
use super::{EXACT_MAX_POOL, exact};

/// Pivots: one packed block, so the build's pass costs one 32-row scan.
const PIVOTS: usize = LANES;
/// Rows kept per pivot and side: up to `2 · PIVOTS · EXTREMES` = 2048 extreme rows, whose 2 million
/// pairs are scored at build.
const EXTREMES: usize = 32;
/// More rows added between two calls than this is a bulk load: rebuild rather than scan each
/// (scanning them costs one pass per 32 rows).
const MAX_PENDING: usize = 4 * LANES;
/// Most distant partners kept per scanned row.
const PARTNERS: usize = 64;
/// Known unused pairs kept, best first.
const STORE: usize = 1 << 16;
/// Dot products per call: what an exact call at `EXACT_MAX_POOL` costs.
const BUDGET: usize = EXACT_MAX_POOL * EXACT_MAX_POOL / 2;
/// Rows sampled to choose the pivots.
const SAMPLE: usize = 4096;

pub(crate) struct FarIndex {
    /// The pivots of the last build, packed for `dots`.
    pivots: Vec<f32>,
    /// Per pivot `k`, the `EXTREMES` rows least aligned with it (list `2k`, by cosine) and most
    /// aligned (list `2k + 1`, by negated cosine), ascending by (value, row).
    extremes: Vec<Vec<(f32, usize)>>,
    /// Per list, the value a row must not exceed to enter it: a plain comparison rejects most rows.
    limits: Vec<f32>,
    /// Rows `0..n_seen` have been entered into the extreme lists; later ones are new.
    n_seen: usize,
    /// Pool size at the build: past twice that, pivots and extremes are stale.
    n_built: usize,
    /// New rows waiting for their scan, oldest first.
    pending: VecDeque<usize>,
    /// Rows whose partners over the whole pool are known.
    scanned: HashSet<usize>,
    /// The best known unused pairs.
    store: BTreeSet<Pair>,
    /// The most distant pair ever scored, used or not.
    best: Option<Pair>,
}

impl FarIndex {
    /// Brings the index up to date with the pool, runs this call's scan, and returns the `n` best
    /// known pairs not in `used` (`Active`), or the best pair ever found (`skip_used == false`).
    pub(super) fn select(
        slot: &mut Option<FarIndex>,
        embeddings: &Embeddings,
        used: &HashSet<(usize, usize)>,
        n: usize,
        skip_used: bool,
    ) -> Vec<Pair> {
        let len = embeddings.len();
        let index = slot.get_or_insert_with(FarIndex::empty);
        if index.n_seen > 0 && len - index.n_seen <= MAX_PENDING {
            index.catch_up(embeddings);
        }
        let mut budget = BUDGET.max(LANES * len);
        if index.n_seen < len || len >= 2 * index.n_built {
            index.refresh(embeddings, used);
            budget -= LANES * len;
        }
        let rows = budget / len / LANES * LANES;
        if rows > 0 {
            let targets = index.scan_targets(rows, used);
            index.scan(embeddings, used, &targets);
        }
        if skip_used { index.take_unused(n, used) } else { index.best.into_iter().collect() }
    }

    /// Makes a released pair selectable again.
    pub(crate) fn release(&mut self, embeddings: &Embeddings, first: usize, second: usize) {
        if second < self.n_seen {
            self.offer(Pair::new(embeddings.cosine(first, second), first, second), &HashSet::new());
        }
    }

    fn empty() -> FarIndex {
        FarIndex {
            pivots: Vec::new(),
            extremes: Vec::new(),
            limits: Vec::new(),
            n_seen: 0,
            n_built: 0,
            pending: VecDeque::new(),
            scanned: HashSet::new(),
            store: BTreeSet::new(),
            best: None,
        }
    }

    /// The build: new pivots and extremes, every pair of extreme rows scored. Known pairs and
    /// scanned rows stay valid (scores are exact, and a row added after a scan was scanned
    /// itself), so they are kept.
    fn refresh(&mut self, embeddings: &Embeddings, used: &HashSet<(usize, usize)>) {
        let (flat, dim) = (embeddings.as_flat(), embeddings.dim());
        let pivots = pivots(embeddings);
        self.pivots = pack(flat, dim, &pivots);
        self.extremes = (0..2 * pivots.len()).map(|_| Vec::with_capacity(EXTREMES + 1)).collect();
        self.limits = vec![f32::INFINITY; 2 * pivots.len()];
        let (extremes, limits) = (&mut self.extremes, &mut self.limits);
        for_each_dots(flat, dim, &self.pivots, 0..embeddings.len(), |row, _, cosines| {
            enter(extremes, limits, row, cosines)
        });
        (self.n_seen, self.n_built) = (embeddings.len(), embeddings.len());
        // The pass scanned the pivots: their most distant partners, the rows least aligned with
        // them, are extreme rows, so the pairs below include them.
        self.scanned.extend(pivots);
        let mut ends: Vec<usize> = self.extremes.iter().flatten().map(|&(_, row)| row).collect();
        ends.sort_unstable();
        ends.dedup();
        let subset = Embeddings::from_flat(dim, ends.iter().flat_map(|&row| embeddings.row(row)).copied().collect())
            .expect("invariant: whole rows of a matrix of dimension `dim`");
        for pair in exact::most_distant_pairs(&subset, STORE, None) {
            self.offer(Pair::new(pair.cos, ends[pair.first], ends[pair.second]), used);
        }
    }

    fn catch_up(&mut self, embeddings: &Embeddings) {
        for row in self.n_seen..embeddings.len() {
            enter(&mut self.extremes, &mut self.limits, row, &dots(embeddings.row(row), &self.pivots));
            self.pending.push_back(row);
        }
        self.n_seen = embeddings.len();
    }

    /// All new rows, then the unscanned ends of the best known pairs, then extreme rows: `rows` at
    /// least.
    fn scan_targets(&mut self, rows: usize, used: &HashSet<(usize, usize)>) -> Vec<usize> {
        let mut targets: Vec<usize> = self.pending.drain(..).collect();
        let mut chosen: HashSet<usize> = targets.iter().copied().collect();
        let wanted = rows.max(targets.len());
        let ends = self.store.iter().filter(|pair| !used.contains(&pair.key())).flat_map(|p| [p.first, p.second]);
        let extremes = self.extremes.iter().flatten().map(|&(_, row)| row);
        for row in ends.chain(extremes) {
            if targets.len() == wanted {
                break;
            }
            if !self.scanned.contains(&row) && chosen.insert(row) {
                targets.push(row);
            }
        }
        targets
    }

    /// One pass over the pool: the `PARTNERS` most distant partners of every target.
    fn scan(&mut self, embeddings: &Embeddings, used: &HashSet<(usize, usize)>, targets: &[usize]) {
        let dim = embeddings.dim();
        let packed = pack(embeddings.as_flat(), dim, targets);
        let mut partners: Vec<Lowest> = targets.iter().map(|_| Lowest::new(PARTNERS)).collect();
        // Per target, the cosine a partner must beat: a plain comparison rejects almost every row.
        let mut limits = vec![f32::INFINITY; targets.len()];
        for_each_dots(embeddings.as_flat(), dim, &packed, 0..embeddings.len(), |row, block_idx, cosines| {
            for (lane, &cos) in cosines.iter().enumerate() {
                let slot = block_idx * LANES + lane;
                if slot < targets.len() && cos <= limits[slot] && targets[slot] != row {
                    partners[slot].offer(Pair::new(cos, row, targets[slot]));
                    limits[slot] = partners[slot].limit();
                }
            }
        });
        for (&target, list) in targets.iter().zip(partners) {
            self.scanned.insert(target);
            for pair in list.into_sorted() {
                self.offer(pair, used);
            }
        }
    }

    fn offer(&mut self, pair: Pair, used: &HashSet<(usize, usize)>) {
        if self.best.is_none_or(|best| pair < best) {
            self.best = Some(pair);
        }
        let full = self.store.len() >= STORE;
        if used.contains(&pair.key()) || full && self.store.last().is_some_and(|last| pair > *last) {
            return;
        }
        if self.store.insert(pair) && full {
            self.store.pop_last();
        }
    }

    /// Removes and returns the `n` best stored pairs not in `used`.
    fn take_unused(&mut self, n: usize, used: &HashSet<(usize, usize)>) -> Vec<Pair> {
        let mut taken = Vec::with_capacity(n);
        while taken.len() < n
            && let Some(pair) = self.store.pop_first()
        {
            if !used.contains(&pair.key()) {
                taken.push(pair);
            }
        }
        taken
    }
}

/// Enters `row`, with its cosines to the pivots, into the extreme lists it belongs to.
fn enter(extremes: &mut [Vec<(f32, usize)>], limits: &mut [f32], row: usize, cosines: &[f32; LANES]) {
    for (pivot, &cos) in cosines.iter().enumerate().take(extremes.len() / 2) {
        for (idx, value) in [(2 * pivot, cos), (2 * pivot + 1, -cos)] {
            if value > limits[idx] {
                continue;
            }
            let list = &mut extremes[idx];
            let at = list.partition_point(|&(v, r)| v.total_cmp(&value).then(r.cmp(&row)).is_lt());
            list.insert(at, (value, row));
            list.truncate(EXTREMES);
            if list.len() == EXTREMES {
                limits[idx] = list[EXTREMES - 1].0;
            }
        }
    }
}

/// `PIVOTS` rows of an evenly spaced sample, spread over the pool: the least typical one (lowest
/// cosine with the sample's mean), then each time the row whose highest cosine with the pivots so
/// far is lowest (farthest-point traversal), ties to the lower index.
fn pivots(embeddings: &Embeddings) -> Vec<usize> {
    let step = embeddings.len().div_ceil(SAMPLE).max(1);
    let sample: Vec<usize> = (0..embeddings.len()).step_by(step).collect();
    let mut mean = vec![0.0f32; embeddings.dim()];
    for &row in &sample {
        mean.iter_mut().zip(embeddings.row(row)).for_each(|(m, x)| *m += x);
    }
    let typicality: Vec<f32> = sample.iter().map(|&row| genprompt_embed::dot(embeddings.row(row), &mean)).collect();
    let mut closest = vec![f32::NEG_INFINITY; sample.len()];
    let mut next = argmin(&typicality);
    let mut pivots = Vec::with_capacity(PIVOTS);
    while pivots.len() < PIVOTS.min(sample.len()) {
        pivots.push(sample[next]);
        closest[next] = f32::INFINITY;
        for (slot, &row) in sample.iter().enumerate() {
            closest[slot] = closest[slot].max(embeddings.cosine(row, sample[next]));
        }
        next = argmin(&closest);
    }
    pivots
}

fn argmin(values: &[f32]) -> usize {
    (0..values.len()).min_by(|&a, &b| values[a].total_cmp(&values[b]).then(a.cmp(&b))).unwrap_or(0)
}
