//! LayerNorm with its affine part, alone (the embeddings) or fused with the residual add and the
//! bias of the dense layer before it (every block): `LN(x + residual + bias) · w + beta`.
//!
//! Composed from candle ops, a block's `dense + bias + residual -> LayerNorm` was three whole-
//! tensor passes forward and, backward, a gradient per intermediate that candle's gradient store
//! starts as a zero tensor and adds into. Here it is one pass each way: backward recomputes the
//! normalised row from the inputs and writes every gradient in one go ([`norm_grads`]).

use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::{ROWS_PER_TASK, for_row_blocks, rows, vector, with_data};

/// Mean and `1 / sqrt(var + eps)` of one row.
fn moments(row: &[f32], eps: f32) -> (f32, f32) {
    let n = row.len() as f32;
    let mean = row.iter().sum::<f32>() / n;
    let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
    (mean, 1.0 / (var + eps).sqrt())
}

/// `out = LN(z) · w + beta` for one row `z`.
fn norm_row(z: &[f32], weight: &[f32], beta: &[f32], eps: f32, out: &mut [f32]) {
    let (mean, inv) = moments(z, eps);
    for (((o, v), w), b) in out.iter_mut().zip(z).zip(weight).zip(beta) {
        *o = (v - mean) * inv * w + b;
    }
}

/// The gradients of `LN(z) · w + beta` given the output gradient `grads`, with `input(row, z)`
/// filling `z` for a row index. Returns one (rows + 3, width) buffer: `dz` row by row, then
/// `dw = Σ g·ẑ`, `dbeta = Σ g` and `Σ dz` (the gradient of a bias added to `z`). With `gw = g·w`:
/// `dz = (gw - mean(gw) - ẑ · mean(gw·ẑ)) / σ`.
fn norm_grads(grads: &[f32], weight: &[f32], eps: f32, input: impl Fn(usize, &mut [f32]) + Sync) -> (Vec<f32>, usize) {
    let width = weight.len();
    let n_rows = grads.len() / width;
    let mut out = vec![0.0; (n_rows + 3) * width];
    let (dzs, sums) = out.split_at_mut(n_rows * width);
    let block = ROWS_PER_TASK * width;
    // Each block of rows writes its dz rows and returns its share of the three sums.
    let partial = (grads.par_chunks(block), dzs.par_chunks_mut(block))
        .into_par_iter()
        .enumerate()
        .map(|(idx, (grads, dzs))| {
            let mut sums = vec![0.0; 3 * width];
            let (dw, rest) = sums.split_at_mut(width);
            let (dbeta, dsum) = rest.split_at_mut(width);
            let (mut z, mut normed) = (vec![0.0; width], vec![0.0; width]);
            for (row, (g, dz)) in grads.chunks_exact(width).zip(dzs.chunks_exact_mut(width)).enumerate() {
                input(idx * ROWS_PER_TASK + row, &mut z);
                let (mean, inv) = moments(&z, eps);
                normed.iter_mut().zip(&z).for_each(|(n, v)| *n = (v - mean) * inv);
                let (mut gw_sum, mut gwx_sum) = (0.0, 0.0);
                for (((g, w), n), (dw, db)) in
                    g.iter().zip(weight).zip(&normed).zip(dw.iter_mut().zip(dbeta.iter_mut()))
                {
                    gw_sum += g * w;
                    gwx_sum += g * w * n;
                    *dw += g * n;
                    *db += g;
                }
                let (gw_mean, gwx_mean) = (gw_sum / width as f32, gwx_sum / width as f32);
                for ((((dz, g), w), n), s) in dz.iter_mut().zip(g).zip(weight).zip(&normed).zip(dsum.iter_mut()) {
                    *dz = (g * w - gw_mean - n * gwx_mean) * inv;
                    *s += *dz;
                }
            }
            sums
        })
        .collect::<Vec<_>>();
    for block_sums in partial {
        sums.iter_mut().zip(&block_sums).for_each(|(s, b)| *s += b);
    }
    (out, n_rows)
}

/// A small parameter vector, copied out.
fn values(t: &Tensor) -> Result<Vec<f32>> {
    t.flatten_all()?.to_vec1::<f32>()
}

/// LayerNorm over the last dimension with its affine part, as one op.
struct LayerNorm {
    eps: f32,
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
        let (weight, beta) = (vector(s2, l2, width, self.name())?, vector(s3, l3, width, self.name())?);
        let mut out = vec![0.0; xs.len()];
        for_row_blocks(xs, &mut out, width, |row, out| norm_row(row, weight, beta, self.eps, out));
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    fn bwd(
        &self,
        xs: &Tensor,
        weight: &Tensor,
        _beta: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let weight = values(weight)?;
        let width = weight.len();
        let (all, n_rows) = with_data(&[xs, grad], |data| {
            let (xs, grads) = (data[0], data[1]);
            norm_grads(grads, &weight, self.eps, |row, z| z.copy_from_slice(&xs[row * width..][..width]))
        })?;
        let all = Tensor::from_vec(all, (n_rows + 3, width), xs.device())?;
        let dx = all.narrow(0, 0, n_rows)?.reshape(xs.shape())?;
        Ok((Some(dx), Some(all.get(n_rows)?), Some(all.get(n_rows + 1)?)))
    }
}

/// LayerNorm over the last dimension, differentiable in `xs`, `weight` and `beta`.
pub fn layer_norm(xs: &Tensor, weight: &Tensor, beta: &Tensor, eps: f32) -> Result<Tensor> {
    xs.contiguous()?.apply_op3(&weight.contiguous()?, &beta.contiguous()?, LayerNorm { eps })
}

/// `LN(x + residual + bias) · w + beta` over rows; `params` stacks (bias, w, beta) as (3, width)
/// because a candle op takes at most three inputs.
struct AddNorm {
    eps: f32,
}

impl CustomOp3 for AddNorm {
    fn name(&self) -> &'static str {
        "add-norm"
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
        let ((xs, width), (residual, _)) = (rows(s1, l1, self.name())?, rows(s2, l2, self.name())?);
        let params = vector(s3, l3, 3 * width, self.name())?;
        if residual.len() != xs.len() {
            candle_core::bail!("{}: {} values but {} residuals", self.name(), xs.len(), residual.len())
        }
        let (bias, rest) = params.split_at(width);
        let (weight, beta) = rest.split_at(width);
        let mut out = vec![0.0; xs.len()];
        let block = ROWS_PER_TASK * width;
        (out.par_chunks_mut(block), xs.par_chunks(block), residual.par_chunks(block)).into_par_iter().for_each(
            |(out, xs, residual)| {
                let mut z = vec![0.0; width];
                for ((out, x), r) in
                    out.chunks_exact_mut(width).zip(xs.chunks_exact(width)).zip(residual.chunks_exact(width))
                {
                    z.iter_mut().zip(x).zip(r).zip(bias).for_each(|(((z, x), r), b)| *z = x + r + b);
                    norm_row(&z, weight, beta, self.eps, out);
                }
            },
        );
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    fn bwd(
        &self,
        xs: &Tensor,
        residual: &Tensor,
        params: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let params = values(params)?;
        let width = params.len() / 3;
        let (bias, weight) = (&params[..width], &params[width..2 * width]);
        let (all, n_rows) = with_data(&[xs, residual, grad], |data| {
            let (xs, residual, grads) = (data[0], data[1], data[2]);
            norm_grads(grads, weight, self.eps, |row, z| {
                let (x, r) = (&xs[row * width..][..width], &residual[row * width..][..width]);
                z.iter_mut().zip(x).zip(r).zip(bias).for_each(|(((z, x), r), b)| *z = x + r + b);
            })
        })?;
        let all = Tensor::from_vec(all, (n_rows + 3, width), xs.device())?;
        let dz = all.narrow(0, 0, n_rows)?.reshape(xs.shape())?;
        // Rows n, n+1, n+2 hold dw, dbeta and Σ dz; params are stacked as (bias, w, beta).
        let d_params = Tensor::cat(&[all.narrow(0, n_rows + 2, 1)?, all.narrow(0, n_rows, 2)?], 0)?;
        Ok((Some(dz.clone()), Some(dz), Some(d_params)))
    }
}

/// `LN(xs + residual + bias) · weight + beta` over the last dimension, differentiable in all five.
pub fn add_norm(
    xs: &Tensor,
    residual: &Tensor,
    bias: &Tensor,
    weight: &Tensor,
    beta: &Tensor,
    eps: f32,
) -> Result<Tensor> {
    let params = Tensor::stack(&[bias, weight, beta], 0)?;
    xs.contiguous()?.apply_op3(&residual.contiguous()?, &params, AddNorm { eps })
}
