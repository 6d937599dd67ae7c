//! Kernel checks against plain f64 arithmetic; the whole encoder is checked against
//! sentence-transformers in `crate::tests`.

use super::linear::{Kernel, Linear, bf16_bits};
use super::ops;

/// Deterministic values in [-1, 1) (an LCG), so failures reproduce.
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

fn kernels() -> Vec<Kernel> {
    let mut kernels = vec![Kernel::F32];
    if Kernel::detect() == Kernel::Bf16 {
        kernels.push(Kernel::Bf16);
    } else {
        println!("this CPU has no AVX-512 BF16: only the f32 kernel is checked");
    }
    kernels
}

#[test]
fn linear_matches_f64_product_for_every_kernel_and_ragged_shapes() {
    for kernel in kernels() {
        // 13 rows: one full 12-row tile and a ragged one; 64 outputs: two panels.
        for (rows, n_in, n_out) in [(13, 64, 64), (1, 384, 32), (25, 10, 96), (3, 7, 5)] {
            let (w, b, x) = (values(n_in * n_out, 1), values(n_out, 2), values(rows * n_in, 3));
            let linear = Linear::new(w.clone(), b.clone(), n_in, kernel);
            let (mut out, mut scratch) = (Vec::new(), Vec::new());
            linear.forward(&x, rows, &mut out, &mut scratch);
            assert_eq!(out.len(), rows * n_out);
            // bf16 inputs carry 8 significant bits: relative error about 2^-9 per product.
            let tolerance = if kernel == Kernel::Bf16 && n_out % 32 == 0 && n_in % 2 == 0 { 2e-2 } else { 1e-5 };
            for r in 0..rows {
                for c in 0..n_out {
                    let exact: f64 =
                        b[c] as f64 + (0..n_in).map(|k| x[r * n_in + k] as f64 * w[c * n_in + k] as f64).sum::<f64>();
                    let scale = (n_in as f64).sqrt();
                    let err = (out[r * n_out + c] as f64 - exact).abs() / scale;
                    assert!(
                        err < tolerance,
                        "{kernel:?} {rows}x{n_in}x{n_out} [{r},{c}]: {} vs {exact}",
                        out[r * n_out + c]
                    );
                }
            }
            // Without the bias: the same products, written over whatever the buffer held.
            let mut unbiased = vec![f32::NAN; rows * n_out];
            linear.forward_unbiased(&x, rows, &mut unbiased, &mut scratch);
            for (idx, (got, want)) in unbiased.iter().zip(&out).enumerate() {
                let biased = got + b[idx % n_out];
                assert!((biased - want).abs() <= 1e-5 * want.abs().max(1.0), "{kernel:?} [{idx}]: {biased} vs {want}");
            }
        }
    }
}

#[test]
fn bf16_rounding_is_to_nearest_even() {
    assert_eq!(bf16_bits(1.0), 0x3F80);
    assert_eq!(bf16_bits(-2.5), 0xC020);
    // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties go to the even mantissa (1.0).
    assert_eq!(bf16_bits(1.0 + 1.0 / 256.0), 0x3F80);
    assert_eq!(bf16_bits(1.0 + 3.0 / 256.0), 0x3F82);
}

#[test]
fn erf_approximation_is_accurate_to_f32() {
    let mut worst = 0.0f64;
    for i in -8000..=8000 {
        let x = i as f64 / 1000.0;
        let err = (ops::erf(x as f32) as f64 - candle_core::cpu::erf::erf_f64(x)).abs();
        worst = worst.max(err);
    }
    assert!(worst < 2e-6, "worst erf error {worst}");
}

#[test]
fn attention_keeps_texts_apart_and_norm_centres_rows() {
    // Two texts packed end to end: the second's context must not change when the first does.
    let (hidden, heads) = (32, 2);
    let spans = [(0, 3), (3, 2)];
    let mut qkv = values(5 * 3 * hidden, 7);
    for kernel in kernels() {
        let mut ctx = vec![0.0; 5 * hidden];
        ops::attention(kernel, &qkv, hidden, heads, &spans, &mut ctx);
        let second = ctx[3 * hidden..].to_vec();
        qkv[..3 * 3 * hidden].iter_mut().for_each(|v| *v = -*v);
        ops::attention(kernel, &qkv, hidden, heads, &spans, &mut ctx);
        assert_eq!(ctx[3 * hidden..], second[..], "{kernel:?}");
        // A one-token text attends only to itself: its context is its value row. An empty span
        // before it changes nothing.
        ops::attention(kernel, &qkv, hidden, heads, &[(4, 0), (4, 1)], &mut ctx);
        assert_eq!(ctx[4 * hidden..], qkv[4 * 3 * hidden + 2 * hidden..], "{kernel:?}");

        let mut rows = values(2 * hidden, 9);
        let residual = vec![0.5; 2 * hidden];
        ops::add_norm(kernel, &mut rows, &residual, &vec![0.25; hidden], &vec![1.0; hidden], &vec![0.0; hidden], 1e-12);
        for row in rows.chunks(hidden) {
            let mean: f32 = row.iter().sum::<f32>() / hidden as f32;
            let var: f32 = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / hidden as f32;
            assert!(mean.abs() < 1e-5 && (var - 1.0).abs() < 1e-4, "{kernel:?}: mean {mean}, var {var}");
        }
    }
}

#[test]
fn attention_matches_f64_softmax_attention_on_every_copy() {
    // Two texts of 7 and 3 tokens, 4 heads of 8 (so some loops have remainders).
    let (hidden, heads, spans) = (32, 4, [(0usize, 7usize), (7, 3)]);
    let head_dim = hidden / heads;
    let qkv = values(10 * 3 * hidden, 11);
    let mut expected = vec![0.0f64; 10 * hidden];
    for &(first, len) in &spans {
        for head in 0..heads {
            let at =
                |row: usize, part: usize, d: usize| qkv[row * 3 * hidden + part * hidden + head * head_dim + d] as f64;
            for i in first..first + len {
                let scores: Vec<f64> = (first..first + len)
                    .map(|j| (0..head_dim).map(|d| at(i, 0, d) * at(j, 1, d)).sum::<f64>() / (head_dim as f64).sqrt())
                    .collect();
                let max = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let weights: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
                let total: f64 = weights.iter().sum();
                for d in 0..head_dim {
                    expected[i * hidden + head * head_dim + d] =
                        (first..first + len).zip(&weights).map(|(j, w)| w / total * at(j, 2, d)).sum();
                }
            }
        }
    }
    let mut baseline = vec![0.0; 10 * hidden];
    ops::attention_baseline(&qkv, hidden, heads, &spans, &mut baseline);
    let mut copies = vec![("baseline", baseline)];
    for kernel in kernels() {
        let mut ctx = vec![0.0; 10 * hidden];
        ops::attention(kernel, &qkv, hidden, heads, &spans, &mut ctx);
        copies.push(if kernel == Kernel::F32 { ("f32 (AVX2 where present)", ctx) } else { ("bf16 (AVX-512)", ctx) });
    }
    for (name, ctx) in copies {
        for (k, (got, want)) in ctx.iter().zip(&expected).enumerate() {
            assert!((*got as f64 - want).abs() < 1e-5, "{name} [{k}]: {got} vs {want}");
        }
    }
}

#[test]
fn polynomial_exp_is_close_to_f32_exp_where_softmax_uses_it() {
    let mut worst = 0.0f32;
    for i in 0..=870_000 {
        let x = -(i as f32) / 10_000.0;
        let (got, want) = (ops::exp_nonpositive(x), x.exp());
        worst = worst.max((got - want).abs() / want);
    }
    assert!(worst < 4e-7, "worst relative error {worst}");
    assert_eq!(ops::exp_nonpositive(0.0), 1.0);
    assert!(ops::exp_nonpositive(-1000.0) < 2e-38);
}
