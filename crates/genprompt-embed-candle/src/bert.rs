//! A small BERT encoder on candle: fast inference, plus a differentiable pass for fine-tuning.
//!
//! Own code instead of `candle-transformers`, which compiles its whole model zoo (~2.5 min on two
//! cores) for one model. Only what sentence encoders need: absolute positions, a single segment,
//! post-LayerNorm blocks, no pooler, no dropout.
//!
//! candle-nn's fused LayerNorm (taken by `LayerNorm::forward` on contiguous input) records no
//! backward op: gradients silently stop there. [`BertModel::forward`] uses it;
//! [`BertModel::forward_train`] uses `train_ops`' version, which has one. Both run attention as
//! one op (`train_ops::attention`) that skips padding, so the hidden states of padding positions
//! are unspecified: pool over real tokens only, as [`mean_pool`] does.

use candle_core::{D, DType, Module, Result, Tensor};

use crate::train_ops::Spans;
use candle_nn::{Embedding, LayerNorm, Linear, VarBuilder, embedding, layer_norm, linear};
use serde::Deserialize;

/// The fields of a Hugging Face `config.json` that the forward pass depends on.
#[derive(Clone, Debug, Deserialize)]
pub struct BertConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    #[serde(default = "default_act")]
    pub hidden_act: String,
    pub max_position_embeddings: usize,
    #[serde(default = "default_type_vocab")]
    pub type_vocab_size: usize,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    #[serde(default)]
    pub position_embedding_type: Option<String>,
}

fn default_act() -> String {
    "gelu".into()
}

fn default_type_vocab() -> usize {
    2
}

fn default_eps() -> f64 {
    1e-12
}

impl BertConfig {
    /// Rejects configurations this module would silently compute wrongly.
    pub fn validate(&self) -> std::result::Result<(), String> {
        if self.hidden_size == 0 || self.num_attention_heads == 0 {
            return Err("hidden_size and num_attention_heads must be positive".into());
        }
        if !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return Err(format!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                self.hidden_size, self.num_attention_heads
            ));
        }
        if let Some(kind) = self.position_embedding_type.as_deref().filter(|k| *k != "absolute") {
            return Err(format!("position_embedding_type {kind:?} is not supported (only \"absolute\")"));
        }
        Activation::parse(&self.hidden_act).map(|_| ())
    }
}

/// The feed-forward activation named by `hidden_act`.
#[derive(Clone, Copy, Debug)]
enum Activation {
    /// HF "gelu": the exact erf form, which all-MiniLM-L6-v2 was trained with.
    GeluErf,
    /// HF "gelu_new" / "gelu_pytorch_tanh": the tanh approximation.
    GeluTanh,
    Relu,
}

impl Activation {
    fn parse(name: &str) -> std::result::Result<Activation, String> {
        match name {
            "gelu" => Ok(Activation::GeluErf),
            "gelu_new" | "gelu_pytorch_tanh" => Ok(Activation::GeluTanh),
            "relu" => Ok(Activation::Relu),
            other => Err(format!("hidden_act {other:?} is not supported")),
        }
    }

    fn apply(self, xs: &Tensor, kernels: Kernels) -> Result<Tensor> {
        match (self, kernels) {
            (Activation::GeluErf, Kernels::Differentiable) => crate::train_ops::gelu_erf(xs),
            (Activation::GeluErf, Kernels::Fused) => xs.gelu_erf(),
            (Activation::GeluTanh, _) => xs.gelu(),
            (Activation::Relu, _) => xs.relu(),
        }
    }
}

/// Which LayerNorm and softmax kernels a forward pass runs.
#[derive(Clone, Copy, Debug)]
enum Kernels {
    /// candle-nn's fused kernels: fast, but autograd cannot see through them.
    Fused,
    /// `train_ops`' LayerNorm and GELU: every parameter gets a gradient.
    Differentiable,
}

impl Kernels {
    fn layer_norm(self, norm: &LayerNorm, xs: &Tensor) -> Result<Tensor> {
        match (self, norm.bias()) {
            (Kernels::Differentiable, Some(bias)) => {
                crate::train_ops::layer_norm(xs, norm.weight(), bias, norm.eps() as f32)
            }
            (Kernels::Differentiable, None) => candle_core::bail!("LayerNorm without a bias is not supported"),
            (Kernels::Fused, _) => norm.forward(xs),
        }
    }
}

struct Embeddings {
    word: Embedding,
    position: Embedding,
    /// Row 0 of the token-type table: every text is a single segment.
    segment0: Tensor,
    norm: LayerNorm,
}

impl Embeddings {
    fn load(vb: VarBuilder, cfg: &BertConfig) -> Result<Embeddings> {
        let h = cfg.hidden_size;
        let types = embedding(cfg.type_vocab_size, h, vb.pp("token_type_embeddings"))?;
        Ok(Embeddings {
            word: embedding(cfg.vocab_size, h, vb.pp("word_embeddings"))?,
            position: embedding(cfg.max_position_embeddings, h, vb.pp("position_embeddings"))?,
            segment0: types.embeddings().get(0)?,
            norm: layer_norm(h, cfg.layer_norm_eps, vb.pp("LayerNorm"))?,
        })
    }

    /// `words`: the (batch, seq, hidden) rows of the word table for the batch's ids.
    fn forward(&self, words: &Tensor, kernels: Kernels) -> Result<Tensor> {
        let seq_len = words.dim(1)?;
        let positions = Tensor::arange(0u32, seq_len as u32, words.device())?;
        let xs = words.broadcast_add(&self.position.forward(&positions)?)?.broadcast_add(&self.segment0)?;
        kernels.layer_norm(&self.norm, &xs)
    }
}

struct Layer {
    query: Linear,
    key: Linear,
    value: Linear,
    attn_out: Linear,
    attn_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    out_norm: LayerNorm,
    heads: usize,
    act: Activation,
}

impl Layer {
    fn load(vb: VarBuilder, cfg: &BertConfig, act: Activation) -> Result<Layer> {
        let (h, i, eps) = (cfg.hidden_size, cfg.intermediate_size, cfg.layer_norm_eps);
        let attn = vb.pp("attention");
        let own = attn.pp("self");
        Ok(Layer {
            query: linear(h, h, own.pp("query"))?,
            key: linear(h, h, own.pp("key"))?,
            value: linear(h, h, own.pp("value"))?,
            attn_out: linear(h, h, attn.pp("output").pp("dense"))?,
            attn_norm: layer_norm(h, eps, attn.pp("output").pp("LayerNorm"))?,
            intermediate: linear(h, i, vb.pp("intermediate").pp("dense"))?,
            output: linear(i, h, vb.pp("output").pp("dense"))?,
            out_norm: layer_norm(h, eps, vb.pp("output").pp("LayerNorm"))?,
            heads: cfg.num_attention_heads,
            act,
        })
    }

    /// `xs`: (batch, seq, hidden); `spans`: where each text's tokens are.
    fn forward(&self, xs: &Tensor, spans: &Spans, kernels: Kernels) -> Result<Tensor> {
        let (b, t, h) = xs.dims3()?;
        // One (3·hidden, hidden) product for queries, keys and values: the weights are
        // concatenated per pass (1.7 MB for MiniLM), so fine-tuning still updates three tensors.
        let part = |lin: &Linear| {
            lin.bias().cloned().ok_or_else(|| candle_core::Error::msg("a query, key or value layer has no bias"))
        };
        let weight = Tensor::cat(&[self.query.weight(), self.key.weight(), self.value.weight()], 0)?;
        let bias = Tensor::cat(&[part(&self.query)?, part(&self.key)?, part(&self.value)?], 0)?;
        let qkv = crate::train_ops::linear(&xs.reshape((b * t, h))?, &weight, Some(&bias))?;
        let context = crate::train_ops::attention(&qkv, self.heads, spans)?.reshape((b, t, h))?;
        let xs = kernels.layer_norm(&self.attn_norm, &(dense(&self.attn_out, &context)? + xs)?)?;
        let inner = self.act.apply(&dense(&self.intermediate, &xs)?, kernels)?;
        kernels.layer_norm(&self.out_norm, &(dense(&self.output, &inner)? + xs)?)
    }
}

/// `lin` applied to (batch, seq, in) as one (batch·seq, in) product. candle's `Linear` on a 3-d
/// input broadcasts its weight per text instead: `batch` small products forward and, backward, a
/// (batch, in, out) weight gradient summed over the batch; that cost a third of a training step.
fn dense(lin: &Linear, xs: &Tensor) -> Result<Tensor> {
    let (b, t, width) = xs.dims3()?;
    let out = crate::train_ops::linear(&xs.reshape((b * t, width))?, lin.weight(), lin.bias())?;
    let out_width = out.dim(1)?;
    out.reshape((b, t, out_width))
}

/// BERT encoder stack: token ids in, last hidden states out.
pub struct BertModel {
    embeddings: Embeddings,
    layers: Vec<Layer>,
}

impl BertModel {
    /// Loads from `vb`, which may point at a checkpoint with or without the `bert.` key prefix.
    pub fn load(vb: VarBuilder, cfg: &BertConfig) -> Result<BertModel> {
        let vb = if !vb.contains_tensor("embeddings.word_embeddings.weight")
            && vb.contains_tensor("bert.embeddings.word_embeddings.weight")
        {
            vb.pp("bert")
        } else {
            vb
        };
        let act = Activation::parse(&cfg.hidden_act).map_err(candle_core::Error::msg)?;
        let layers = (0..cfg.num_hidden_layers)
            .map(|idx| Layer::load(vb.pp("encoder").pp("layer").pp(idx), cfg, act))
            .collect::<Result<Vec<_>>>()?;
        Ok(BertModel { embeddings: Embeddings::load(vb.pp("embeddings"), cfg)?, layers })
    }

    /// `ids`, `attention_mask`: (batch, seq) u32, mask 1 for real tokens and 0 for padding.
    /// Returns (batch, seq, hidden). Fused kernels: do not backpropagate through this.
    pub fn forward(&self, ids: &Tensor, attention_mask: &Tensor) -> Result<Tensor> {
        self.run(&self.embeddings.word.forward(ids)?, attention_mask, Kernels::Fused)
    }

    /// Same as [`BertModel::forward`] (equal up to float rounding) but differentiable: when the
    /// weights are `Var`s, a backward pass from the output reaches every one of them. Slower.
    pub fn forward_train(&self, ids: &Tensor, attention_mask: &Tensor) -> Result<Tensor> {
        self.run(&self.embeddings.word.forward(ids)?, attention_mask, Kernels::Differentiable)
    }

    /// [`BertModel::forward_train`] from the word vectors of the batch's ids, (batch, seq,
    /// hidden), looked up by the caller. Backpropagation then stops at `words` instead of
    /// reaching the whole word table: a fine-tuner applies the row gradients itself, without a
    /// dense (vocab, hidden) gradient per step.
    pub fn forward_train_words(&self, words: &Tensor, attention_mask: &Tensor) -> Result<Tensor> {
        self.run(words, attention_mask, Kernels::Differentiable)
    }

    /// The (vocab, hidden) word-embedding table.
    pub fn word_table(&self) -> &Tensor {
        self.embeddings.word.embeddings()
    }

    fn run(&self, words: &Tensor, attention_mask: &Tensor, kernels: Kernels) -> Result<Tensor> {
        let spans = Spans::from_mask(attention_mask)?;
        let mut xs = self.embeddings.forward(words, kernels)?;
        for layer in &self.layers {
            xs = layer.forward(&xs, &spans, kernels)?;
        }
        Ok(xs)
    }
}

/// Mean of the hidden states over real tokens: (batch, seq, hidden) -> (batch, hidden).
pub fn mean_pool(hidden: &Tensor, attention_mask: &Tensor) -> Result<Tensor> {
    let mask = attention_mask.to_dtype(DType::F32)?.unsqueeze(D::Minus1)?;
    let counts = mask.sum(1)?.clamp(1e-9, f64::MAX)?;
    hidden.broadcast_mul(&mask)?.sum(1)?.broadcast_div(&counts)
}
