use std::collections::HashMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::closest_reference_length;
use crate::rng::sample_indices;
use crate::{self_bleu, self_bleu_n_hypotheses, tokenize};

fn assert_close(actual: Option<f64>, expected: f64, what: &str) {
    let actual = actual.unwrap_or_else(|| panic!("{what}: None, expected {expected}"));
    assert!((actual - expected).abs() < 1e-12, "{what}: {actual} != {expected}");
}

#[test]
fn self_bleu_matches_hand_computation() {
    // "a b c d" against {"a b c e", "x y"}: unigrams a, b, c match (3/4); bigrams a-b, b-c (2/3);
    // trigram a-b-c (1/2); the 4-gram does not match, smoothed to 0.1/1. Closest other length 4,
    // so no brevity penalty: BLEU = (3/4 * 2/3 * 1/2 * 1/10)^(1/4) = 0.025^(1/4).
    // "a b c e" is symmetric; "x y" matches no unigram: 0.
    let texts = ["a b c d", "a b c e", "x y"];
    assert_close(self_bleu(&texts, 10, 0), 2.0 * 0.025f64.powf(0.25) / 3.0, "three texts");

    // Brevity penalty. "a b c d" against "a b c d e f": every precision 1, but c = 4 < r = 6, so
    // BLEU = exp(1 - 6/4). "a b c d e f" against "a b c d": 4/6, 3/5, 2/4, 1/3 and c = 6 > r = 4,
    // so BLEU = (24/360)^(1/4) = (1/15)^(1/4).
    let texts = ["a b c d e f", "a b c d"];
    assert_close(self_bleu(&texts, 10, 0), ((-0.5f64).exp() + (1.0f64 / 15.0).powf(0.25)) / 2.0, "brevity");
}

#[test]
fn self_bleu_clips_by_the_largest_count_in_another_text() {
    // "the the the the" holds the largest count of "the" (4) and "the the" (3) itself, so it is
    // clipped by the second largest, from "the the": unigrams 2/4, bigrams 1/3, trigrams 0 of 2 ->
    // 0.1/2, 4-gram 0 of 1 -> 0.1; no brevity penalty (4 > 2): BLEU = (1/2 * 1/3 * 1/20 * 1/10)^(1/4).
    // "the cat": "the" 1/2 (cat never elsewhere), the rest 0.1 each; closest length 2, no penalty:
    // (1/2 * 1/10^3)^(1/4). "the the": clipped by "the the the the": 2/2, 1/1, then no trigram or
    // 4-gram at all, 0.1/max(1, 0) each: (1/100)^(1/4).
    let texts = ["the the the the", "the cat", "the the"];
    let expected = [1.0 / 1200.0, 1.0 / 2000.0, 1.0 / 100.0].iter().map(|x: &f64| x.powf(0.25)).sum::<f64>() / 3.0;
    assert_close(self_bleu(&texts, 3, 0), expected, "clipping");
}

#[test]
fn closest_reference_length_skips_the_hypothesis_and_prefers_shorter() {
    // Each list holds the hypothesis length once for the hypothesis itself.
    assert_eq!(closest_reference_length(&[2, 3, 4], 3), 2, "tie goes to the shorter");
    assert_eq!(closest_reference_length(&[3, 3, 5], 3), 3, "another text of the same length");
    assert_eq!(closest_reference_length(&[1, 5, 6], 5), 6);
    assert_eq!(closest_reference_length(&[5, 9], 9), 5);
    assert_eq!(closest_reference_length(&[5, 9], 5), 9);
    assert_eq!(closest_reference_length(&[0, 0, 7], 0), 0);
}

fn ngram_counts(tokens: &[String], order: usize) -> HashMap<&[String], usize> {
    let mut counts = HashMap::new();
    for window in tokens.windows(order) {
        *counts.entry(window).or_insert(0) += 1;
    }
    counts
}

/// NLTK's `sentence_bleu(references, hypothesis, smoothing_function=SmoothingFunction().method1)`,
/// written out directly: every reference scanned for every n-gram.
fn sentence_bleu_brute_force(references: &[Vec<String>], hypothesis: &[String]) -> f64 {
    let mut precisions = Vec::new();
    for order in 1..=4 {
        let counts = ngram_counts(hypothesis, order);
        let reference_counts: Vec<_> = references.iter().map(|reference| ngram_counts(reference, order)).collect();
        let clipped: usize = counts
            .iter()
            .map(|(ngram, &count)| {
                let max_reference = reference_counts.iter().map(|counts| counts.get(ngram).copied().unwrap_or(0)).max();
                count.min(max_reference.unwrap_or(0))
            })
            .sum();
        let total: usize = counts.values().sum();
        precisions.push((clipped, total.max(1)));
    }
    if precisions[0].0 == 0 {
        return 0.0;
    }
    let hyp_len = hypothesis.len();
    let reference_len = references
        .iter()
        .map(Vec::len)
        .min_by_key(|&len| (len.abs_diff(hyp_len), len))
        .expect("at least one reference");
    let brevity_penalty =
        if hyp_len > reference_len { 1.0 } else { (1.0 - reference_len as f64 / hyp_len as f64).exp() };
    let log_mean: f64 = precisions
        .iter()
        .map(|&(clipped, total)| if clipped > 0 { clipped as f64 / total as f64 } else { 0.1 / total as f64 })
        .map(|precision| precision.ln() / 4.0)
        .sum();
    brevity_penalty * log_mean.exp()
}

fn self_bleu_brute_force(texts: &[String], hypotheses: &[usize]) -> f64 {
    let tokens: Vec<Vec<String>> = texts.iter().map(|text| tokenize(text)).collect();
    let total: f64 = hypotheses
        .iter()
        .map(|&hyp_idx| {
            let references: Vec<Vec<String>> =
                tokens.iter().enumerate().filter(|&(idx, _)| idx != hyp_idx).map(|(_, text)| text.clone()).collect();
            sentence_bleu_brute_force(&references, &tokens[hyp_idx])
        })
        .sum();
    total / hypotheses.len() as f64
}

/// Short texts over a 6-word vocabulary, so n-grams repeat within and across texts; with an empty
/// text, a punctuation-only text and an exact copy.
fn random_texts(rng_seed: u64, n_texts: usize) -> Vec<String> {
    let words = ["red", "Green", "blue", "cat", "dog", "the"];
    let mut rng = ChaCha8Rng::seed_from_u64(rng_seed);
    let mut texts: Vec<String> = (0..n_texts)
        .map(|_| {
            let n_words = rng.random_range(1..9);
            (0..n_words).map(|_| words[rng.random_range(0..words.len())]).collect::<Vec<_>>().join(" ")
        })
        .collect();
    texts[3] = String::new();
    texts[4] = "?!".to_string();
    texts[7] = texts[1].clone();
    texts
}

#[test]
fn self_bleu_matches_brute_force_on_random_texts() {
    for rng_seed in 0..5 {
        let texts = random_texts(rng_seed, 20);
        let text_refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let all: Vec<usize> = (0..texts.len()).collect();
        let expected = self_bleu_brute_force(&texts, &all);
        assert!(expected > 0.1 && expected < 0.9, "a case with partial overlap: {expected}");
        assert_close(self_bleu(&text_refs, 100, 0), expected, "all hypotheses");
        let sampled = sample_indices(texts.len(), 7, rng_seed);
        assert_close(self_bleu(&text_refs, 7, rng_seed), self_bleu_brute_force(&texts, &sampled), "sampled");
    }
}

#[test]
fn self_bleu_edge_cases() {
    assert_eq!(self_bleu(&[], 10, 0), None);
    assert_eq!(self_bleu(&["only one"], 10, 0), None);
    assert_eq!(self_bleu(&["a b", "a b"], 0, 0), None, "no hypotheses");
    assert_eq!((self_bleu_n_hypotheses(1, 10), self_bleu_n_hypotheses(5, 0)), (0, 0));
    assert_eq!((self_bleu_n_hypotheses(5, 3), self_bleu_n_hypotheses(5, 10)), (3, 5));
    // Copies score 1; texts without a shared word, or without words, score 0.
    assert_close(self_bleu(&["a b c d e", "A b, c d e!", "a b c d e"], 10, 0), 1.0, "copies");
    assert_close(self_bleu(&["a b", "c d"], 10, 0), 0.0, "no overlap");
    assert_close(self_bleu(&["", "...", ""], 10, 0), 0.0, "no words");
}
