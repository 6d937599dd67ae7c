//! The inference path of [`crate::MiniLmEncoder`]: BERT forward on plain f32 buffers, texts
//! packed end to end without padding, one thread per group of texts.
//!
//! Measured on candle (see BENCHMARKS.md), most of the time went outside the matrix products:
//! per-op tensor allocation, padding, scalar `erf`, and candle's pools fighting over two cores.
//! Here a layer is four dense products (`linear.rs`, bf16 on AVX-512 BF16 CPUs) plus fused
//! attention, residual + LayerNorm and GELU (`ops.rs`); a text only ever attends to its own tokens,
//! so no mask and no padded rows exist, and threads share nothing but the read-only weights.

pub mod linear;
pub(crate) mod ops;

use candle_core::{DType, Result};
use candle_nn::VarBuilder;

use crate::bert::BertConfig;
pub use linear::Kernel;
use linear::Linear;

struct Layer {
    /// Query, key and value in one product: `[3 * hidden]` outputs.
    qkv: Linear,
    attn_out: Linear,
    attn_norm: (Vec<f32>, Vec<f32>),
    intermediate: Linear,
    output: Linear,
    out_norm: (Vec<f32>, Vec<f32>),
}

/// Weights of a BERT encoder laid out for [`FastBert::embed`].
pub struct FastBert {
    word: Vec<f32>,
    /// Position rows with the token-type-0 row already added (every text is one segment).
    position: Vec<f32>,
    embed_norm: (Vec<f32>, Vec<f32>),
    layers: Vec<Layer>,
    hidden: usize,
    heads: usize,
    eps: f32,
    kernel: Kernel,
}

/// Per-thread buffers, reused across layers and groups.
#[derive(Default)]
struct Scratch {
    xs: Vec<f32>,
    qkv: Vec<f32>,
    ctx: Vec<f32>,
    tmp: Vec<f32>,
    inner: Vec<f32>,
    bf16: Vec<u16>,
}

fn vec1(vb: &VarBuilder, n: usize, name: &str) -> Result<Vec<f32>> {
    vb.get(n, name)?.to_dtype(DType::F32)?.to_vec1()
}

fn vec2(vb: &VarBuilder, rows: usize, cols: usize, name: &str) -> Result<Vec<f32>> {
    vb.get((rows, cols), name)?.to_dtype(DType::F32)?.flatten_all()?.to_vec1()
}

fn norm(vb: &VarBuilder, h: usize) -> Result<(Vec<f32>, Vec<f32>)> {
    Ok((vec1(vb, h, "weight")?, vec1(vb, h, "bias")?))
}

fn linear(vb: &VarBuilder, n_in: usize, n_out: usize, kernel: Kernel) -> Result<Linear> {
    Ok(Linear::new(vec2(vb, n_out, n_in, "weight")?, vec1(vb, n_out, "bias")?, n_in, kernel))
}

impl FastBert {
    /// Loads from `vb` (keys with or without the `bert.` prefix), for the given kernel.
    pub fn load(vb: VarBuilder, cfg: &BertConfig, kernel: Kernel) -> Result<FastBert> {
        let vb = if !vb.contains_tensor("embeddings.word_embeddings.weight")
            && vb.contains_tensor("bert.embeddings.word_embeddings.weight")
        {
            vb.pp("bert")
        } else {
            vb
        };
        if cfg.hidden_act != "gelu" {
            candle_core::bail!("the fast path implements hidden_act \"gelu\" only, not {:?}", cfg.hidden_act);
        }
        let (h, i) = (cfg.hidden_size, cfg.intermediate_size);
        let emb = vb.pp("embeddings");
        let segment0 = vec2(&emb.pp("token_type_embeddings"), cfg.type_vocab_size, h, "weight")?;
        let mut position = vec2(&emb.pp("position_embeddings"), cfg.max_position_embeddings, h, "weight")?;
        for row in position.chunks_exact_mut(h) {
            for (p, s) in row.iter_mut().zip(&segment0[..h]) {
                *p += s;
            }
        }
        let mut layers = Vec::with_capacity(cfg.num_hidden_layers);
        for idx in 0..cfg.num_hidden_layers {
            let vb = vb.pp("encoder").pp("layer").pp(idx);
            let (attn, own) = (vb.pp("attention"), vb.pp("attention").pp("self"));
            let parts = ["query", "key", "value"].map(|name| {
                let lin = own.pp(name);
                Ok::<_, candle_core::Error>((vec2(&lin, h, h, "weight")?, vec1(&lin, h, "bias")?))
            });
            let (mut weight, mut bias) = (Vec::with_capacity(3 * h * h), Vec::with_capacity(3 * h));
            for part in parts {
                let (w, b) = part?;
                weight.extend(w);
                bias.extend(b);
            }
            layers.push(Layer {
                qkv: Linear::new(weight, bias, h, kernel),
                attn_out: linear(&attn.pp("output").pp("dense"), h, h, kernel)?,
                attn_norm: norm(&attn.pp("output").pp("LayerNorm"), h)?,
                intermediate: linear(&vb.pp("intermediate").pp("dense"), h, i, kernel)?,
                output: linear(&vb.pp("output").pp("dense"), i, h, kernel)?,
                out_norm: norm(&vb.pp("output").pp("LayerNorm"), h)?,
            });
        }
        Ok(FastBert {
            word: vec2(&emb.pp("word_embeddings"), cfg.vocab_size, h, "weight")?,
            position,
            embed_norm: norm(&emb.pp("LayerNorm"), h)?,
            layers,
            hidden: h,
            heads: cfg.num_attention_heads,
            eps: cfg.layer_norm_eps as f32,
            kernel,
        })
    }

    pub fn kernel(&self) -> Kernel {
        self.kernel
    }

    /// Mean-pooled last hidden states (not normalised) of each text, given as token ids.
    /// `groups` lists ranges of `texts` run as one packed product each; with `threads` > 1 the
    /// groups are shared out among that many scoped threads.
    pub fn embed(&self, texts: &[&[u32]], groups: &[std::ops::Range<usize>], threads: usize) -> Vec<Vec<f32>> {
        let mut rows = vec![Vec::new(); texts.len()];
        if threads <= 1 || groups.len() <= 1 {
            let mut scratch = Scratch::default();
            for group in groups {
                for (row, pooled) in rows[group.clone()].iter_mut().zip(self.group(&texts[group.clone()], &mut scratch))
                {
                    *row = pooled;
                }
            }
            return rows;
        }
        let next = std::sync::atomic::AtomicUsize::new(0);
        let results = std::sync::Mutex::new(&mut rows);
        std::thread::scope(|scope| {
            for _ in 0..threads.min(groups.len()) {
                scope.spawn(|| {
                    let mut scratch = Scratch::default();
                    loop {
                        let idx = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(group) = groups.get(idx) else { break };
                        let pooled = self.group(&texts[group.clone()], &mut scratch);
                        let mut rows = results.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                        for (row, pooled) in rows[group.clone()].iter_mut().zip(pooled) {
                            *row = pooled;
                        }
                    }
                });
            }
        });
        rows
    }

    /// One packed forward pass over `texts`, returning each text's mean-pooled state.
    fn group(&self, texts: &[&[u32]], s: &mut Scratch) -> Vec<Vec<f32>> {
        let h = self.hidden;
        let mut spans = Vec::with_capacity(texts.len());
        s.xs.clear();
        for ids in texts {
            spans.push((s.xs.len() / h, ids.len()));
            for (pos, &id) in ids.iter().enumerate() {
                let word = &self.word[id as usize * h..][..h];
                let position = &self.position[pos * h..][..h];
                s.xs.extend(word.iter().zip(position).map(|(w, p)| w + p));
            }
        }
        let tokens = s.xs.len() / h;
        ops::norm_rows(&mut s.xs, &self.embed_norm.0, &self.embed_norm.1, self.eps);
        for layer in &self.layers {
            layer.qkv.forward(&s.xs, tokens, &mut s.qkv, &mut s.bf16);
            s.ctx.resize(tokens * h, 0.0);
            ops::attention(self.kernel, &s.qkv, h, self.heads, &spans, &mut s.ctx);
            // The next three products leave their bias to the pass after them (one pass less).
            layer.attn_out.forward_unbiased(&s.ctx, tokens, &mut s.tmp, &mut s.bf16);
            let (gamma, beta) = &layer.attn_norm;
            ops::add_norm(self.kernel, &mut s.tmp, &s.xs, layer.attn_out.bias(), gamma, beta, self.eps);
            std::mem::swap(&mut s.xs, &mut s.tmp);
            layer.intermediate.forward_unbiased(&s.xs, tokens, &mut s.inner, &mut s.bf16);
            ops::bias_gelu(self.kernel, &mut s.inner, layer.intermediate.bias());
            layer.output.forward_unbiased(&s.inner, tokens, &mut s.tmp, &mut s.bf16);
            let (gamma, beta) = &layer.out_norm;
            ops::add_norm(self.kernel, &mut s.tmp, &s.xs, layer.output.bias(), gamma, beta, self.eps);
            std::mem::swap(&mut s.xs, &mut s.tmp);
        }
        spans
            .iter()
            .map(|&(first, len)| {
                let mut pooled = vec![0.0f32; h];
                for row in s.xs[first * h..(first + len) * h].chunks_exact(h) {
                    for (p, v) in pooled.iter_mut().zip(row) {
                        *p += v;
                    }
                }
                let n = len.max(1) as f32;
                pooled.iter_mut().for_each(|p| *p /= n);
                pooled
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
