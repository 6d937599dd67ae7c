//! AdamW as candle-nn's `AdamW` computes it, but one fused in-place pass per parameter.
//!
//! candle-nn's version builds ten whole-tensor temporaries per parameter and step; over
//! MiniLM's 22.7M parameters (half of them the word embeddings, updated every step by weight
//! decay and momentum) that streamed gigabytes per step and was a large share of a step's time.
//! Here the moments are plain vectors and one loop updates moment, moment and weight together.
//!
//! The word table's gradient arrives as rows ([`TableRows`]): the batch's few hundred token
//! rows, not a (vocab, hidden) tensor. They are added into one buffer kept across steps and
//! cleared row by row after the update, which is the dense update exactly (every row still
//! decays and moves with its momentum) without allocating and zeroing 47 MB per step.

use candle_core::backprop::GradStore;
use candle_core::{CpuStorage, InplaceOp1, Layout, Result, Storage, Tensor, Var};
use candle_nn::ParamsAdamW;
use rayon::prelude::*;

/// Weights per parallel chunk of an update: large enough to amortise a task, small enough to
/// split the smaller tensors too.
const CHUNK: usize = 1 << 14;

pub(crate) struct FusedAdamW {
    vars: Vec<Var>,
    /// First and second moments of each var, same order.
    moments: Vec<(Vec<f32>, Vec<f32>)>,
    /// The dense gradient of the var that takes [`TableRows`]; all zero between steps.
    table_grad: Vec<f32>,
    params: ParamsAdamW,
    step_t: i32,
}

/// The gradient of an embedding table as the rows its lookup touched.
pub(crate) struct TableRows<'a> {
    /// Index of the table in the optimiser's vars.
    pub(crate) var: usize,
    /// The row looked up at each position.
    pub(crate) ids: &'a [u32],
    /// (positions, hidden) gradient of the looked-up vectors, same order as `ids`.
    pub(crate) grads: &'a Tensor,
}

impl FusedAdamW {
    pub(crate) fn new(vars: Vec<Var>, params: ParamsAdamW) -> FusedAdamW {
        let moments = vars.iter().map(|var| (vec![0.0; var.elem_count()], vec![0.0; var.elem_count()])).collect();
        FusedAdamW { vars, moments, table_grad: Vec::new(), params, step_t: 0 }
    }

    /// One AdamW step for every var that has a gradient in `grads`, and for the table of `table`.
    pub(crate) fn step(&mut self, grads: &GradStore, table: Option<TableRows>) -> Result<()> {
        self.step_t += 1;
        let p = &self.params;
        let c = Constants {
            beta1: p.beta1 as f32,
            beta2: p.beta2 as f32,
            decay: (1.0 - p.lr * p.weight_decay) as f32,
            lr: p.lr as f32,
            eps: p.eps as f32,
            scale_m: (1.0 / (1.0 - p.beta1.powi(self.step_t))) as f32,
            scale_v: (1.0 / (1.0 - p.beta2.powi(self.step_t))) as f32,
        };
        for (var, (m, v)) in self.vars.iter().zip(&mut self.moments) {
            if let Some(grad) = grads.get(var.as_tensor()) {
                with_f32(&grad.contiguous()?, |grad| {
                    var.as_tensor().inplace_op1(&Update { grad, moments: (m, v).into(), c })
                })?;
            }
        }
        if let Some(table) = table {
            self.step_table(table, c)?;
        }
        Ok(())
    }

    fn step_table(&mut self, table: TableRows, c: Constants) -> Result<()> {
        let var = &self.vars[table.var];
        let (n_rows, width) = var.dims2()?;
        let rows: Vec<f32> = table.grads.flatten_all()?.to_vec1()?;
        if rows.len() != table.ids.len() * width {
            candle_core::bail!("fused-adamw: {} row gradients of width {width} for {} ids", rows.len(), table.ids.len())
        }
        if let Some(&id) = table.ids.iter().find(|&&id| id as usize >= n_rows) {
            candle_core::bail!("fused-adamw: row {id} of a table with {n_rows} rows")
        }
        self.table_grad.resize(n_rows * width, 0.0);
        for (&id, row) in table.ids.iter().zip(rows.chunks_exact(width)) {
            let start = id as usize * width;
            self.table_grad[start..start + width].iter_mut().zip(row).for_each(|(g, r)| *g += r);
        }
        let (m, v) = &mut self.moments[table.var];
        var.as_tensor().inplace_op1(&Update { grad: &self.table_grad, moments: (m, v).into(), c })?;
        for &id in table.ids {
            let start = id as usize * width;
            self.table_grad[start..start + width].fill(0.0);
        }
        Ok(())
    }
}

/// Runs `f` on the values of a contiguous f32 tensor, in place (no copy).
fn with_f32<R>(tensor: &Tensor, f: impl FnOnce(&[f32]) -> Result<R>) -> Result<R> {
    let (storage, layout) = tensor.storage_and_layout();
    let (Storage::Cpu(CpuStorage::F32(data)), Some((start, end))) = (&*storage, layout.contiguous_offsets()) else {
        candle_core::bail!("fused-adamw: gradients must be contiguous f32 on the CPU")
    };
    f(&data[start..end])
}

#[derive(Clone, Copy)]
struct Constants {
    beta1: f32,
    beta2: f32,
    /// `1 - lr * weight_decay`, applied to the weight before the Adam step (decoupled decay).
    decay: f32,
    lr: f32,
    eps: f32,
    /// Bias corrections `1 / (1 - beta^t)`.
    scale_m: f32,
    scale_v: f32,
}

struct Update<'a> {
    grad: &'a [f32],
    moments: std::cell::RefCell<(&'a mut Vec<f32>, &'a mut Vec<f32>)>,
    c: Constants,
}

impl InplaceOp1 for Update<'_> {
    fn name(&self) -> &'static str {
        "fused-adamw"
    }

    fn cpu_fwd(&self, weight: &mut CpuStorage, layout: &Layout) -> Result<()> {
        let CpuStorage::F32(weight) = weight else { candle_core::bail!("fused-adamw: f32 weights only") };
        let Some((start, end)) = layout.contiguous_offsets() else {
            candle_core::bail!("fused-adamw: weights must be contiguous")
        };
        let weight = &mut weight[start..end];
        let mut moments = self.moments.borrow_mut();
        let (m, v) = &mut *moments;
        if weight.len() != self.grad.len() || weight.len() != m.len() {
            candle_core::bail!(
                "fused-adamw: {} weights, {} gradients, {} moments",
                weight.len(),
                self.grad.len(),
                m.len()
            )
        }
        let c = self.c;
        // Memory-bound (four streams per weight): chunks shared out among the pool's threads.
        (weight.par_chunks_mut(CHUNK), self.grad.par_chunks(CHUNK), m.par_chunks_mut(CHUNK), v.par_chunks_mut(CHUNK))
            .into_par_iter()
            .for_each(|(weight, grad, m, v)| {
                for (((w, g), m), v) in weight.iter_mut().zip(grad).zip(m.iter_mut()).zip(v.iter_mut()) {
                    *m = *m * c.beta1 + *g * (1.0 - c.beta1);
                    *v = *v * c.beta2 + (*g * *g) * (1.0 - c.beta2);
                    let adjusted = (*m * c.scale_m) / ((*v * c.scale_v).sqrt() + c.eps);
                    *w = *w * c.decay - adjusted * c.lr;
                }
            });
        Ok(())
    }
}
