//! A small BERT encoder on candle: fast inference, plus a differentiable pass for fine-tuning.
//!
//! Own code instead of `candle-transformers`, which compiles its whole model zoo (~2.5 min on two
//! cores) for one model. Only what sentence encoders need: absolute positions, a single segment,
//! post-LayerNorm blocks, no pooler, no dropout.
//!
//! Every step runs as one of `train_ops`' single ops with a hand-written backward pass (candle-nn's
//! fused LayerNorm and softmax record none: gradients would silently stop there), so the same
//! forward pass serves prediction and training. Attention skips padding, so the hidden states of
//! padding positions are unspecified: pool over real tokens only, as [`mean_pool`] does.

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

    /// The activation of `xs + bias`, the bias of the dense layer before it.
    fn apply(self, xs: &Tensor, bias: &Tensor) -> Result<Tensor> {
        match self {
            Activation::GeluErf => crate::train_ops::bias_gelu(xs, bias),
            Activation::GeluTanh => xs.broadcast_add(bias)?.gelu(),
            Activation::Relu => xs.broadcast_add(bias)?.relu(),
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
    fn forward(&self, words: &Tensor) -> Result<Tensor> {
        let seq_len = words.dim(1)?;
        let positions = Tensor::arange(0u32, seq_len as u32, words.device())?;
        let xs = words.broadcast_add(&self.position.forward(&positions)?)?.broadcast_add(&self.segment0)?;
        let (weight, beta, eps) = norm_params(&self.norm)?;
        crate::train_ops::layer_norm(&xs, weight, beta, eps)
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

    /// `xs`: (batch · seq, hidden); `spans`: where each text's tokens are.
    fn forward(&self, xs: &Tensor, spans: &Spans) -> Result<Tensor> {
        use crate::train_ops::{add_norm, attention, linear};
        // One (3·hidden, hidden) product for queries, keys and values: the weights are
        // concatenated per pass (1.7 MB for MiniLM), so fine-tuning still updates three tensors.
        let weight = Tensor::cat(&[self.query.weight(), self.key.weight(), self.value.weight()], 0)?;
        let qkv_bias = Tensor::cat(&[bias_of(&self.query)?, bias_of(&self.key)?, bias_of(&self.value)?], 0)?;
        let context = attention(&linear(xs, &weight, Some(&qkv_bias))?, self.heads, spans)?;
        // The next three products leave their bias to the op after them (one pass less each way).
        let (weight, beta, eps) = norm_params(&self.attn_norm)?;
        let xs = add_norm(
            &linear(&context, self.attn_out.weight(), None)?,
            xs,
            bias_of(&self.attn_out)?,
            weight,
            beta,
            eps,
        )?;
        let inner = self.act.apply(&linear(&xs, self.intermediate.weight(), None)?, bias_of(&self.intermediate)?)?;
        let (weight, beta, eps) = norm_params(&self.out_norm)?;
        add_norm(&linear(&inner, self.output.weight(), None)?, &xs, bias_of(&self.output)?, weight, beta, eps)
    }
}

fn bias_of(lin: &Linear) -> Result<&Tensor> {
    lin.bias().ok_or_else(|| candle_core::Error::msg("a dense layer without a bias is not supported"))
}

/// (weight, beta, eps) of a LayerNorm.
fn norm_params(norm: &LayerNorm) -> Result<(&Tensor, &Tensor, f32)> {
    let beta = norm.bias().ok_or_else(|| candle_core::Error::msg("LayerNorm without a bias is not supported"))?;
    Ok((norm.weight(), beta, norm.eps() as f32))
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

    /// `ids`, `attention_mask`: (batch, seq) u32, mask 1 for real tokens and 0 for padding;
    /// each text's tokens must be one contiguous run. Returns (batch, seq, hidden). When the
    /// weights are `Var`s, a backward pass from the output reaches every one of them.
    pub fn forward(&self, ids: &Tensor, attention_mask: &Tensor) -> Result<Tensor> {
        self.forward_words(&self.embeddings.word.forward(ids)?, attention_mask)
    }

    /// [`BertModel::forward`] from the word vectors of the batch's ids, (batch, seq, hidden),
    /// looked up by the caller. Backpropagation then stops at `words` instead of reaching the
    /// whole word table: a fine-tuner applies the row gradients itself, without a dense (vocab,
    /// hidden) gradient per step.
    pub fn forward_words(&self, words: &Tensor, attention_mask: &Tensor) -> Result<Tensor> {
        let spans = Spans::from_mask(attention_mask)?;
        let (b, t, h) = words.dims3()?;
        let mut xs = self.embeddings.forward(words)?.reshape((b * t, h))?;
        for layer in &self.layers {
            xs = layer.forward(&xs, &spans)?;
        }
        xs.reshape((b, t, h))
    }

    /// The (vocab, hidden) word-embedding table.
    pub fn word_table(&self) -> &Tensor {
        self.embeddings.word.embeddings()
    }
}

/// Mean of the hidden states over real tokens: (batch, seq, hidden) -> (batch, hidden).
pub fn mean_pool(hidden: &Tensor, attention_mask: &Tensor) -> Result<Tensor> {
    let mask = attention_mask.to_dtype(DType::F32)?.unsqueeze(D::Minus1)?;
    let counts = mask.sum(1)?.clamp(1e-9, f64::MAX)?;
    hidden.broadcast_mul(&mask)?.sum(1)?.broadcast_div(&counts)
}
