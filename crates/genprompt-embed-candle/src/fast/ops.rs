//! The non-matrix-product steps of a BERT layer on packed (unpadded) rows: attention within each
//! text, residual + LayerNorm, GELU. Written so LLVM vectorises them: reductions keep 16
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
/// Per text and head, keys and values are first copied into blocks of eight (keys:
/// `[key / 8][dim][8]`, zero padded; values: `[dim / 8][key][8]`), so that a query's scores
/// are eight keys at a time and its output eight dimensions at a time, each summed in a register
/// along one contiguous block: both vectorise. A dot product per key (the obvious loop) spends
/// as much on its horizontal sum as on the products when a head is 32 wide; it was a quarter of
/// the encoder's time on 55-token texts.
#[inline(always)]
fn attention_body(qkv: &[f32], hidden: usize, heads: usize, spans: &[(usize, usize)], ctx: &mut [f32]) {
    let head_dim = hidden / heads;
    let (blocked_dims, scale, stride) = (head_dim / W * W, 1.0 / (head_dim as f32).sqrt(), 3 * hidden);
    let (mut keys, mut values, mut scores) = (Vec::new(), Vec::new(), Vec::new());
    for &(first, len) in spans {
        let padded = len.div_ceil(W) * W;
        keys.clear();
        keys.resize(padded * head_dim, 0.0);
        values.resize(len * head_dim, 0.0);
        scores.resize(padded, 0.0);
        for head in 0..heads {
            let (q_col, k_col, v_col) = (head * head_dim, hidden + head * head_dim, 2 * hidden + head * head_dim);
            for j in 0..len {
                let row = &qkv[(first + j) * stride..][..stride];
                let key_block = &mut keys[(j / W) * head_dim * W..][..head_dim * W];
                for (d, &k) in row[k_col..][..head_dim].iter().enumerate() {
                    key_block[d * W + j % W] = k;
                }
                for (d, &v) in row[v_col..][..head_dim].iter().enumerate() {
                    values[value_at(d, j, len, head_dim)] = v;
                }
            }
            for i in 0..len {
                let q = &qkv[(first + i) * stride + q_col..][..head_dim];
                for (chunk, block) in scores.chunks_exact_mut(W).zip(keys.chunks_exact(head_dim * W)) {
                    let sums = weighted_rows(q, block);
                    for l in 0..W {
                        chunk[l] = sums[l] * scale;
                    }
                }
                softmax(&mut scores[..len]);
                let scores = &scores[..len];
                let out = &mut ctx[(first + i) * hidden + q_col..][..head_dim];
                for (chunk, block) in out.chunks_exact_mut(W).zip(values.chunks_exact(len * W)) {
                    chunk.copy_from_slice(&weighted_rows(scores, block));
                }
                for (d, o) in out.iter_mut().enumerate().skip(blocked_dims) {
                    *o = scores.iter().enumerate().map(|(j, &w)| w * values[value_at(d, j, len, head_dim)]).sum();
                }
            }
        }
    }
}

/// Lanes of the attention's blocks: one AVX2 register.
const W: usize = 8;

/// `Σ_t weights[t] · block[t]` over the rows of 8 of `block`, in four independent sums: an
/// addition's latency is several cycles, so a single running sum would wait on itself.
#[inline(always)]
fn weighted_rows(weights: &[f32], block: &[f32]) -> [f32; W] {
    let mut acc = [[0.0f32; W]; 4];
    let (mut weights4, mut rows4) = (weights.chunks_exact(4), block.chunks_exact(4 * W));
    for (w, rows) in (&mut weights4).zip(&mut rows4) {
        for u in 0..4 {
            for l in 0..W {
                acc[u][l] += w[u] * rows[u * W + l];
            }
        }
    }
    for (&w, row) in weights4.remainder().iter().zip(rows4.remainder().chunks_exact(W)) {
        for l in 0..W {
            acc[0][l] += w * row[l];
        }
    }
    std::array::from_fn(|l| (acc[0][l] + acc[1][l]) + (acc[2][l] + acc[3][l]))
}

/// Where value `d` of key `j` sits in the attention's value blocks: `[d / 8][j][8]` for the
/// dimensions that fill whole blocks, then `[j][d]` for the rest.
#[inline(always)]
fn value_at(d: usize, j: usize, len: usize, head_dim: usize) -> usize {
    let blocked = head_dim / W * W;
    if d < blocked {
        (d / W) * len * W + j * W + d % W
    } else {
        blocked * len + j * (head_dim - blocked) + (d - blocked)
    }
}

/// `x = softmax(x)` in place; `exp` as a polynomial so that the loop vectorises.
#[inline(always)]
fn softmax(x: &mut [f32]) {
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
