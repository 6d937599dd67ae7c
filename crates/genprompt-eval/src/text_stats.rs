//! Surface statistics of a set of texts: size, vocabulary and distinct-n (this file), self-BLEU
//! (`self_bleu.rs`). All of them count word tokens from [`tokenize`].
//!
//! The tokenizer: a word is a maximal run of characters for which `char::is_alphanumeric` holds
//! (Unicode letters and digits of any script), lowercased with `str::to_lowercase`; everything
//! else (spaces, punctuation, symbols, emoji) separates words and is dropped. So "Don't stop!"
//! gives `don`, `t`, `stop`, "COVID-19" gives `covid`, `19`, and "naïve" stays one word. Two
//! limits: a combining accent written as a separate code point (text not in NFC form) splits the
//! word, and scripts written without spaces (Chinese, Japanese, Thai) come out as one word per run.
//! The Genetic Prompt paper does not say how it counts vocabulary, so figures from other
//! tokenizers are not comparable.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};

/// Size and lexical diversity of a set of texts.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct TextStats {
    pub n_texts: usize,
    pub n_tokens: usize,
    /// Distinct lowercased word tokens. Higher = richer wording (it grows with size, so compare
    /// sets of equal size).
    pub vocabulary: usize,
    /// Distinct n-grams / all n-grams, n-grams taken within each text; higher = less repetition.
    /// 0 when there are no n-grams.
    pub distinct_1: f64,
    pub distinct_2: f64,
    pub distinct_3: f64,
    /// Tokens per text; 0 for no texts.
    pub mean_length_tokens: f64,
}

/// The words of `text`, lowercased, as described in the module docs.
pub fn tokenize(text: &str) -> Vec<String> {
    words(text).map(str::to_lowercase).collect()
}

/// Counts tokens, vocabulary and distinct 1-, 2- and 3-grams of `texts`, in O(tokens) time and
/// memory.
pub fn text_stats(texts: &[&str]) -> TextStats {
    Corpus::new(texts).stats()
}

/// Texts turned into token ids, built once and shared by the text statistics and self-BLEU.
pub(crate) struct Corpus {
    /// The token ids of every text, concatenated.
    tokens: Vec<u32>,
    /// Text `t` is `tokens[offsets[t]..offsets[t + 1]]`.
    offsets: Vec<usize>,
    n_types: usize,
}

impl Corpus {
    pub(crate) fn new(texts: &[&str]) -> Corpus {
        let mut ids: HashMap<String, u32, FxBuild> = HashMap::default();
        let mut tokens = Vec::new();
        let mut offsets = Vec::with_capacity(texts.len() + 1);
        offsets.push(0);
        let mut lowered = String::new();
        for text in texts {
            for word in words(text) {
                lowered.clear();
                if word.is_ascii() {
                    lowered.push_str(word);
                    lowered.make_ascii_lowercase();
                } else {
                    lowered.push_str(&word.to_lowercase());
                }
                let id = match ids.get(lowered.as_str()) {
                    Some(&id) => id,
                    None => {
                        // u32::MAX is kept free as the padding of shorter n-grams.
                        let id = u32::try_from(ids.len())
                            .ok()
                            .filter(|&id| id < u32::MAX)
                            // Invariant in practice: 2^32 distinct words need over 16 GiB of
                            // strings before this id is reached.
                            .expect("fewer than 2^32 - 1 distinct words");
                        ids.insert(lowered.clone(), id);
                        id
                    }
                };
                tokens.push(id);
            }
            offsets.push(tokens.len());
        }
        Corpus { tokens, offsets, n_types: ids.len() }
    }

    pub(crate) fn n_texts(&self) -> usize {
        self.offsets.len() - 1
    }

    pub(crate) fn text(&self, text_idx: usize) -> &[u32] {
        &self.tokens[self.offsets[text_idx]..self.offsets[text_idx + 1]]
    }

    pub(crate) fn texts(&self) -> impl Iterator<Item = &[u32]> {
        self.offsets.windows(2).map(|bounds| &self.tokens[bounds[0]..bounds[1]])
    }

    pub(crate) fn stats(&self) -> TextStats {
        let n_texts = self.n_texts();
        let n_tokens = self.tokens.len();
        TextStats {
            n_texts,
            n_tokens,
            vocabulary: self.n_types,
            distinct_1: ratio(self.n_types, n_tokens),
            distinct_2: self.distinct::<2>(),
            distinct_3: self.distinct::<3>(),
            mean_length_tokens: ratio(n_tokens, n_texts),
        }
    }

    /// Distinct n-grams over all n-grams, by sorting them: 4N bytes per n-gram, about half of what a
    /// hash set of them needs.
    fn distinct<const N: usize>(&self) -> f64 {
        let mut ngrams: Vec<[u32; N]> = Vec::with_capacity(self.tokens.len());
        for text in self.texts() {
            ngrams.extend(text.windows(N).map(|window| <[u32; N]>::try_from(window).expect("windows have length N")));
        }
        ngrams.sort_unstable();
        let n_distinct = ngrams.chunk_by(|a, b| a == b).count();
        ratio(n_distinct, ngrams.len())
    }
}

fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|word| !word.is_empty())
}

fn ratio(numerator: usize, denominator: usize) -> f64 {
    if denominator == 0 { 0.0 } else { numerator as f64 / denominator as f64 }
}

/// A fast non-cryptographic hasher for token ids and n-grams (FxHash steps with a splitmix64
/// finaliser, so the low bits that pick a bucket depend on every input bit). Our keys come from
/// our own token ids, so hash flooding is not a concern; std's SipHash would be about 3 times
/// slower at 100k texts.
#[derive(Clone, Copy, Default)]
pub(crate) struct FxBuild;

pub(crate) struct FxHasher(u64);

impl BuildHasher for FxBuild {
    type Hasher = FxHasher;

    fn build_hasher(&self) -> FxHasher {
        FxHasher(0)
    }
}

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7C_C1_B7_27_22_0A_95);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.add(u64::from_le_bytes(chunk.try_into().expect("chunks have 8 bytes; this is a bug")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(last));
        }
    }

    fn write_u8(&mut self, value: u8) {
        self.add(u64::from(value));
    }

    fn write_u32(&mut self, value: u32) {
        self.add(u64::from(value));
    }

    fn write_u64(&mut self, value: u64) {
        self.add(value);
    }

    fn write_usize(&mut self, value: usize) {
        self.add(value as u64);
    }

    fn finish(&self) -> u64 {
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests;
