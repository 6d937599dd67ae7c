//! LayerNorm, the bias add, GELU and attention (in `attention`) as single candle ops *with* a
//! backward pass.
//!
//! candle-nn's fused versions have none (gradients silently stop), and composing them from
//! primitives (`layer_norm_slow`) records a dozen whole-tensor ops each, forward
//! and backward, which made them a large share of a fine-tuning step. Each op here is one pass
//! forward and a handful of tensor ops backward; the results match the composed versions to
//! float rounding (tested against them, values and gradients).

use candle_core::{CpuStorage, CustomOp1, CustomOp2, CustomOp3, D, Layout, Result, Shape, Tensor};

mod attention;

pub(crate) use attention::{Spans, attention};

use crate::fast::Kernel;
use crate::fast::ops;
use rayon::prelude::*;

/// Rows of the last dimension of a contiguous f32 tensor.
fn rows<'a>(storage: &'a CpuStorage, layout: &Layout, op: &str) -> Result<(&'a [f32], usize)> {
    let CpuStorage::F32(data) = storage else { candle_core::bail!("{op}: f32 only") };
    let Some((start, end)) = layout.contiguous_offsets() else { candle_core::bail!("{op}: contiguous input only") };
    Ok((&data[start..end], layout.dims().last().copied().unwrap_or(1).max(1)))
}

/// LayerNorm over the last dimension with its affine part, `(x - mean) / sqrt(var + eps) · w + b`,
/// as one op. Backward is one more pass ([`LayerNormGrad`]); composing the affine part from
/// broadcasts instead made candle sum the weight and bias gradients over strided dimensions,
/// a tenth of a fine-tuning step.
struct LayerNorm {
    eps: f32,
}

/// Mean and `1 / sqrt(var + eps)` of one row.
fn moments(row: &[f32], eps: f32) -> (f32, f32) {
    let n = row.len() as f32;
    let mean = row.iter().sum::<f32>() / n;
    let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
    (mean, 1.0 / (var + eps).sqrt())
}

impl CustomOp3 for LayerNorm {
    fn name(&self) -> &'static str {
        "layer-norm"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (xs, width) = rows(s1, l1, self.name())?;
        let (weight, bias) = (vector(s2, l2, width, self.name())?, vector(s3, l3, width, self.name())?);
        let mut out = vec![0.0; xs.len()];
        for_row_blocks(xs, &mut out, width, |row, out| {
            let (mean, inv) = moments(row, self.eps);
            for (((o, v), w), b) in out.iter_mut().zip(row).zip(weight).zip(bias) {
                *o = (v - mean) * inv * w + b;
            }
        });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    fn bwd(
        &self,
        xs: &Tensor,
        weight: &Tensor,
        _bias: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let width = xs.dim(D::Minus1)?;
        let n_rows = xs.elem_count() / width;
        let weight = weight.flatten_all()?.to_vec1::<f32>()?;
        let all = xs.apply_op2(&grad_res.contiguous()?, LayerNormGrad { eps: self.eps, weight })?;
        let dx = all.narrow(0, 0, n_rows)?.reshape(xs.shape())?;
        Ok((Some(dx), Some(all.get(n_rows)?), Some(all.get(n_rows + 1)?)))
    }
}

/// The three gradients of [`LayerNorm`] from its input `x` and output gradient `g`, stacked as
/// one (rows + 2, width) matrix: `dx` row by row, then `dw = Σ g·x̂`, then `db = Σ g`. With
/// `gw = g·w`: `dx = (gw - mean(gw) - x̂ · mean(gw·x̂)) / σ`, σ recomputed from `x`.
struct LayerNormGrad {
    eps: f32,
    weight: Vec<f32>,
}

impl CustomOp2 for LayerNormGrad {
    fn name(&self) -> &'static str {
        "layer-norm-grad"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let ((xs, width), (grads, _)) = (rows(s1, l1, self.name())?, rows(s2, l2, self.name())?);
        if xs.len() != grads.len() || width != self.weight.len() {
            candle_core::bail!("{}: {} inputs, {} gradients, {} weights", self.name(), xs.len(), grads.len(), width)
        }
        let n_rows = xs.len() / width;
        let mut out = vec![0.0; (n_rows + 2) * width];
        let (dxs, sums) = out.split_at_mut(n_rows * width);
        let block = ROWS_PER_TASK * width;
        // Each block of rows writes its dx rows and returns its share of dw and db (2 x width).
        let partial = (xs.par_chunks(block), grads.par_chunks(block), dxs.par_chunks_mut(block))
            .into_par_iter()
            .map(|(xs, grads, dxs)| {
                let mut sums = vec![0.0; 2 * width];
                let (dw, db) = sums.split_at_mut(width);
                let mut normed = vec![0.0; width];
                for ((row, g), dx) in
                    xs.chunks_exact(width).zip(grads.chunks_exact(width)).zip(dxs.chunks_exact_mut(width))
                {
                    let (mean, inv) = moments(row, self.eps);
                    normed.iter_mut().zip(row).for_each(|(n, v)| *n = (v - mean) * inv);
                    let (mut gw_sum, mut gwx_sum) = (0.0, 0.0);
                    for (((g, w), n), (dw, db)) in
                        g.iter().zip(&self.weight).zip(&normed).zip(dw.iter_mut().zip(db.iter_mut()))
                    {
                        gw_sum += g * w;
                        gwx_sum += g * w * n;
                        *dw += g * n;
                        *db += g;
                    }
                    let (gw_mean, gwx_mean) = (gw_sum / width as f32, gwx_sum / width as f32);
                    for (((dx, g), w), n) in dx.iter_mut().zip(g).zip(&self.weight).zip(&normed) {
                        *dx = (g * w - gw_mean - n * gwx_mean) * inv;
                    }
                }
                sums
            })
            .collect::<Vec<_>>();
        for block_sums in partial {
            sums.iter_mut().zip(&block_sums).for_each(|(s, b)| *s += b);
        }
        Ok((CpuStorage::F32(out), Shape::from((n_rows + 2, width))))
    }
}

/// Rows per parallel task of the row-wise ops, and elements per task of the elementwise ones:
/// large enough to amortise a task, small enough that a batch gives every thread work. The ops
/// run on rayon's global pool, which `RAYON_NUM_THREADS` sizes like candle's own.
const ROWS_PER_TASK: usize = 32;
const ELEMENTS_PER_TASK: usize = 4096;

/// `f(row, out_row)` for every `width`-wide row of `xs` and `out`, blocks of rows in parallel.
fn for_row_blocks(xs: &[f32], out: &mut [f32], width: usize, f: impl Fn(&[f32], &mut [f32]) + Sync) {
    let block = ROWS_PER_TASK * width;
    out.par_chunks_mut(block).zip(xs.par_chunks(block)).for_each(|(out, xs)| {
        for (row, out) in xs.chunks_exact(width).zip(out.chunks_exact_mut(width)) {
            f(row, out);
        }
    });
}

/// A contiguous f32 vector of exactly `width` values.
fn vector<'a>(storage: &'a CpuStorage, layout: &Layout, width: usize, op: &str) -> Result<&'a [f32]> {
    let (values, _) = rows(storage, layout, op)?;
    if values.len() != width {
        candle_core::bail!("{op}: expected {width} values, got {}", values.len())
    }
    Ok(values)
}

/// LayerNorm over the last dimension, differentiable in `xs`, `weight` and `bias`.
pub fn layer_norm(xs: &Tensor, weight: &Tensor, bias: &Tensor, eps: f32) -> Result<Tensor> {
    xs.contiguous()?.apply_op3(&weight.contiguous()?, &bias.contiguous()?, LayerNorm { eps })
}

/// `x + b` row by row. candle's `broadcast_add` gets the bias gradient by summing the output
/// gradient over its rows in a strided reduction; [`ColumnSum`] does it row by row.
struct BiasAdd;

impl CustomOp2 for BiasAdd {
    fn name(&self) -> &'static str {
        "bias-add"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (xs, width) = rows(s1, l1, self.name())?;
        let bias = vector(s2, l2, width, self.name())?;
        let mut out = vec![0.0; xs.len()];
        for_row_blocks(xs, &mut out, width, |row, out| {
            out.iter_mut().zip(row).zip(bias).for_each(|((o, x), b)| *o = x + b);
        });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    fn bwd(
        &self,
        _xs: &Tensor,
        _bias: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        Ok((Some(grad.clone()), Some(grad.contiguous()?.apply_op1(ColumnSum)?)))
    }
}

/// Sums over every dimension but the last.
struct ColumnSum;

impl CustomOp1 for ColumnSum {
    fn name(&self) -> &'static str {
        "column-sum"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (xs, width) = rows(storage, layout, self.name())?;
        let mut out = vec![0.0; width];
        for row in xs.chunks_exact(width) {
            out.iter_mut().zip(row).for_each(|(o, x)| *o += x);
        }
        Ok((CpuStorage::F32(out), Shape::from(width)))
    }
}

/// `xs · wᵀ + b` for a (rows, in) input, differentiable.
pub fn linear(xs: &Tensor, weight: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    let out = xs.matmul(&weight.t()?)?;
    match bias {
        Some(bias) => out.apply_op2(&bias.contiguous()?, BiasAdd),
        None => Ok(out),
    }
}

/// GELU, exact (erf) form, with the fast path's vectorised kernels. candle's `gelu_erf` calls a
/// scalar `erf` and records its derivative as six whole-tensor ops; together they were a tenth
/// of a fine-tuning step.
struct GeluErf(Kernel);

impl CustomOp1 for GeluErf {
    fn name(&self) -> &'static str {
        "gelu-erf"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (xs, _) = rows(storage, layout, self.name())?;
        let mut out = xs.to_vec();
        out.par_chunks_mut(ELEMENTS_PER_TASK).for_each(|chunk| ops::gelu(self.0, chunk));
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(arg.apply_op2(&grad_res.contiguous()?, GeluErfGrad(self.0))?))
    }
}

/// `g · gelu'(x)` in one pass (`ops::gelu_grad`).
struct GeluErfGrad(Kernel);

impl CustomOp2 for GeluErfGrad {
    fn name(&self) -> &'static str {
        "gelu-erf-grad"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let ((xs, _), (grads, _)) = (rows(s1, l1, self.name())?, rows(s2, l2, self.name())?);
        if xs.len() != grads.len() {
            candle_core::bail!("{}: {} inputs but {} gradients", self.name(), xs.len(), grads.len())
        }
        let mut out = vec![0.0; xs.len()];
        (xs.par_chunks(ELEMENTS_PER_TASK), grads.par_chunks(ELEMENTS_PER_TASK), out.par_chunks_mut(ELEMENTS_PER_TASK))
            .into_par_iter()
            .for_each(|(xs, grads, out)| ops::gelu_grad(self.0, xs, grads, out));
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

/// GELU (erf form), differentiable.
pub fn gelu_erf(xs: &Tensor) -> Result<Tensor> {
    xs.contiguous()?.apply_op1(GeluErf(Kernel::detect()))
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
        // 8 x 64 rows of 16: several parallel tasks for every op (32 rows, 4,096 elements each).
        let x = Var::from_tensor(&(Tensor::randn(0f32, 2.0, (8, 64, 16), &dev).unwrap() + 0.5).unwrap()).unwrap();
        let w = Var::from_tensor(&Tensor::randn(1f32, 0.3, 16, &dev).unwrap()).unwrap();
        let b = Var::from_tensor(&Tensor::randn(0f32, 0.3, 16, &dev).unwrap()).unwrap();
        // A loss that weighs every output differently, so wrong gradients cannot cancel out.
        let weights = Tensor::randn(0f32, 1.0, (8, 64, 16), &dev).unwrap();
        let loss = |y: &Tensor| (y * &weights).unwrap().sum_all().unwrap();

        let ours = layer_norm(&x, &w, &b, 1e-5).unwrap();
        let theirs = candle_nn::ops::layer_norm_slow(&x, &w, &b, 1e-5).unwrap();
        assert!(max_diff(&ours, &theirs) < 1e-5);
        let (g_ours, g_theirs) = (loss(&ours).backward().unwrap(), loss(&theirs).backward().unwrap());
        for var in [&x, &w, &b] {
            let (a, b) = (g_ours.get(var).expect("gradient"), g_theirs.get(var).expect("gradient"));
            assert!(max_diff(a, b) < 1e-4, "layer norm gradient differs by {}", max_diff(a, b));
        }

        let rows = x.reshape((512, 16)).unwrap();
        let weight = Var::from_tensor(&Tensor::randn(0f32, 0.3, (7, 16), &dev).unwrap()).unwrap();
        let bias = Var::from_tensor(&Tensor::randn(0f32, 0.3, 7, &dev).unwrap()).unwrap();
        let out_weights = Tensor::randn(0f32, 1.0, (512, 7), &dev).unwrap();
        let loss2 = |y: &Tensor| (y * &out_weights).unwrap().sum_all().unwrap();
        let ours = linear(&rows, &weight, Some(&bias)).unwrap();
        let theirs = candle_nn::Linear::new(weight.as_tensor().clone(), Some(bias.as_tensor().clone()));
        let theirs = candle_core::Module::forward(&theirs, &rows).unwrap();
        assert!(max_diff(&ours, &theirs) < 1e-5);
        let (g_ours, g_theirs) = (loss2(&ours).backward().unwrap(), loss2(&theirs).backward().unwrap());
        for var in [&x, &weight, &bias] {
            let (a, b) = (g_ours.get(var).expect("gradient"), g_theirs.get(var).expect("gradient"));
            assert!(max_diff(a, b) < 1e-4, "linear gradient differs by {}", max_diff(a, b));
        }

        let ours = gelu_erf(&x).unwrap();
        let theirs = x.gelu_erf().unwrap();
        assert!(max_diff(&ours, &theirs) < 1e-6);
        let (a, b) = (loss(&ours).backward().unwrap(), loss(&theirs).backward().unwrap());
        let (a, b) = (a.get(&x).expect("gradient"), b.get(&x).expect("gradient"));
        assert!(max_diff(a, b) < 1e-5, "gelu gradient differs by {}", max_diff(a, b));
    }
}
