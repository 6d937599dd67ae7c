//! The network: our BERT (trainable copy of the checkpoint), mean pooling, a linear head; and the
//! tokenizer that feeds it, with any added special tokens.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use candle_core::{DType, Device, Module, Shape, Tensor, Var};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::{Init, Linear, VarBuilder};
use genprompt_embed_candle::bert::{self, BertConfig, BertModel};
use rand::Rng;
use tokenizers::{AddedToken, Encoding, PaddingParams, PaddingStrategy, Tokenizer, TruncationParams, pad_encodings};

use crate::{FinetuneError, compute_err};

const CONFIG_FILE: &str = "config.json";
const TOKENIZER_FILE: &str = "tokenizer.json";
const WEIGHTS_FILE: &str = "model.safetensors";

/// The word-embedding matrix, keyed with or without the `bert.` prefix (MiniLM has none).
const WORD_EMBEDDING_KEYS: [&str; 2] = ["embeddings.word_embeddings.weight", "bert.embeddings.word_embeddings.weight"];

/// Names of the head's parameters in [`Network::vars`].
pub(crate) const HEAD_WEIGHT: &str = "classifier.weight";
pub(crate) const HEAD_BIAS: &str = "classifier.bias";

pub(crate) struct Network {
    pub(crate) bert: BertModel,
    pub(crate) head: Linear,
    /// Every trainable tensor with its checkpoint name, in the order the model asked for them;
    /// the head's two come last. These share storage with `bert` and `head`.
    pub(crate) vars: Vec<(String, Var)>,
    /// Truncates at the configured length; never pads (see `padding`).
    pub(crate) tokenizer: Tokenizer,
    /// `BatchLongest` with the shipped pad token, applied per batch.
    padding: PaddingParams,
}

impl Network {
    /// Loads `dir/{config.json, tokenizer.json, model.safetensors}`, adds `special_tokens` to the
    /// tokenizer and grows the word embeddings for them, and puts a seeded linear head on top.
    pub(crate) fn load(
        dir: &Path,
        n_labels: usize,
        max_length: usize,
        special_tokens: &[String],
        head_rng: &mut impl Rng,
    ) -> Result<Network, FinetuneError> {
        if !dir.is_dir() {
            let what = if dir.exists() { "not a folder" } else { "folder does not exist" };
            return Err(load_err(dir, format!("{what} (run `genprompt models fetch`?)")));
        }
        let [config_path, tokenizer_path, weights_path] =
            [CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE].map(|name| dir.join(name));
        for path in [&config_path, &tokenizer_path, &weights_path] {
            if !path.is_file() {
                return Err(load_err(path, "file is missing (run `genprompt models fetch`?)"));
            }
        }

        let config_text = std::fs::read_to_string(&config_path).map_err(|e| load_err(&config_path, e))?;
        let mut config: BertConfig = serde_json::from_str(&config_text)
            .map_err(|e| load_err(&config_path, format!("not a BERT config: {e}")))?;
        config.validate().map_err(|e| load_err(&config_path, e))?;
        let base_vocab_size = config.vocab_size;

        let max_length = max_length.min(config.max_position_embeddings);
        if max_length < 2 {
            return Err(FinetuneError::Config("max_length must leave room for [CLS] and [SEP]".into()));
        }
        let (tokenizer, padding) = load_tokenizer(&tokenizer_path, max_length, special_tokens)?;
        let vocab_size = special_tokens
            .iter()
            .filter_map(|token| tokenizer.token_to_id(token))
            .map(|id| id as usize + 1)
            .fold(base_vocab_size, usize::max);

        let mut tensors = candle_core::safetensors::load(&weights_path, &Device::Cpu)
            .map_err(|e| load_err(&weights_path, format!("not a safetensors file: {e}")))?;
        grow_word_embeddings(&mut tensors, base_vocab_size, vocab_size).map_err(|e| load_err(&weights_path, e))?;
        config.vocab_size = vocab_size;

        let checkpoint = TrainableCheckpoint { tensors, vars: Arc::default() };
        let vars = Arc::clone(&checkpoint.vars);
        let vb = VarBuilder::from_backend(Box::new(checkpoint), DType::F32, Device::Cpu);
        let bert = BertModel::load(vb, &config)
            .map_err(|e| load_err(&weights_path, format!("does not match {CONFIG_FILE}: {e}")))?;
        // The builder (and with it the rest of the checkpoint) is gone; only the vars remain.
        let mut vars = Arc::into_inner(vars)
            .ok_or_else(|| compute_err("a weight builder outlived model loading"))?
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);

        let (head, head_vars) = init_head(config.hidden_size, n_labels, head_rng).map_err(compute_err)?;
        vars.extend(head_vars);
        Ok(Network { bert, head, vars, tokenizer, padding })
    }

    /// Tokenises `texts` (with `[CLS]`/`[SEP]`, truncated), unpadded.
    pub(crate) fn tokenize(&self, texts: &[&str]) -> Result<Vec<Encoding>, FinetuneError> {
        self.tokenizer.encode_batch(texts.to_vec(), true).map_err(|e| FinetuneError::Tokenize(e.to_string()))
    }

    /// Pads `batch` to its longest text and returns (ids, attention mask), both (batch, seq) u32.
    pub(crate) fn batch_tensors(&self, batch: &mut [Encoding]) -> Result<(Tensor, Tensor), FinetuneError> {
        pad_encodings(batch, &self.padding).map_err(|e| FinetuneError::Tokenize(format!("padding: {e}")))?;
        let shape = (batch.len(), batch.first().map_or(0, Encoding::len));
        let flat = |field: fn(&Encoding) -> &[u32]| -> Vec<u32> {
            batch.iter().flat_map(|e| field(e).iter().copied()).collect()
        };
        let ids = Tensor::from_vec(flat(Encoding::get_ids), shape, &Device::Cpu).map_err(compute_err)?;
        let mask = Tensor::from_vec(flat(Encoding::get_attention_mask), shape, &Device::Cpu).map_err(compute_err)?;
        Ok((ids, mask))
    }

    /// The word vectors of `ids`, (batch, seq, hidden), copied out of the word table (no
    /// gradient flows back into the table through them; see [`Network::logits_train_words`]).
    pub(crate) fn lookup_words(&self, ids: &Tensor) -> candle_core::Result<Tensor> {
        let (batch, seq) = ids.dims2()?;
        let table = self.bert.word_table().detach();
        table.index_select(&ids.flatten_all()?, 0)?.reshape((batch, seq, table.dim(1)?))
    }

    /// [`Network::logits`] from looked-up word vectors: backpropagate from these, and the
    /// gradient of `words` holds the word table's gradient, row by row.
    pub(crate) fn logits_train_words(&self, words: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
        let hidden = self.bert.forward_words(words, mask)?;
        self.head.forward(&bert::mean_pool(&hidden, mask)?)
    }

    /// Index in [`Network::vars`] of the word-embedding table.
    pub(crate) fn word_table_index(&self) -> Option<usize> {
        self.vars.iter().position(|(name, _)| WORD_EMBEDDING_KEYS.contains(&name.as_str()))
    }

    /// (batch, n_labels) logits. Differentiable, the word table included: a backward pass from
    /// them reaches every parameter.
    pub(crate) fn logits(&self, ids: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
        let hidden = self.bert.forward(ids, mask)?;
        self.head.forward(&bert::mean_pool(&hidden, mask)?)
    }
}

/// The tokenizer truncating at `max_length` with padding off, plus its padding settings switched
/// to `BatchLongest` (the shipped MiniLM tokenizer pads every text to a fixed 128).
fn load_tokenizer(
    path: &Path,
    max_length: usize,
    special_tokens: &[String],
) -> Result<(Tokenizer, PaddingParams), FinetuneError> {
    let mut tokenizer = Tokenizer::from_file(path).map_err(|e| load_err(path, e))?;
    let truncation = TruncationParams { max_length, ..tokenizer.get_truncation().cloned().unwrap_or_default() };
    tokenizer.with_truncation(Some(truncation)).map_err(|e| load_err(path, format!("cannot set truncation: {e}")))?;
    let padding = PaddingParams {
        strategy: PaddingStrategy::BatchLongest,
        ..tokenizer.get_padding().cloned().unwrap_or_default()
    };
    tokenizer.with_padding(None);
    let added = special_tokens.iter().map(|token| AddedToken::from(token.as_str(), true));
    tokenizer.add_special_tokens(added).map_err(|e| load_err(path, format!("cannot add special tokens: {e}")))?;
    Ok((tokenizer, padding))
}

/// Appends `vocab_size - base_vocab_size` rows to the word embeddings, each the mean of the
/// existing rows (a neutral start for a new token, unlike a random vector of the wrong scale).
fn grow_word_embeddings(
    tensors: &mut HashMap<String, Tensor>,
    base_vocab_size: usize,
    vocab_size: usize,
) -> Result<(), String> {
    let key = WORD_EMBEDDING_KEYS
        .into_iter()
        .find(|key| tensors.contains_key(*key))
        .ok_or_else(|| format!("has no `{}` tensor", WORD_EMBEDDING_KEYS[0]))?;
    let word = tensors[key].to_dtype(DType::F32).map_err(|e| e.to_string())?;
    let (rows, hidden) = word.dims2().map_err(|e| format!("{key}: {e}"))?;
    if rows != base_vocab_size {
        return Err(format!("{key} has {rows} rows but {CONFIG_FILE} says vocab_size {base_vocab_size}"));
    }
    if vocab_size > rows {
        let grown = word
            .mean_keepdim(0)
            .and_then(|mean| mean.broadcast_as((vocab_size - rows, hidden)))
            .and_then(|extra| Tensor::cat(&[&word, &extra], 0))
            .map_err(|e| format!("{key}: cannot add rows: {e}"))?;
        tensors.insert(key.to_owned(), grown);
    }
    Ok(())
}

/// A linear layer (hidden -> n_labels) with PyTorch's default weight range U(-1/sqrt(hidden),
/// 1/sqrt(hidden)) drawn from `rng`, and a zero bias.
fn init_head(hidden: usize, n_labels: usize, rng: &mut impl Rng) -> candle_core::Result<(Linear, [(String, Var); 2])> {
    let bound = 1.0 / (hidden as f32).sqrt();
    let weight: Vec<f32> = (0..n_labels * hidden).map(|_| rng.random_range(-bound..bound)).collect();
    let weight = Var::from_vec(weight, (n_labels, hidden), &Device::Cpu)?;
    let bias = Var::zeros(n_labels, DType::F32, &Device::Cpu)?;
    let head = Linear::new(weight.as_tensor().clone(), Some(bias.as_tensor().clone()));
    Ok((head, [(HEAD_WEIGHT.to_owned(), weight), (HEAD_BIAS.to_owned(), bias)]))
}

/// A `VarBuilder` backend that hands the model a trainable copy (`Var`) of each checkpoint
/// tensor it asks for and records it, so the optimiser gets exactly the tensors the model uses
/// (not the checkpoint's unused pooler or `position_ids`).
struct TrainableCheckpoint {
    tensors: HashMap<String, Tensor>,
    vars: Arc<Mutex<Vec<(String, Var)>>>,
}

impl TrainableCheckpoint {
    fn var(&self, name: &str, shape: Option<&Shape>, dtype: DType, device: &Device) -> candle_core::Result<Tensor> {
        let mut vars = self.vars.lock().unwrap_or_else(PoisonError::into_inner);
        let tensor = match vars.iter().find(|(var_name, _)| var_name == name) {
            Some((_, var)) => var.as_tensor().clone(),
            None => {
                let stored = self
                    .tensors
                    .get(name)
                    .ok_or_else(|| candle_core::Error::CannotFindTensor { path: name.to_owned() }.bt())?;
                let var = Var::from_tensor(&stored.to_dtype(dtype)?.to_device(device)?)?;
                vars.push((name.to_owned(), var.clone()));
                var.as_tensor().clone()
            }
        };
        if let Some(shape) = shape.filter(|shape| *shape != tensor.shape()) {
            candle_core::bail!("tensor {name} has shape {:?}, expected {shape:?}", tensor.shape())
        }
        Ok(tensor)
    }
}

impl SimpleBackend for TrainableCheckpoint {
    fn get(&self, shape: Shape, name: &str, _init: Init, dtype: DType, device: &Device) -> candle_core::Result<Tensor> {
        self.var(name, Some(&shape), dtype, device)
    }

    fn get_unchecked(&self, name: &str, dtype: DType, device: &Device) -> candle_core::Result<Tensor> {
        self.var(name, None, dtype, device)
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }
}

fn load_err(path: &Path, message: impl std::fmt::Display) -> FinetuneError {
    FinetuneError::Load { path: path.to_path_buf(), message: message.to_string() }
}
