//! The steps of a BERT layer besides its dense layers, on packed (unpadded) rows: attention
//! within each text (two small products per head, by the `gemm` crate), residual + LayerNorm,
//! GELU. Written so LLVM vectorises them: reductions keep 16
//! independent lanes (float addition is not reassociated otherwise), and each public function
//! has AVX-512 and AVX2 copies chosen at run time (`Kernel::Bf16` implies AVX-512F).

use super::linear::Kernel;

const LANES: usize = 16;

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
///
/// Per text and head, the scores `Q Kᵀ` and the context `softmax(scores) V` are two small
/// matrix products that the `gemm` crate reads in place through strides (a head is a column
/// range of `qkv`), so nothing is copied. A loop of dot products per key, 32 wide, spent as much
/// on horizontal sums as on products; it was a quarter of the encoder's time on 55-token texts.
#[inline(always)]
fn attention_body(qkv: &[f32], hidden: usize, heads: usize, spans: &[(usize, usize)], ctx: &mut [f32]) {
    let head_dim = hidden / heads;
    let scale = 1.0 / (head_dim as f32).sqrt();
    let stride = 3 * hidden;
    let mut scores = Vec::new();
    for &(first, len) in spans.iter().filter(|(_, len)| *len > 0) {
        assert!((first + len) * stride <= qkv.len() && (first + len) * hidden <= ctx.len(), "span out of range");
        scores.resize(len * len, 0.0);
        for head in 0..heads {
            let (q_col, k_col, v_col) = (head * head_dim, hidden + head * head_dim, 2 * hidden + head * head_dim);
            // SAFETY: with the assert above, every element these strides reach lies inside `qkv`
            // (rows first..first+len, columns below 3 * hidden), `scores` (len x len) and `ctx`
            // (rows first..first+len, columns below hidden); `scores` and `ctx` do not alias
            // `qkv` or each other.
            unsafe {
                let base = qkv.as_ptr().add(first * stride);
                // scores[i][j] = scale · Σ_d q[i][d] k[j][d]
                gemm::gemm(
                    len,
                    len,
                    head_dim,
                    scores.as_mut_ptr(),
                    1,
                    len as isize,
                    false,
                    base.add(q_col),
                    1,
                    stride as isize,
                    base.add(k_col),
                    stride as isize,
                    1,
                    0.0,
                    scale,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                );
                for row in scores.chunks_exact_mut(len) {
                    softmax(row);
                }
                // ctx[i][d] = Σ_j p[i][j] v[j][d]
                gemm::gemm(
                    len,
                    head_dim,
                    len,
                    ctx.as_mut_ptr().add(first * hidden + q_col),
                    1,
                    hidden as isize,
                    false,
                    scores.as_ptr(),
                    1,
                    len as isize,
                    base.add(v_col),
                    1,
                    stride as isize,
                    0.0,
                    1.0,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                );
            }
        }
    }
}

/// `x = softmax(x)` in place; `exp` as a polynomial so that the loop vectorises.
#[inline(always)]
pub(crate) fn softmax(x: &mut [f32]) {
    let max = x.iter().fold(f32::NEG_INFINITY, |m, &s| m.max(s));
    for v in x.iter_mut() {
        *v = exp_nonpositive(*v - max);
    }
    let total = sum_by(x, |v| v);
    x.iter_mut().for_each(|v| *v /= total);
}

/// e^x for x <= 0, close to `f32::exp` (tested): 2^n · e^r with n = round(x / ln 2) and a
/// degree-6 Taylor polynomial for e^r on [-ln 2 / 2, ln 2 / 2]; at -87 and below it returns
/// e^-87 (about 1.6e-38), where every softmax weight is negligible anyway.
#[inline(always)]
pub(crate) fn exp_nonpositive(x: f32) -> f32 {
    let x = x.max(-87.0);
    let n = (x * std::f32::consts::LOG2_E + 0.5).floor();
    // ln 2 in two parts (Cody and Waite): n · 0.693359375 is exact for |n| < 2^13.
    let r = x - n * 0.693_359_4;
    let r = r + n * 2.121_944_4e-4;
    let mut p = 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    f32::from_bits((((n as i32) + 127) as u32) << 23) * p
}

/// `x = LayerNorm(x + bias + residual)` row by row, over rows of `gamma.len()`: the dense layer
/// before it leaves its bias to this pass (`Linear::forward_unbiased`).
#[inline(always)]
fn add_norm_body(x: &mut [f32], residual: &[f32], bias: &[f32], gamma: &[f32], beta: &[f32], eps: f32) {
    let width = gamma.len();
    for (row, res) in x.chunks_exact_mut(width).zip(residual.chunks_exact(width)) {
        for ((v, r), b) in row.iter_mut().zip(res).zip(bias) {
            *v += r + b;
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

/// GELU, exact (erf) form `0.5 y (1 + erf(y / √2))`, of `y = x + bias`, row by row over rows of `bias.len()`: the dense layer before it
/// leaves its bias to this pass (`Linear::forward_unbiased`).
#[inline(always)]
fn bias_gelu_body(x: &mut [f32], bias: &[f32]) {
    for row in x.chunks_exact_mut(bias.len()) {
        for (v, b) in row.iter_mut().zip(bias) {
            let y = *v + b;
            *v = 0.5 * y * (1.0 + erf(y * std::f32::consts::FRAC_1_SQRT_2));
        }
    }
}

/// `out = g · gelu'(x)`, the backward pass of GELU: `gelu'(x) = Φ(x) + x φ(x)`, with
/// the normal CDF Φ from `erf` and the normal density φ.
#[inline(always)]
fn gelu_grad_body(x: &[f32], g: &[f32], out: &mut [f32]) {
    const INV_SQRT_2PI: f32 = 0.398_942_3;
    for ((o, &x), &g) in out.iter_mut().zip(x).zip(g) {
        let cdf = 0.5 * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2));
        *o = g * (cdf + x * INV_SQRT_2PI * exp_nonpositive(-0.5 * x * x));
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
/// is `Bf16` (whose detection implies AVX-512F), for AVX2 when the CPU has it, and for the
/// baseline target (SSE2, 4 lanes) otherwise.
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
                #[target_feature(enable = "avx2")]
                unsafe fn avx2($($arg: $ty),*) {
                    $body($($arg),*)
                }
                if kernel == Kernel::Bf16 {
                    // SAFETY: `Kernel::Bf16` is only chosen when the CPU has AVX-512F.
                    return unsafe { wide($($arg),*) };
                }
                if std::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU has AVX2, checked on the line above.
                    return unsafe { avx2($($arg),*) };
                }
            }
            let _ = kernel;
            $body($($arg),*)
        }
    };
}

/// The baseline copy of `attention_body`, for tests against the dispatched one.
#[cfg(test)]
pub(crate) fn attention_baseline(qkv: &[f32], hidden: usize, heads: usize, spans: &[(usize, usize)], ctx: &mut [f32]) {
    attention_body(qkv, hidden, heads, spans, ctx)
}

dispatch!(
    /// See `attention_body`.
    attention => attention_body(qkv: &[f32], hidden: usize, heads: usize, spans: &[(usize, usize)], ctx: &mut [f32])
);
dispatch!(
    /// See `add_norm_body`.
    add_norm => add_norm_body(x: &mut [f32], residual: &[f32], bias: &[f32], gamma: &[f32], beta: &[f32], eps: f32)
);
dispatch!(
    /// See `bias_gelu_body`.
    bias_gelu => bias_gelu_body(x: &mut [f32], bias: &[f32])
);
dispatch!(
    /// See `gelu_grad_body`.
    gelu_grad => gelu_grad_body(x: &[f32], g: &[f32], out: &mut [f32])
);

/// LayerNorm of each row in place (the embeddings' norm, which has no residual).
pub(crate) fn norm_rows(x: &mut [f32], gamma: &[f32], beta: &[f32], eps: f32) {
    for row in x.chunks_exact_mut(gamma.len()) {
        norm_row(row, gamma, beta, eps);
    }
}
