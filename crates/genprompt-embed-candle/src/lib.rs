//! all-MiniLM-L6-v2 (or any BERT-family sentence encoder folder) in pure Rust on candle.
//!
//! Reproduces sentence-transformers' pipeline: WordPiece tokenisation truncated at 256 tokens,
//! BERT forward, mean pooling over real tokens, L2 normalisation. The model folder needs
//! `config.json`, `tokenizer.json` and `model.safetensors` (as `genprompt models fetch` lays out).
//!
//! The forward pass itself runs in [`fast`] (plain buffers, no padding, bf16 products on CPUs with
//! AVX-512 BF16); candle only reads the weights. [`bert`] is the candle module that
//! `genprompt-finetune` trains.
//!
//! # Threads
//!
//! [`MiniLmEncoder::encode`] shares its length-sorted groups of texts among
//! `candle_core::utils::get_num_threads()` scoped threads (`RAYON_NUM_THREADS`, else the physical
//! cores), each running whole forward passes single-threaded: no pool, no barrier per operation.
//! The tokenizer and the candle module of [`bert`] (fine-tuning) run on pools that candle and
//! tokenizers create lazily, sized from the environment (read from candle-core 0.11.1's `utils.rs`,
//! `cpu_backend`, and tokenizers 0.23's `utils/parallelism.rs`):
//!
//! * matrix products: gemm split into `candle_core::utils::get_num_threads()` tasks, which is
//!   `RAYON_NUM_THREADS` if set, else the number of *physical* cores, run on rayon's global pool;
//! * rayon's global pool (`RAYON_NUM_THREADS`, else all logical CPUs) also runs candle-nn's
//!   softmax and LayerNorm rows and the tokenizer's batch encoding (tokenizers can be made serial
//!   with `TOKENIZERS_PARALLELISM=false`);
//! * element-wise ops on at least 64 Ki elements: candle's spinning "barrier pool" with
//!   `CANDLE_NUM_THREADS` (else `RAYON_NUM_THREADS`, else physical cores) minus one workers, the
//!   calling thread being the last one.
//!
//! So `RAYON_NUM_THREADS=n` caps all of them, and it is the only knob that does: building rayon's
//! global pool with `ThreadPoolBuilder` does not change gemm's split, which re-reads the variable.
//! Set it in the environment before the process starts, or first thing in `main` before any
//! thread exists (`std::env::set_var` is `unsafe`): the pools read it once, on first use. With
//! candle running inference, `RAYON_NUM_THREADS=1` was 2.4x faster than 2 threads on a shared
//! 2-core box (its pools spin); the encoder's own threads do not spin (74 tweets/s at 2 threads
//! against 75 at 1 under load average 8-9, BENCHMARKS.md). We never
//! call `Device::with_context`, which would install candle's private second rayon pool.

pub mod bert;
pub mod fast;
#[cfg(test)]
mod tests;
mod train_ops;

use std::fmt::Display;
use std::io::Read;
use std::ops::Range;
use std::path::Path;
use std::time::Instant;

use candle_core::{DType, Device};
use candle_nn::VarBuilder;
use genprompt_embed::{EmbedError, Embeddings, Encoder, EncoderIdentity};
use sha2::{Digest, Sha256};
use tokenizers::{Tokenizer, TruncationParams};

use crate::bert::BertConfig;
use crate::fast::{FastBert, Kernel};

const CONFIG_FILE: &str = "config.json";
const TOKENIZER_FILE: &str = "tokenizer.json";
const WEIGHTS_FILE: &str = "model.safetensors";

/// How [`MiniLmEncoder`] batches and truncates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncoderOptions {
    /// Texts per forward pass (default 32); texts are packed without padding, so this only
    /// sets how much work one thread takes at a time.
    pub batch_size: usize,
    /// Tokens per text including `[CLS]`/`[SEP]` (default 256, sentence-transformers'
    /// `max_seq_length` for this model); clamped to the model's `max_position_embeddings`.
    pub max_length: usize,
}

impl Default for EncoderOptions {
    fn default() -> EncoderOptions {
        EncoderOptions { batch_size: 32, max_length: 256 }
    }
}

/// A BERT sentence encoder loaded from a model folder; see the crate docs for thread control.
pub struct MiniLmEncoder {
    model: FastBert,
    /// Truncates but never pads (the shipped `tokenizer.json` pads every text to 128 tokens).
    tokenizer: Tokenizer,
    batch_size: usize,
    threads: usize,
    dim: usize,
    identity: EncoderIdentity,
}

impl MiniLmEncoder {
    /// Loads `dir/{config.json, tokenizer.json, model.safetensors}`; weights may be keyed with or
    /// without a `bert.` prefix. Errors are [`EmbedError::Load`] naming the offending path.
    pub fn load(dir: &Path, options: EncoderOptions) -> Result<MiniLmEncoder, EmbedError> {
        MiniLmEncoder::load_with_kernel(dir, options, Kernel::detect())
    }

    /// [`MiniLmEncoder::load`] with a chosen matrix-product kernel instead of the fastest one the
    /// CPU supports (tests and benchmarks compare them). `Kernel::Bf16` on a CPU without
    /// AVX-512 BF16 is an error.
    pub fn load_with_kernel(dir: &Path, options: EncoderOptions, kernel: Kernel) -> Result<MiniLmEncoder, EmbedError> {
        if kernel == Kernel::Bf16 && Kernel::detect() != Kernel::Bf16 {
            return Err(load_err(dir, "this CPU has no AVX-512 BF16 for Kernel::Bf16"));
        }
        let started = Instant::now();
        if !dir.is_dir() {
            let what = if dir.exists() { "not a folder" } else { "folder does not exist" };
            return Err(load_err(dir, format!("{what} (run `genprompt models fetch`?)")));
        }
        let [config_path, tokenizer_path, weights_path] =
            [CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE].map(|name| dir.join(name));
        for path in [&config_path, &tokenizer_path, &weights_path] {
            if !path.is_file() {
                return Err(load_err(path, "file is missing"));
            }
        }
        if options.batch_size == 0 {
            return Err(load_err(dir, "batch_size must be at least 1"));
        }

        let config_text = std::fs::read_to_string(&config_path).map_err(|e| load_err(&config_path, e))?;
        let config: BertConfig = serde_json::from_str(&config_text)
            .map_err(|e| load_err(&config_path, format!("not a BERT config: {e}")))?;
        config.validate().map_err(|e| load_err(&config_path, e))?;

        let max_length = options.max_length.min(config.max_position_embeddings);
        if max_length < options.max_length {
            tracing::warn!(
                requested = options.max_length,
                max_length,
                "max_length exceeds the model's max_position_embeddings; clamped"
            );
        }
        if max_length < 2 {
            return Err(load_err(dir, "max_length must leave room for [CLS] and [SEP]"));
        }
        let tokenizer = load_tokenizer(&tokenizer_path, max_length)?;

        let weights_sha256 = sha256_file(&weights_path)?;
        // SAFETY: the weights file is mmapped read-only; it must not be modified while we run.
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[&weights_path], DType::F32, &Device::Cpu) }
            .map_err(|e| load_err(&weights_path, e))?;
        let model = FastBert::load(vb, &config, kernel)
            .map_err(|e| load_err(&weights_path, format!("does not match {CONFIG_FILE}: {e}")))?;

        let identity = EncoderIdentity { name: folder_name(dir), weights_sha256 };
        tracing::debug!(
            encoder = %identity,
            dir = %dir.display(),
            ms = started.elapsed().as_millis() as u64,
            threads = candle_core::utils::get_num_threads(),
            ?kernel,
            "loaded sentence encoder"
        );
        Ok(MiniLmEncoder {
            model,
            tokenizer,
            batch_size: options.batch_size,
            threads: candle_core::utils::get_num_threads().max(1),
            dim: config.hidden_size,
            identity,
        })
    }

    /// The matrix-product kernel in use.
    pub fn kernel(&self) -> Kernel {
        self.model.kernel()
    }
}

impl Encoder for MiniLmEncoder {
    fn identity(&self) -> &EncoderIdentity {
        &self.identity
    }

    fn dim(&self) -> usize {
        self.dim
    }

    /// Tokenises everything once, then runs groups of similar token counts (longest first, so
    /// threads finish together); rows come back in input order.
    fn encode(&self, texts: &[&str]) -> Result<Embeddings, EmbedError> {
        let mut out = Embeddings::new(self.dim);
        if texts.is_empty() {
            return Ok(out);
        }
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| EmbedError::Encode(format!("tokenizer: {e}")))?;
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&idx| std::cmp::Reverse(encodings[idx].len()));
        let ids: Vec<&[u32]> = order.iter().map(|&idx| encodings[idx].get_ids()).collect();
        let pooled = self.model.embed(&ids, &group_ranges(ids.len(), self.batch_size, self.threads), self.threads);
        let mut rows = vec![Vec::new(); texts.len()];
        for (idx, row) in order.into_iter().zip(pooled) {
            rows[idx] = row;
        }
        for row in &rows {
            out.push_normalised(row)?;
        }
        Ok(out)
    }
}

/// Splits `n` length-sorted texts into groups of at most `max_group`, and small enough that each
/// of `threads` threads gets one.
fn group_ranges(n: usize, max_group: usize, threads: usize) -> Vec<Range<usize>> {
    let size = max_group.min(n.div_ceil(threads.max(1))).max(1);
    (0..n).step_by(size).map(|start| start..(start + size).min(n)).collect()
}

/// The tokenizer with truncation at `max_length` and padding turned off.
fn load_tokenizer(path: &Path, max_length: usize) -> Result<Tokenizer, EmbedError> {
    let mut tokenizer = Tokenizer::from_file(path).map_err(|e| load_err(path, e))?;
    let truncation = TruncationParams { max_length, ..tokenizer.get_truncation().cloned().unwrap_or_default() };
    tokenizer.with_truncation(Some(truncation)).map_err(|e| load_err(path, format!("cannot set truncation: {e}")))?;
    tokenizer.with_padding(None);
    Ok(tokenizer)
}

/// sha256 of a file, hex; streamed so the weights never sit in memory twice.
fn sha256_file(path: &Path) -> Result<String, EmbedError> {
    let mut file = std::fs::File::open(path).map_err(|e| load_err(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(|e| load_err(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// The folder's own name ("all-minilm-l6-v2"), resolving paths such as `.` first.
fn folder_name(dir: &Path) -> String {
    let named = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
    named(dir).or_else(|| named(&dir.canonicalize().ok()?)).unwrap_or_else(|| "bert".to_owned())
}

fn load_err(path: &Path, message: impl Display) -> EmbedError {
    EmbedError::Load { path: path.display().to_string(), message: message.to_string() }
}
