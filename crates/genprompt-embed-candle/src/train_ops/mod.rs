//! LayerNorm, the bias add, GELU and attention (in `attention`) as single candle ops *with* a
//! backward pass.
//!
//! candle-nn's fused versions have none (gradients silently stop), and composing them from
//! primitives (`layer_norm_slow`) records a dozen whole-tensor ops each, forward
//! and backward, which made them a large share of a fine-tuning step. Each op here is one pass
//! forward and a handful of tensor ops backward; the results match the composed versions to
//! float rounding (tested against them, values and gradients).

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Storage, Tensor};

mod attention;
mod norm;

pub(crate) use attention::{Spans, attention};
pub use norm::{add_norm, layer_norm};

use crate::fast::Kernel;
use crate::fast::ops;
use rayon::prelude::*;

/// Rows of the last dimension of a contiguous f32 tensor.
fn rows<'a>(storage: &'a CpuStorage, layout: &Layout, op: &str) -> Result<(&'a [f32], usize)> {
    let CpuStorage::F32(data) = storage else { candle_core::bail!("{op}: f32 only") };
    let Some((start, end)) = layout.contiguous_offsets() else { candle_core::bail!("{op}: contiguous input only") };
    Ok((&data[start..end], layout.dims().last().copied().unwrap_or(1).max(1)))
}

/// Runs `f` on the f32 data of `tensors`, read in place: a backward pass reads its inputs
/// without copying them.
fn with_data<R>(tensors: &[&Tensor], f: impl FnOnce(&[&[f32]]) -> R) -> Result<R> {
    let tensors = tensors.iter().map(|t| t.contiguous()).collect::<Result<Vec<_>>>()?;
    let guards: Vec<_> = tensors.iter().map(|t| t.storage_and_layout()).collect();
    let mut slices = Vec::with_capacity(guards.len());
    for (storage, layout) in &guards {
        let (Storage::Cpu(CpuStorage::F32(data)), Some((start, end))) = (&**storage, layout.contiguous_offsets())
        else {
            candle_core::bail!("train ops: f32 tensors on the CPU only")
        };
        slices.push(&data[start..end]);
    }
    Ok(f(&slices))
}

/// Rows per parallel task of the row-wise ops: large enough to amortise a task, small enough that
/// a batch gives every thread work. The ops run on rayon's global pool, which
/// `RAYON_NUM_THREADS` sizes like candle's own.
const ROWS_PER_TASK: usize = 32;

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

/// GELU (erf form) of `x + bias` row by row, one op, with the inference path's vectorised `erf`
/// and `exp`. candle's `gelu_erf` calls a scalar `erf` and records its derivative as six
/// whole-tensor ops (a tenth of a fine-tuning step); taking the bias of the dense layer before it
/// saves one more pass forward and one more gradient for candle to store backward.
struct BiasGelu(Kernel);

impl CustomOp2 for BiasGelu {
    fn name(&self) -> &'static str {
        "bias-gelu"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (xs, width) = rows(s1, l1, self.name())?;
        let bias = vector(s2, l2, width, self.name())?;
        let mut out = xs.to_vec();
        out.par_chunks_mut(ROWS_PER_TASK * width).for_each(|rows| ops::bias_gelu(self.0, rows, bias));
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    /// dx = g · gelu'(x + bias), db = Σ dx over rows.
    fn bwd(
        &self,
        xs: &Tensor,
        bias: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let width = bias.elem_count();
        let dx = with_data(&[xs, bias, grad], |data| {
            let (xs, bias, grads) = (data[0], data[1], data[2]);
            let mut dx = vec![0.0; xs.len()];
            let block = ROWS_PER_TASK * width;
            (xs.par_chunks(block), grads.par_chunks(block), dx.par_chunks_mut(block)).into_par_iter().for_each(
                |(xs, grads, dx)| {
                    let mut biased = xs.to_vec();
                    biased.chunks_exact_mut(width).for_each(|row| row.iter_mut().zip(bias).for_each(|(v, b)| *v += b));
                    ops::gelu_grad(self.0, &biased, grads, dx);
                },
            );
            dx
        })?;
        let dx = Tensor::from_vec(dx, xs.shape(), xs.device())?;
        let db = dx.apply_op1(ColumnSum)?;
        Ok((Some(dx), Some(db)))
    }
}

/// GELU (erf form) of `xs + bias` for (rows, width) `xs`, differentiable in both.
pub fn bias_gelu(xs: &Tensor, bias: &Tensor) -> Result<Tensor> {
    xs.contiguous()?.apply_op2(&bias.contiguous()?, BiasGelu(Kernel::detect()))
}

#[cfg(test)]
mod tests;
