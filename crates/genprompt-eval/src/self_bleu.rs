//! Self-BLEU (Zhu et al. 2018, Texygen): how much each text repeats the others, as BLEU-4 against
//! all other texts of the set.
//!
//! Scoring each of `h` hypotheses against `n` references naively costs `h * n` text comparisons.
//! Instead, for every n-gram that occurs in some hypothesis, one pass over all texts records its
//! largest count in any text, the text holding it, and the second-largest count. The clipping
//! count "largest count in any text other than the hypothesis" is then O(1): the second-largest if
//! the hypothesis itself holds the largest, the largest otherwise. Total cost O(tokens) hash
//! lookups plus O(hypothesis n-grams) memory; n-grams absent from every hypothesis are never
//! stored.

use std::collections::HashMap;

use crate::rng::sample_indices;
use crate::text_stats::{Corpus, FxBuild};

/// Highest n-gram order, with uniform weights 1/4.
const MAX_ORDER: usize = 4;
/// NLTK's `SmoothingFunction().method1` epsilon.
const SMOOTHING_EPSILON: f64 = 0.1;

/// An n-gram of token ids, padded with `u32::MAX` (never a token id) after its `n` tokens.
type Ngram = [u32; MAX_ORDER];

/// Self-BLEU of `texts`: the mean BLEU-4 of a sample of `n_hypotheses` texts (uniform without
/// replacement, drawn with `rng_seed`; every text when there are no more than `n_hypotheses`),
/// each scored against all the other texts as references. Higher = more repetitive, less diverse
/// (1 would be a set of copies).
///
/// Each hypothesis gets sentence BLEU as NLTK's `sentence_bleu` computes it with
/// `SmoothingFunction().method1`, the setting of Texygen's self-BLEU: tokens from
/// [`crate::tokenize`]; modified precision per order n = 1..4, each n-gram count clipped by its
/// largest count in any single other text, over `max(1, hypothesis n-grams)`; a precision whose
/// clipped count is 0 becomes `0.1 / max(1, hypothesis n-grams)`; geometric mean with weights 1/4;
/// brevity penalty `exp(1 - r / c)` when the hypothesis length `c` is not above `r`, the other
/// text length closest to `c` (the shorter one on a tie); and a score of 0 when no unigram matches
/// (so for an empty hypothesis).
///
/// `None` with fewer than 2 texts or `n_hypotheses == 0`.
pub fn self_bleu(texts: &[&str], n_hypotheses: usize, rng_seed: u64) -> Option<f64> {
    corpus_self_bleu(&Corpus::new(texts), n_hypotheses, rng_seed)
}

/// How many texts [`self_bleu`] averages over for `n_texts` texts; 0 when it returns `None`.
pub fn self_bleu_n_hypotheses(n_texts: usize, n_hypotheses: usize) -> usize {
    if n_texts < 2 { 0 } else { n_texts.min(n_hypotheses) }
}

pub(crate) fn corpus_self_bleu(corpus: &Corpus, n_hypotheses: usize, rng_seed: u64) -> Option<f64> {
    let n_texts = corpus.n_texts();
    if self_bleu_n_hypotheses(n_texts, n_hypotheses) == 0 {
        return None;
    }
    let hypotheses = sample_indices(n_texts, n_hypotheses, rng_seed);

    let mut reference_counts: HashMap<Ngram, ReferenceCounts, FxBuild> = HashMap::default();
    for &text_idx in &hypotheses {
        for_each_ngram(corpus.text(text_idx), |ngram| {
            reference_counts.entry(ngram).or_insert(ReferenceCounts::NONE);
        });
    }
    let mut present = Vec::new();
    for (text_idx, text) in corpus.texts().enumerate() {
        present.clear();
        for_each_ngram(text, |ngram| {
            if reference_counts.contains_key(&ngram) {
                present.push(ngram);
            }
        });
        present.sort_unstable();
        for run in present.chunk_by(|a, b| a == b) {
            let counts = reference_counts.get_mut(&run[0]).expect("present n-grams are tracked; this is a bug");
            counts.record(text_idx, run.len());
        }
    }

    let mut sorted_lengths: Vec<usize> = corpus.texts().map(<[u32]>::len).collect();
    sorted_lengths.sort_unstable();
    let total: f64 = hypotheses
        .iter()
        .map(|&text_idx| sentence_bleu(corpus.text(text_idx), text_idx, &reference_counts, &sorted_lengths))
        .sum();
    Some(total / hypotheses.len() as f64)
}

/// The largest and second-largest count of one n-gram over the texts, and which text holds the
/// largest.
#[derive(Clone, Copy)]
struct ReferenceCounts {
    largest: usize,
    largest_text: usize,
    second: usize,
}

impl ReferenceCounts {
    const NONE: ReferenceCounts = ReferenceCounts { largest: 0, largest_text: usize::MAX, second: 0 };

    /// Called at most once per text.
    fn record(&mut self, text_idx: usize, count: usize) {
        if count > self.largest {
            self.second = self.largest;
            self.largest = count;
            self.largest_text = text_idx;
        } else if count > self.second {
            self.second = count;
        }
    }

    /// The largest count in any text other than `text_idx`.
    fn largest_excluding(&self, text_idx: usize) -> usize {
        if self.largest_text == text_idx { self.second } else { self.largest }
    }
}

fn for_each_ngram(text: &[u32], mut visit: impl FnMut(Ngram)) {
    for order in 1..=MAX_ORDER {
        for window in text.windows(order) {
            visit(pad(window));
        }
    }
}

fn pad(window: &[u32]) -> Ngram {
    let mut ngram = [u32::MAX; MAX_ORDER];
    ngram[..window.len()].copy_from_slice(window);
    ngram
}

fn sentence_bleu(
    hypothesis: &[u32],
    text_idx: usize,
    reference_counts: &HashMap<Ngram, ReferenceCounts, FxBuild>,
    sorted_lengths: &[usize],
) -> f64 {
    let mut log_precision = 0.0;
    let mut ngrams = Vec::with_capacity(hypothesis.len());
    for order in 1..=MAX_ORDER {
        ngrams.clear();
        ngrams.extend(hypothesis.windows(order).map(pad));
        ngrams.sort_unstable();
        let clipped: usize = ngrams
            .chunk_by(|a, b| a == b)
            .map(|run| {
                let counts = reference_counts.get(&run[0]).expect("hypothesis n-grams are tracked; this is a bug");
                run.len().min(counts.largest_excluding(text_idx))
            })
            .sum();
        if order == 1 && clipped == 0 {
            return 0.0;
        }
        let denominator = ngrams.len().max(1) as f64;
        let precision = if clipped > 0 { clipped as f64 / denominator } else { SMOOTHING_EPSILON / denominator };
        log_precision += precision.ln() / MAX_ORDER as f64;
    }
    brevity_penalty(hypothesis.len(), closest_reference_length(sorted_lengths, hypothesis.len())) * log_precision.exp()
}

/// The length closest to `hyp_len` among `sorted_lengths` minus one entry equal to `hyp_len` (the
/// hypothesis itself), the shorter on a tie, as NLTK's `closest_ref_length`.
fn closest_reference_length(sorted_lengths: &[usize], hyp_len: usize) -> usize {
    let lower = sorted_lengths.partition_point(|&len| len < hyp_len);
    let upper = sorted_lengths.partition_point(|&len| len <= hyp_len);
    debug_assert!(upper > lower, "the hypothesis length is in the list; this is a bug");
    if upper - lower >= 2 {
        return hyp_len;
    }
    let shorter = lower.checked_sub(1).map(|idx| sorted_lengths[idx]);
    let longer = sorted_lengths.get(upper).copied();
    match (shorter, longer) {
        (Some(shorter), Some(longer)) => {
            if hyp_len - shorter <= longer - hyp_len {
                shorter
            } else {
                longer
            }
        }
        (Some(shorter), None) => shorter,
        (None, Some(longer)) => longer,
        (None, None) => unreachable!("self-BLEU needs at least 2 texts; this is a bug"),
    }
}

fn brevity_penalty(hyp_len: usize, reference_len: usize) -> f64 {
    if hyp_len > reference_len {
        1.0
    } else if hyp_len == 0 {
        0.0
    } else {
        (1.0 - reference_len as f64 / hyp_len as f64).exp()
    }
}

#[cfg(test)]
mod tests;
