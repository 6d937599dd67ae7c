//! The non-matrix-product steps of a BERT layer on packed (unpadded) rows: attention within each
//! text, residual + LayerNorm, GELU. Written so LLVM vectorises them: reductions keep 16
//! independent lanes (float addition is not reassociated otherwise), and each public function
//! has an AVX-512 copy chosen at run time (`Kernel::Bf16` implies AVX-512F).

use super::linear::Kernel;

const LANES: usize = 16;

/// Σ a[i]·b[i] over 16 independent partial sums.
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; LANES];
    let (ac, bc) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = ac.remainder().iter().zip(bc.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ac.zip(bc) {
        for l in 0..LANES {
            acc[l] += x[l] * y[l];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Σ f(x[i]) over 16 independent partial sums.
#[inline(always)]
fn sum_by(x: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut acc = [0.0f32; LANES];
    let chunks = x.chunks_exact(LANES);
    let tail: f32 = chunks.remainder().iter().map(|&v| f(v)).sum();
    for c in chunks {
        for l in 0..LANES {
            acc[l] += f(c[l]);
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Self-attention of each text over its own tokens. `qkv`: `[tokens][3 * hidden]` (queries, keys,
/// values side by side); `spans`: each text's `(first row, token count)`; writes `ctx[tokens][hidden]`.
#[inline(always)]
fn attention_body(qkv: &[f32], hidden: usize, heads: usize, spans: &[(usize, usize)], ctx: &mut [f32]) {
    let head_dim = hidden / heads;
    let scale = 1.0 / (head_dim as f32).sqrt();
    let stride = 3 * hidden;
    let mut probs = Vec::new();
    for &(first, len) in spans {
        probs.resize(len, 0.0);
        for head in 0..heads {
            let (q_col, k_col, v_col) = (head * head_dim, hidden + head * head_dim, 2 * hidden + head * head_dim);
            for i in 0..len {
                let q = &qkv[(first + i) * stride + q_col..][..head_dim];
                let mut max = f32::NEG_INFINITY;
                for (j, p) in probs.iter_mut().enumerate() {
                    *p = dot(q, &qkv[(first + j) * stride + k_col..][..head_dim]) * scale;
                    max = max.max(*p);
                }
                let mut total = 0.0;
                for p in probs.iter_mut() {
                    *p = (*p - max).exp();
                    total += *p;
                }
                let out = &mut ctx[(first + i) * hidden + q_col..][..head_dim];
                out.fill(0.0);
                for (j, p) in probs.iter().enumerate() {
                    let v = &qkv[(first + j) * stride + v_col..][..head_dim];
                    let w = p / total;
                    for (o, v) in out.iter_mut().zip(v) {
                        *o += w * v;
                    }
                }
            }
        }
    }
}

/// `x = LayerNorm(x + residual)` row by row, over rows of `gamma.len()`.
#[inline(always)]
fn add_norm_body(x: &mut [f32], residual: &[f32], gamma: &[f32], beta: &[f32], eps: f32) {
    let width = gamma.len();
    for (row, res) in x.chunks_exact_mut(width).zip(residual.chunks_exact(width)) {
        for (v, r) in row.iter_mut().zip(res) {
            *v += r;
        }
        norm_row(row, gamma, beta, eps);
    }
}

#[inline(always)]
fn norm_row(row: &mut [f32], gamma: &[f32], beta: &[f32], eps: f32) {
    let n = row.len() as f32;
    let mean = sum_by(row, |v| v) / n;
    let var = sum_by(row, |v| (v - mean) * (v - mean)) / n;
    let inv = 1.0 / (var + eps).sqrt();
    for ((v, g), b) in row.iter_mut().zip(gamma).zip(beta) {
        *v = (*v - mean) * inv * g + b;
    }
}

/// GELU, exact (erf) form: `0.5 x (1 + erf(x / √2))`.
#[inline(always)]
fn gelu_body(x: &mut [f32]) {
    for v in x.iter_mut() {
        *v = 0.5 * *v * (1.0 + erf(*v * std::f32::consts::FRAC_1_SQRT_2));
    }
}

/// erf to f32 precision without branches or `exp` (so it vectorises): the rational
/// approximation of Eigen's `generic_fast_erf_float` on [-4, 4], where erf saturates to ±1.
#[inline(always)]
pub(crate) fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = x2 * -2.726_142_3e-10 + 2.770_681_4e-8;
    p = x2 * p + -2.101_024e-6;
    p = x2 * p + -5.692_506_4e-5;
    p = x2 * p + -7.349_906_3e-4;
    p = x2 * p + -2.954_6e-3;
    p = x2 * p + -1.609_603_3e-2;
    let mut q = x2 * -1.456_607_2e-5 + -2.133_740_6e-4;
    q = x2 * q + -1.682_827e-3;
    q = x2 * q + -7.373_329_2e-3;
    q = x2 * q + -1.426_474e-2;
    x * p / q
}

/// Generates the public function `$name` that runs `$body` compiled for AVX-512 when `kernel`
/// is `Bf16` (whose detection implies AVX-512F) and for the baseline target otherwise.
macro_rules! dispatch {
    ($(#[$doc:meta])* $name:ident => $body:ident ( $($arg:ident : $ty:ty),* )) => {
        $(#[$doc])*
        pub(crate) fn $name(kernel: Kernel, $($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f")]
                unsafe fn wide($($arg: $ty),*) {
                    $body($($arg),*)
                }
                if kernel == Kernel::Bf16 {
                    // SAFETY: `Kernel::Bf16` is only chosen when the CPU has AVX-512F.
                    return unsafe { wide($($arg),*) };
                }
            }
            let _ = kernel;
            $body($($arg),*)
        }
    };
}

dispatch!(
    /// See `attention_body`.
    attention => attention_body(qkv: &[f32], hidden: usize, heads: usize, spans: &[(usize, usize)], ctx: &mut [f32])
);
dispatch!(
    /// See `add_norm_body`.
    add_norm => add_norm_body(x: &mut [f32], residual: &[f32], gamma: &[f32], beta: &[f32], eps: f32)
);
dispatch!(
    /// See `gelu_body`.
    gelu => gelu_body(x: &mut [f32])
);

/// LayerNorm of each row in place (the embeddings' norm, which has no residual).
pub(crate) fn norm_rows(x: &mut [f32], gamma: &[f32], beta: &[f32], eps: f32) {
    for row in x.chunks_exact_mut(gamma.len()) {
        norm_row(row, gamma, beta, eps);
    }
}
