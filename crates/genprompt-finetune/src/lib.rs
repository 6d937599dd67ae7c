//! Fine-tunes a BERT-family sentence encoder (all-MiniLM-L6-v2 by default) with a linear head on
//! CPU: the downstream evaluation of the Genetic Prompt paper (Han et al., EMNLP Findings 2025),
//! which fine-tunes a whole encoder (RoBERTa-base there) on the synthetic rows and scores it on
//! real test rows; beside the frozen-encoder probe of `genprompt-eval`.
//!
//! The model is the BERT module of `genprompt-embed-candle` in its differentiable mode, mean
//! pooling over real tokens, then one linear layer; the loss is cross-entropy. Every parameter
//! (encoder and head) is trained with AdamW at a constant learning rate, in shuffled mini-batches
//! padded to each batch's longest text. There is no dropout (the BERT module has none).
//!
//! # Threads
//!
//! Like `genprompt-embed-candle`, this crate spawns no threads: candle's matrix products and
//! rayon's global pool are sized by `RAYON_NUM_THREADS` (see that crate's docs). On the shared
//! 2-core dev box, with other builds running, one thread trained faster than two (a batch-16,
//! 128-token step took about 4 s against 6.5 s); stack-notes measured up to 5x under more load.
//!
//! # Determinism
//!
//! The head's initial weights and the shuffle order come from ChaCha8 streams seeded with
//! [`FinetuneConfig::rng_seed`]; nothing else is random, so the same model folder, data and
//! config give the same classifier.

mod adamw;
mod network;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use candle_core::{D, Device, Tensor, Var};
use candle_nn::ParamsAdamW;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use tokenizers::Encoding;

use crate::adamw::{FusedAdamW, TableRows};
use crate::network::Network;

/// ChaCha8 stream of the head's initial weights.
const HEAD_STREAM: u64 = 0;
/// ChaCha8 stream of the per-epoch shuffles.
const SHUFFLE_STREAM: u64 = 1;

/// How [`TextClassifier::train`] fine-tunes; start from [`FinetuneConfig::standard`].
#[derive(Clone, Debug, PartialEq)]
pub struct FinetuneConfig {
    /// AdamW step size, constant for the whole run (no warm-up, no decay).
    pub learning_rate: f64,
    /// Passes over the training texts.
    pub epochs: usize,
    /// Texts per optimiser step (the last batch of an epoch may be smaller); also the batch size
    /// of [`TextClassifier::predict`].
    pub batch_size: usize,
    /// Tokens per text including `[CLS]`/`[SEP]`; longer texts are truncated. Clamped to the
    /// model's `max_position_embeddings`.
    pub max_length: usize,
    /// AdamW's decoupled weight decay, applied to every parameter.
    pub weight_decay: f64,
    /// Seeds the head's initial weights and the shuffle order.
    pub rng_seed: u64,
    /// Strings added to the tokenizer as special tokens (never split, never lowercased), each
    /// with a new word-embedding row initialised to the mean embedding; e.g. relation-extraction
    /// entity tags `<chemical>`, `</chemical>`. Tokens already in the vocabulary keep their row.
    pub special_tokens: Vec<String>,
}

impl FinetuneConfig {
    /// The paper's fine-tuning protocol (Han et al., 2025, and its released scripts) scaled to
    /// MiniLM on a CPU:
    ///
    /// * `learning_rate` 5e-5, not the paper's 1e-5: that was for RoBERTa-base (125M parameters,
    ///   12 layers); MiniLM-L6 has 22M parameters in 6 layers and moves less per step, and 5e-5 is
    ///   the top of BERT's recommended 2e-5..5e-5 range and what the paper's own AGNews and
    ///   StackExchange scripts use. Constant, as the paper states (its code decays linearly).
    /// * `epochs` 3: the paper's setting for the relation tasks and most released scripts.
    /// * `batch_size` 16: the released ChemProt/StackExchange scripts; larger batches only cost
    ///   memory on a CPU, not time per example.
    /// * `max_length` 128: synthetic texts are short; the AGNews script uses 128, and a step's cost
    ///   grows with the padded length.
    /// * `weight_decay` 0.01: PyTorch's `AdamW` default, which the paper's code leaves in place.
    /// * `rng_seed` 42, the released scripts' seed; no special tokens.
    pub fn standard() -> FinetuneConfig {
        FinetuneConfig {
            learning_rate: 5e-5,
            epochs: 3,
            batch_size: 16,
            max_length: 128,
            weight_decay: 0.01,
            rng_seed: 42,
            special_tokens: Vec::new(),
        }
    }

    fn validate(&self) -> Result<(), FinetuneError> {
        let problem = if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            format!("learning_rate must be positive, got {}", self.learning_rate)
        } else if self.epochs == 0 {
            "epochs must be at least 1".to_owned()
        } else if self.batch_size == 0 {
            "batch_size must be at least 1".to_owned()
        } else if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            format!("weight_decay must be zero or positive, got {}", self.weight_decay)
        } else if self.special_tokens.iter().any(|token| token.trim().is_empty()) {
            "special_tokens must not be empty or blank".to_owned()
        } else {
            return Ok(());
        };
        Err(FinetuneError::Config(problem))
    }
}

/// Why fine-tuning or prediction failed; messages name the path or the offending value.
#[derive(Debug, thiserror::Error)]
pub enum FinetuneError {
    /// The model folder, or one of its files, is missing, unreadable or inconsistent.
    #[error("cannot load model from {}: {message}", path.display())]
    Load { path: PathBuf, message: String },
    #[error("invalid fine-tuning config: {0}")]
    Config(String),
    #[error("invalid training data: {0}")]
    Data(String),
    #[error("tokenizer failed: {0}")]
    Tokenize(String),
    #[error("training diverged: the loss is {loss} at step {step} of {n_steps}; lower the learning rate")]
    Diverged { step: usize, n_steps: usize, loss: f32 },
    #[error("tensor computation failed: {0}")]
    Compute(String),
}

/// A fine-tuned encoder with its linear head and tokenizer.
pub struct TextClassifier {
    network: Network,
    n_labels: usize,
    batch_size: usize,
}

impl TextClassifier {
    /// Loads `model_dir` (`config.json`, `tokenizer.json`, `model.safetensors`, keys with or
    /// without a `bert.` prefix), adds `config.special_tokens`, puts a linear head over the
    /// mean-pooled hidden states and trains every parameter on `(texts, labels)`.
    ///
    /// `labels[i]` is the class of `texts[i]`, below `n_labels`. `on_step(step, n_steps, loss)`
    /// runs after every optimiser step, with `step` counting from 1 and `loss` that batch's mean
    /// cross-entropy.
    pub fn train(
        model_dir: &Path,
        texts: &[&str],
        labels: &[usize],
        n_labels: usize,
        config: &FinetuneConfig,
        on_step: &mut dyn FnMut(usize, usize, f32),
    ) -> Result<TextClassifier, FinetuneError> {
        config.validate()?;
        validate_data(texts, labels, n_labels)?;
        let mut head_rng = ChaCha8Rng::seed_from_u64(config.rng_seed);
        head_rng.set_stream(HEAD_STREAM);
        let network = Network::load(model_dir, n_labels, config.max_length, &config.special_tokens, &mut head_rng)?;
        let classifier = TextClassifier { network, n_labels, batch_size: config.batch_size };
        classifier.fit(texts, labels, config, on_step)?;
        Ok(classifier)
    }

    /// The most likely label of each text, in input order.
    pub fn predict(&self, texts: &[&str]) -> Result<Vec<usize>, FinetuneError> {
        // Longest first, so each batch pads little; results go back to input order.
        let mut items: Vec<(usize, Encoding)> = self.network.tokenize(texts)?.into_iter().enumerate().collect();
        items.sort_by_key(|(_, encoding)| std::cmp::Reverse(encoding.len()));
        let mut predictions = vec![0; texts.len()];
        for chunk in items.chunks(self.batch_size) {
            let mut batch: Vec<Encoding> = chunk.iter().map(|(_, encoding)| encoding.clone()).collect();
            let (ids, mask) = self.network.batch_tensors(&mut batch)?;
            let best = self
                .network
                .logits(&ids, &mask)
                .and_then(|logits| logits.argmax(D::Minus1))
                .and_then(|best| best.to_vec1::<u32>())
                .map_err(compute_err)?;
            for ((text_idx, _), label) in chunk.iter().zip(best) {
                predictions[*text_idx] = label as usize;
            }
        }
        Ok(predictions)
    }

    /// Number of classes the head scores.
    pub fn n_labels(&self) -> usize {
        self.n_labels
    }

    fn fit(
        &self,
        texts: &[&str],
        labels: &[usize],
        config: &FinetuneConfig,
        on_step: &mut dyn FnMut(usize, usize, f32),
    ) -> Result<(), FinetuneError> {
        let encodings = self.network.tokenize(texts)?;
        let n_batches = texts.len().div_ceil(config.batch_size);
        let n_steps = config.epochs * n_batches;
        let vars = self.network.vars.iter().map(|(_, var)| var.clone()).collect();
        let params = ParamsAdamW { lr: config.learning_rate, weight_decay: config.weight_decay, ..Default::default() };
        let mut optimizer = FusedAdamW::new(vars, params);
        // The word table gets its gradient as rows (see `adamw`); it is looked up outside the graph.
        let word_table = self.network.word_table_index().ok_or_else(|| compute_err("the model has no word table"))?;
        let mut shuffle_rng = ChaCha8Rng::seed_from_u64(config.rng_seed);
        shuffle_rng.set_stream(SHUFFLE_STREAM);
        let mut order: Vec<usize> = (0..texts.len()).collect();
        let mut step = 0;
        for epoch in 1..=config.epochs {
            order.shuffle(&mut shuffle_rng);
            let mut loss_sum = 0.0;
            let (mut forward_s, mut backward_s, mut update_s) = (0.0, 0.0, 0.0);
            for chunk in order.chunks(config.batch_size) {
                let mut batch: Vec<Encoding> = chunk.iter().map(|&idx| encodings[idx].clone()).collect();
                let targets: Vec<u32> = chunk.iter().map(|&idx| labels[idx] as u32).collect();
                let started = std::time::Instant::now();
                let (ids, mask) = self.network.batch_tensors(&mut batch)?;
                let words = self.network.lookup_words(&ids).and_then(|words| Var::from_tensor(&words));
                let words = words.map_err(compute_err)?;
                let loss = self.batch_loss(&words, &mask, targets)?;
                let forward_done = std::time::Instant::now();
                let grads = loss.backward().map_err(compute_err)?;
                let backward_done = std::time::Instant::now();
                let ids = ids.flatten_all().and_then(|ids| ids.to_vec1::<u32>()).map_err(compute_err)?;
                let word_grads =
                    grads.get(words.as_tensor()).ok_or_else(|| compute_err("no gradient reached the words"))?;
                let table = TableRows { var: word_table, ids: &ids, grads: word_grads };
                optimizer.step(&grads, Some(table)).map_err(compute_err)?;
                forward_s += (forward_done - started).as_secs_f64();
                backward_s += (backward_done - forward_done).as_secs_f64();
                update_s += backward_done.elapsed().as_secs_f64();
                let loss = loss.to_scalar::<f32>().map_err(compute_err)?;
                step += 1;
                if !loss.is_finite() {
                    return Err(FinetuneError::Diverged { step, n_steps, loss });
                }
                loss_sum += loss;
                on_step(step, n_steps, loss);
            }
            tracing::debug!(
                epoch,
                mean_loss = loss_sum / n_batches as f32,
                forward_s,
                backward_s,
                update_s,
                "fine-tuning epoch finished"
            );
        }
        Ok(())
    }

    /// Mean cross-entropy of one batch through the differentiable pass, from its word vectors.
    fn batch_loss(&self, words: &Var, mask: &Tensor, targets: Vec<u32>) -> Result<Tensor, FinetuneError> {
        let targets = Tensor::new(targets, &Device::Cpu).map_err(compute_err)?;
        self.network
            .logits_train_words(words.as_tensor(), mask)
            .and_then(|logits| candle_nn::loss::cross_entropy(&logits, &targets))
            .map_err(compute_err)
    }
}

fn validate_data(texts: &[&str], labels: &[usize], n_labels: usize) -> Result<(), FinetuneError> {
    let problem = if n_labels < 2 {
        format!("n_labels must be at least 2, got {n_labels}")
    } else if texts.is_empty() {
        "no training texts".to_owned()
    } else if texts.len() != labels.len() {
        format!("{} texts but {} labels", texts.len(), labels.len())
    } else if let Some((idx, label)) = labels.iter().enumerate().find(|(_, label)| **label >= n_labels) {
        format!("text {idx} has label {label}, but labels must be below n_labels {n_labels}")
    } else {
        return Ok(());
    };
    Err(FinetuneError::Data(problem))
}

fn compute_err(error: impl std::fmt::Display) -> FinetuneError {
    FinetuneError::Compute(error.to_string())
}
