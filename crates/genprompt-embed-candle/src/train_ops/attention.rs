//! Self-attention as one candle op with a backward pass, over the packed output of a fused
//! query/key/value layer.
//!
//! Composed from candle ops, attention was a reshape, a transpose and a copy per projection, a
//! batched product per head, the mask add and a softmax, and then their backward passes: the
//! small per-head products ran one after another, and the second thread idled (fine-tuning
//! gained 1.24x from two cores). Here each text is one parallel task that runs every head with the
//! `gemm` crate reading the heads in place through strides, as the inference pass does, and
//! padding is skipped: a text attends over its span of tokens only.
//!
//! Backward recomputes the attention weights (one more small product per head, as
//! FlashAttention does) instead of keeping them from the forward pass: nothing is held between
//! the passes, and the op stays stateless.

use std::sync::Arc;

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::rows;
use crate::fast::Kernel;
use crate::fast::ops;

/// Where each text's tokens are in a batch padded to `seq` rows per text.
#[derive(Clone, Debug)]
pub(crate) struct Spans {
    seq: usize,
    /// Per text: first token row within the text's `seq` rows, and the token count.
    spans: Arc<[(usize, usize)]>,
}

impl Spans {
    /// Reads the spans from a (batch, seq) 0/1 attention mask. Each text's tokens must be one
    /// contiguous run (right or left padding), which is what tokenizers produce.
    pub(crate) fn from_mask(mask: &Tensor) -> Result<Spans> {
        let (_, seq) = mask.dims2()?;
        let rows = mask.to_dtype(candle_core::DType::U32)?.to_vec2::<u32>()?;
        let spans = rows
            .iter()
            .enumerate()
            .map(|(text, row)| {
                let first = row.iter().position(|&m| m != 0).unwrap_or(0);
                let len = row[first..].iter().take_while(|&&m| m != 0).count();
                if row[first + len..].iter().any(|&m| m != 0) {
                    candle_core::bail!("attention mask of text {text} is not one contiguous run of tokens: {row:?}")
                }
                Ok((first, len))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Spans { seq, spans: spans.into() })
    }
}

/// Attention over `qkv`, (batch · seq, 3 · hidden): queries, keys and values side by side, as a
/// fused projection writes them. Returns the context, (batch · seq, hidden), zero at padding.
/// Differentiable in `qkv`.
pub(crate) fn attention(qkv: &Tensor, heads: usize, spans: &Spans) -> Result<Tensor> {
    qkv.contiguous()?.apply_op1(Attention { heads, spans: spans.clone(), kernel: Kernel::detect() })
}

struct Attention {
    heads: usize,
    spans: Spans,
    kernel: Kernel,
}

/// Checks `qkv` against the spans and returns it with its hidden width.
fn check<'a>(op: &str, storage: &'a CpuStorage, layout: &Layout, spans: &Spans) -> Result<(&'a [f32], usize)> {
    let (qkv, width) = rows(storage, layout, op)?;
    if !width.is_multiple_of(3) || qkv.len() != spans.spans.len() * spans.seq * width {
        candle_core::bail!(
            "{op}: {} values in rows of {width} for {} texts of {}",
            qkv.len(),
            spans.spans.len(),
            spans.seq
        )
    }
    Ok((qkv, width / 3))
}

impl CustomOp1 for Attention {
    fn name(&self) -> &'static str {
        "attention"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (qkv, hidden) = check(self.name(), storage, layout, &self.spans)?;
        let seq = self.spans.seq;
        let mut ctx = vec![0.0; qkv.len() / 3];
        (qkv.par_chunks(seq * 3 * hidden), ctx.par_chunks_mut(seq * hidden), &self.spans.spans[..])
            .into_par_iter()
            .for_each(|(qkv, ctx, &span)| ops::attention(self.kernel, qkv, hidden, self.heads, &[span], ctx));
        Ok((CpuStorage::F32(ctx), Shape::from((qkv.len() / (3 * hidden), hidden))))
    }

    fn bwd(&self, qkv: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let grad_op = AttentionGrad { heads: self.heads, spans: self.spans.clone() };
        Ok(Some(qkv.apply_op2(&grad.contiguous()?, grad_op)?))
    }
}

/// The gradient of [`Attention`] with respect to `qkv`, from `qkv` and the context's gradient.
struct AttentionGrad {
    heads: usize,
    spans: Spans,
}

impl CustomOp2 for AttentionGrad {
    fn name(&self) -> &'static str {
        "attention-grad"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (qkv, hidden) = check(self.name(), s1, l1, &self.spans)?;
        let (grads, _) = rows(s2, l2, self.name())?;
        if grads.len() * 3 != qkv.len() {
            candle_core::bail!("{}: {} values but {} gradients", self.name(), qkv.len(), grads.len())
        }
        let seq = self.spans.seq;
        let mut out = vec![0.0; qkv.len()];
        (qkv.par_chunks(seq * 3 * hidden), grads.par_chunks(seq * hidden), out.par_chunks_mut(seq * 3 * hidden))
            .into_par_iter()
            .zip(&self.spans.spans[..])
            .for_each(|((qkv, grads, out), &(first, len))| {
                let rows = first..first + len;
                let (qkv, out) = (
                    &qkv[rows.start * 3 * hidden..rows.end * 3 * hidden],
                    &mut out[rows.start * 3 * hidden..rows.end * 3 * hidden],
                );
                text_grad(qkv, &grads[rows.start * hidden..rows.end * hidden], hidden, self.heads, out);
            });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

/// One text's `d qkv` (`out`, `[len][3 · hidden]`, zeroed) from its `qkv` rows and the gradient
/// of its context rows `g` (`[len][hidden]`). Per head, with P = softmax(s · Q Kᵀ):
/// dV = Pᵀ G, dP = G Vᵀ, dS = s · P ⊙ (dP − rowsum(dP ⊙ P)), dQ = dS K, dK = dSᵀ Q.
fn text_grad(qkv: &[f32], g: &[f32], hidden: usize, heads: usize, out: &mut [f32]) {
    let len = g.len() / hidden;
    if len == 0 {
        return;
    }
    let head_dim = hidden / heads;
    let scale = 1.0 / (head_dim as f32).sqrt();
    let stride = 3 * hidden;
    let (mut p, mut ds) = (vec![0.0f32; len * len], vec![0.0f32; len * len]);
    let n = len as isize;
    let (s, h) = (stride as isize, hidden as isize);
    for head in 0..heads {
        let (q, k, v) = (head * head_dim, hidden + head * head_dim, 2 * hidden + head * head_dim);
        let g = &g[head * head_dim..];
        // SAFETY: every (row, column) these strides reach is below (len, 3 · hidden) in `qkv` and
        // `out`, (len, hidden) in `g` (offset by whole columns only) and (len, len) in `p` and
        // `ds`; `out`, `p` and `ds` are distinct buffers that alias nothing read here.
        unsafe {
            // P = softmax(s · Q Kᵀ), as in the forward pass.
            product(
                len,
                len,
                head_dim,
                (p.as_mut_ptr(), n),
                (qkv[q..].as_ptr(), 1, s),
                (qkv[k..].as_ptr(), s, 1),
                scale,
            );
            for row in p.chunks_exact_mut(len) {
                ops::softmax(row);
            }
            // dV = Pᵀ G
            product(len, head_dim, len, (out[v..].as_mut_ptr(), s), (p.as_ptr(), n, 1), (g.as_ptr(), 1, h), 1.0);
            // dP = G Vᵀ
            product(len, len, head_dim, (ds.as_mut_ptr(), n), (g.as_ptr(), 1, h), (qkv[v..].as_ptr(), s, 1), 1.0);
            for (dp, p) in ds.chunks_exact_mut(len).zip(p.chunks_exact(len)) {
                let dot: f32 = dp.iter().zip(p).map(|(a, b)| a * b).sum();
                dp.iter_mut().zip(p).for_each(|(dp, p)| *dp = scale * p * (*dp - dot));
            }
            // dQ = dS K, dK = dSᵀ Q
            product(
                len,
                head_dim,
                len,
                (out[q..].as_mut_ptr(), s),
                (ds.as_ptr(), 1, n),
                (qkv[k..].as_ptr(), 1, s),
                1.0,
            );
            product(
                len,
                head_dim,
                len,
                (out[k..].as_mut_ptr(), s),
                (ds.as_ptr(), n, 1),
                (qkv[q..].as_ptr(), 1, s),
                1.0,
            );
        }
    }
}

/// `dst = scale · lhs · rhs` for an (m, k) `lhs` and a (k, n) `rhs`, single-threaded. `dst` is
/// (pointer, row stride) with unit column stride; `lhs` and `rhs` are (pointer, column stride,
/// row stride), so transposes and heads are read in place.
///
/// # Safety
/// Every element the strides reach must lie in a live buffer, and `dst` must not alias the others.
unsafe fn product(
    m: usize,
    n: usize,
    k: usize,
    dst: (*mut f32, isize),
    lhs: (*const f32, isize, isize),
    rhs: (*const f32, isize, isize),
    scale: f32,
) {
    // SAFETY: forwarded from the caller.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.0,
            1,
            dst.1,
            false,
            lhs.0,
            lhs.1,
            lhs.2,
            rhs.0,
            rhs.1,
            rhs.2,
            0.0,
            scale,
            false,
            false,
            false,
            gemm::Parallelism::None,
        )
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{D, Device, Var};

    use super::*;

    /// The composed candle version, masking padding with an additive f32::MIN.
    fn composed(qkv: &Tensor, mask: &Tensor, heads: usize) -> Tensor {
        let (b, t) = mask.dims2().unwrap();
        let hidden = qkv.dim(1).unwrap() / 3;
        let d = hidden / heads;
        let split = |i: usize| {
            qkv.narrow(1, i * hidden, hidden)
                .unwrap()
                .reshape((b, t, heads, d))
                .unwrap()
                .transpose(1, 2)
                .unwrap()
                .contiguous()
                .unwrap()
        };
        let additive =
            mask.to_dtype(candle_core::DType::F32).unwrap().affine(f32::MAX as f64, f32::MIN as f64).unwrap();
        let scores = (split(0).matmul(&split(1).t().unwrap()).unwrap() / (d as f64).sqrt()).unwrap();
        let scores = scores.broadcast_add(&additive.unsqueeze(1).unwrap().unsqueeze(1).unwrap()).unwrap();
        let probs = candle_nn::ops::softmax(&scores, D::Minus1).unwrap();
        probs.matmul(&split(2)).unwrap().transpose(1, 2).unwrap().reshape((b * t, hidden)).unwrap()
    }

    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar().unwrap()
    }

    #[test]
    fn values_and_gradients_match_the_composed_version() {
        let dev = Device::Cpu;
        let (b, t, heads, hidden) = (4, 9, 3, 24);
        // Right padding, a full text, left padding and a single token.
        let mask: Vec<u32> = [(0, 6), (0, 9), (2, 7), (0, 1)]
            .iter()
            .flat_map(|&(first, len)| (0..t).map(move |i| u32::from(i >= first && i < first + len)))
            .collect();
        let mask = Tensor::from_vec(mask, (b, t), &dev).unwrap();
        let spans = Spans::from_mask(&mask).unwrap();
        let qkv = Var::from_tensor(&Tensor::randn(0f32, 1.5, (b * t, 3 * hidden), &dev).unwrap()).unwrap();
        // Loss weights: random on real tokens, zero on padding (whose outputs are unspecified).
        let real = mask.to_dtype(candle_core::DType::F32).unwrap().reshape((b * t, 1)).unwrap();
        let weights = Tensor::randn(0f32, 1.0, (b * t, hidden), &dev).unwrap().broadcast_mul(&real).unwrap();
        let loss = |y: &Tensor| (y * &weights).unwrap().sum_all().unwrap();

        let ours = attention(&qkv, heads, &spans).unwrap();
        let theirs = composed(&qkv, &mask, heads);
        let diff = max_diff(&ours.broadcast_mul(&real).unwrap(), &theirs.broadcast_mul(&real).unwrap());
        assert!(diff < 1e-5, "context differs by {diff}");
        let (a, b) = (loss(&ours).backward().unwrap(), loss(&theirs).backward().unwrap());
        let (a, b) = (a.get(&qkv).expect("gradient"), b.get(&qkv).expect("gradient"));
        assert!(max_diff(a, b) < 1e-4, "gradient differs by {}", max_diff(a, b));
        assert!(a.abs().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap() > 1.0, "no gradient at all");
    }

    #[test]
    fn a_mask_with_a_gap_is_refused() {
        let mask = Tensor::new(&[[1u32, 0, 1, 0]], &Device::Cpu).unwrap();
        let err = Spans::from_mask(&mask).unwrap_err().to_string();
        assert!(err.contains("text 0 is not one contiguous run"), "{err}");
    }
}
