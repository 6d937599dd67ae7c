//! LayerNorm and softmax over the last dimension as single candle ops *with* a backward pass.
//!
//! candle-nn's fused versions have none (gradients silently stop), and composing them from
//! primitives (`layer_norm_slow`, `ops::softmax`) records a dozen whole-tensor ops each, forward
//! and backward, which made them a large share of a fine-tuning step. Each op here is one pass
//! forward and a handful of tensor ops backward; the results match the composed versions to
//! float rounding (tested against them, values and gradients).

use candle_core::{CpuStorage, CustomOp1, D, Layout, Result, Shape, Tensor};

/// Rows of the last dimension of a contiguous f32 tensor.
fn rows<'a>(storage: &'a CpuStorage, layout: &Layout, op: &str) -> Result<(&'a [f32], usize)> {
    let CpuStorage::F32(data) = storage else { candle_core::bail!("{op}: f32 only") };
    let Some((start, end)) = layout.contiguous_offsets() else { candle_core::bail!("{op}: contiguous input only") };
    Ok((&data[start..end], layout.dims().last().copied().unwrap_or(1).max(1)))
}

/// `(x - mean) / sqrt(var + eps)` along the last dimension (LayerNorm without its affine part).
struct Normalize {
    eps: f32,
}

impl CustomOp1 for Normalize {
    fn name(&self) -> &'static str {
        "normalize-last-dim"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (xs, width) = rows(storage, layout, self.name())?;
        let mut out = Vec::with_capacity(xs.len());
        for row in xs.chunks_exact(width) {
            let n = width as f32;
            let mean = row.iter().sum::<f32>() / n;
            let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
            let inv = 1.0 / (var + self.eps).sqrt();
            out.extend(row.iter().map(|v| (v - mean) * inv));
        }
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }

    /// dx = (g - mean(g) - x̂ · mean(g · x̂)) / σ, with σ recomputed from the input.
    fn bwd(&self, arg: &Tensor, res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        let centred = arg.broadcast_sub(&arg.mean_keepdim(D::Minus1)?)?;
        let inv_std = (centred.sqr()?.mean_keepdim(D::Minus1)? + self.eps as f64)?.sqrt()?.recip()?;
        let g_mean = grad_res.mean_keepdim(D::Minus1)?;
        let gx_mean = (grad_res * res)?.mean_keepdim(D::Minus1)?;
        let inner = grad_res.broadcast_sub(&g_mean)?.sub(&res.broadcast_mul(&gx_mean)?)?;
        Ok(Some(inner.broadcast_mul(&inv_std)?))
    }
}

/// LayerNorm over the last dimension, differentiable in `xs`, `weight` and `bias`.
pub fn layer_norm(xs: &Tensor, weight: &Tensor, bias: &Tensor, eps: f32) -> Result<Tensor> {
    xs.contiguous()?.apply_op1(Normalize { eps })?.broadcast_mul(weight)?.broadcast_add(bias)
}

struct Softmax;

impl CustomOp1 for Softmax {
    fn name(&self) -> &'static str {
        "softmax-last-dim"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (xs, width) = rows(storage, layout, self.name())?;
        let mut out = Vec::with_capacity(xs.len());
        for row in xs.chunks_exact(width) {
            let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let start = out.len();
            out.extend(row.iter().map(|v| (v - max).exp()));
            let total: f32 = out[start..].iter().sum();
            out[start..].iter_mut().for_each(|v| *v /= total);
        }
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }

    /// dx = y · (g - Σ g·y).
    fn bwd(&self, _arg: &Tensor, res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        let dot = (grad_res * res)?.sum_keepdim(D::Minus1)?;
        Ok(Some((res * grad_res.broadcast_sub(&dot)?)?))
    }
}

/// Softmax over the last dimension, differentiable.
pub fn softmax_last_dim(xs: &Tensor) -> Result<Tensor> {
    xs.contiguous()?.apply_op1(Softmax)
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Var};

    use super::*;

    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar().unwrap()
    }

    #[test]
    fn values_and_gradients_match_the_composed_versions() {
        let dev = Device::Cpu;
        let x = Var::from_tensor(&(Tensor::randn(0f32, 2.0, (3, 5, 16), &dev).unwrap() + 0.5).unwrap()).unwrap();
        let w = Var::from_tensor(&Tensor::randn(1f32, 0.3, 16, &dev).unwrap()).unwrap();
        let b = Var::from_tensor(&Tensor::randn(0f32, 0.3, 16, &dev).unwrap()).unwrap();
        // A loss that weighs every output differently, so wrong gradients cannot cancel out.
        let weights = Tensor::randn(0f32, 1.0, (3, 5, 16), &dev).unwrap();
        let loss = |y: &Tensor| (y * &weights).unwrap().sum_all().unwrap();

        let ours = layer_norm(&x, &w, &b, 1e-5).unwrap();
        let theirs = candle_nn::ops::layer_norm_slow(&x, &w, &b, 1e-5).unwrap();
        assert!(max_diff(&ours, &theirs) < 1e-5);
        let (g_ours, g_theirs) = (loss(&ours).backward().unwrap(), loss(&theirs).backward().unwrap());
        for var in [&x, &w, &b] {
            let (a, b) = (g_ours.get(var).expect("gradient"), g_theirs.get(var).expect("gradient"));
            assert!(max_diff(a, b) < 1e-4, "layer norm gradient differs by {}", max_diff(a, b));
        }

        let ours = softmax_last_dim(&x).unwrap();
        let theirs = candle_nn::ops::softmax(&x, D::Minus1).unwrap();
        assert!(max_diff(&ours, &theirs) < 1e-6);
        let (a, b) = (loss(&ours).backward().unwrap(), loss(&theirs).backward().unwrap());
        let (a, b) = (a.get(&x).expect("gradient"), b.get(&x).expect("gradient"));
        assert!(max_diff(a, b) < 1e-5, "softmax gradient differs by {}", max_diff(a, b));
    }
}
