//! Embeddings computed once per command: a compare evaluates several datasets against the same
//! test split and real rows, and projects rows it already embedded for evaluation. The cache is
//! keyed by text and lives as long as the command.

use std::collections::HashMap;
use std::sync::Mutex;

use genprompt_embed::{EmbedError, Embeddings, Encoder, EncoderIdentity};

/// Vectors by text, for one encoder.
#[derive(Default)]
pub(crate) struct EmbeddingCache {
    vectors: Mutex<HashMap<String, Vec<f32>>>,
}

impl EmbeddingCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<f32>>> {
        self.vectors.lock().expect("embedding cache lock is never poisoned")
    }
}

/// An encoder that answers from the cache and encodes only texts it has not seen (`Reuse`), or
/// that always encodes and only remembers (`Record`: generation, whose near-duplicate checks must
/// see exactly the vectors a run on its own would compute).
pub(crate) struct CachedEncoder<'a> {
    pub inner: &'a dyn Encoder,
    pub cache: &'a EmbeddingCache,
    pub mode: CacheUse,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CacheUse {
    Reuse,
    Record,
}

impl Encoder for CachedEncoder<'_> {
    fn identity(&self) -> &EncoderIdentity {
        self.inner.identity()
    }

    fn dim(&self) -> usize {
        self.inner.dim()
    }

    fn encode(&self, texts: &[&str]) -> Result<Embeddings, EmbedError> {
        if self.mode == CacheUse::Record {
            let embeddings = self.inner.encode(texts)?;
            let mut cache = self.cache.lock();
            for (text, row) in texts.iter().zip(embeddings.rows()) {
                cache.entry((*text).to_string()).or_insert_with(|| row.to_vec());
            }
            return Ok(embeddings);
        }
        let missing: Vec<&str> = {
            let cache = self.cache.lock();
            let mut seen = std::collections::HashSet::new();
            texts.iter().copied().filter(|text| !cache.contains_key(*text) && seen.insert(*text)).collect()
        };
        if !missing.is_empty() {
            let fresh = self.inner.encode(&missing)?;
            // An encoder is outside code: one that returns another number of rows is an error
            // here, not a missing cache entry (and a panic) below.
            if fresh.len() != missing.len() {
                let why = format!("the encoder returned {} rows for {} texts", fresh.len(), missing.len());
                return Err(EmbedError::Shape(why));
            }
            let mut cache = self.cache.lock();
            for (text, row) in missing.iter().zip(fresh.rows()) {
                cache.insert((*text).to_string(), row.to_vec());
            }
        }
        let cache = self.cache.lock();
        let mut embeddings = Embeddings::new(self.inner.dim());
        for text in texts {
            // Invariant: every text was cached above, or before (with a row of the right length).
            let row = cache.get(*text).ok_or_else(|| EmbedError::Encode(format!("no vector for {text:?}")))?;
            embeddings.push(row)?;
        }
        Ok(embeddings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers one row fewer than it was given texts, each of the wrong length when `wide`.
    struct Broken {
        identity: EncoderIdentity,
        wide: bool,
    }

    impl Encoder for Broken {
        fn identity(&self) -> &EncoderIdentity {
            &self.identity
        }
        fn dim(&self) -> usize {
            2
        }
        fn encode(&self, texts: &[&str]) -> Result<Embeddings, EmbedError> {
            let (dim, n) = if self.wide { (3, texts.len()) } else { (2, texts.len().saturating_sub(1)) };
            Embeddings::from_flat(dim, vec![1.0; dim * n])
        }
    }

    #[test]
    fn an_encoder_with_too_few_or_too_long_rows_is_an_error_not_a_panic() {
        for wide in [false, true] {
            let identity = EncoderIdentity { name: "broken".into(), weights_sha256: String::new() };
            let inner = Broken { identity, wide };
            let cache = EmbeddingCache::default();
            let reuse = CachedEncoder { inner: &inner, cache: &cache, mode: CacheUse::Reuse };
            let err = reuse.encode(&["a", "b"]).unwrap_err();
            assert!(matches!(err, EmbedError::Shape(_)), "wide {wide}: {err}");
        }
    }
}
