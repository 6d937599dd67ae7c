//! Dense layers `y = x Wᵀ + b` on row-major f32 activations, two ways:
//!
//! * [`Kernel::Bf16`]: weights packed once into bfloat16 panels, activations rounded to bfloat16
//!   per call, products summed in f32 by AVX-512 BF16's `vdpbf16ps` (32 multiply-adds per
//!   instruction, twice f32 FMA). Rounding the inputs to 8 mantissa bits moves sentence vectors
//!   by a cosine of about 1e-5, far inside the 0.999 the reference test allows.
//! * [`Kernel::F32`]: the `gemm` crate (candle's own matrix-product engine), single-threaded,
//!   for CPUs without AVX-512 BF16.
//!
//! Both compute every output row from its input row alone, with the same order of additions
//! whatever the other rows are, so a text's vector does not depend on its batch-mates.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// Rows per micro-tile of the bf16 kernel (12 rows x 2 registers = 24 accumulators of 32).
const MR: usize = 12;
/// Output columns per micro-tile and per weight panel: two 16-lane registers.
const NR: usize = 32;

/// Which matrix-product code the encoder runs; see the module docs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    Bf16,
    F32,
}

impl Kernel {
    /// The fastest kernel this CPU supports.
    pub fn detect() -> Kernel {
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bf16") {
            return Kernel::Bf16;
        }
        Kernel::F32
    }
}

/// One dense layer's weights in the layout its kernel reads.
pub struct Linear {
    n_in: usize,
    n_out: usize,
    bias: Vec<f32>,
    /// `n_out` zeros: the bias of [`Linear::forward_unbiased`] for the bf16 kernel, which adds
    /// one inside its tiles.
    zeros: Vec<f32>,
    weights: Weights,
}

enum Weights {
    /// `[n_out / NR][n_in / 2][NR][2]` bf16 bits: for each pair of inputs, the 32 columns' pairs.
    Bf16(Vec<u16>),
    /// `[n_out][n_in]`, PyTorch's layout.
    F32(Vec<f32>),
}

impl Linear {
    /// `weight` is `[n_out][n_in]` row-major (PyTorch's layout). Shapes the bf16 kernel cannot
    /// tile (`n_out` not a multiple of 32, odd `n_in`) fall back to f32.
    pub fn new(weight: Vec<f32>, bias: Vec<f32>, n_in: usize, kernel: Kernel) -> Linear {
        let n_out = bias.len();
        assert_eq!(weight.len(), n_in * n_out, "weight is not n_out x n_in");
        let weights = if kernel == Kernel::Bf16 && n_out.is_multiple_of(NR) && n_in.is_multiple_of(2) {
            let mut packed = Vec::with_capacity(weight.len());
            for panel in 0..n_out / NR {
                for pair in 0..n_in / 2 {
                    for col in panel * NR..(panel + 1) * NR {
                        let row = &weight[col * n_in..(col + 1) * n_in];
                        packed.extend([bf16_bits(row[2 * pair]), bf16_bits(row[2 * pair + 1])]);
                    }
                }
            }
            Weights::Bf16(packed)
        } else {
            Weights::F32(weight)
        };
        Linear { n_in, n_out, zeros: vec![0.0; n_out], bias, weights }
    }

    pub fn n_out(&self) -> usize {
        self.n_out
    }

    pub fn bias(&self) -> &[f32] {
        &self.bias
    }

    /// `out[m][n_out] = x[m][n_in] Wᵀ + b`; `scratch` is reused between calls.
    pub fn forward(&self, x: &[f32], rows: usize, out: &mut Vec<f32>, scratch: &mut Vec<u16>) {
        self.product(x, rows, out, scratch, true);
    }

    /// `out[m][n_out] = x[m][n_in] Wᵀ`, without the bias, for a caller that adds it in its next
    /// pass over `out` (the f32 kernel then skips a pass: no bias copy for it to accumulate on).
    pub fn forward_unbiased(&self, x: &[f32], rows: usize, out: &mut Vec<f32>, scratch: &mut Vec<u16>) {
        self.product(x, rows, out, scratch, false);
    }

    fn product(&self, x: &[f32], rows: usize, out: &mut Vec<f32>, scratch: &mut Vec<u16>, with_bias: bool) {
        assert_eq!(x.len(), rows * self.n_in);
        // Every element is written below; not clearing first spares zero-filling a buffer that
        // already has the right length, as it has from the second layer on.
        out.resize(rows * self.n_out, 0.0);
        match &self.weights {
            #[cfg(target_arch = "x86_64")]
            Weights::Bf16(packed) => {
                let padded = rows.div_ceil(MR) * MR;
                scratch.clear();
                scratch.resize(padded * self.n_in + self.n_in, 0);
                let (tiles, row_buf) = scratch.split_at_mut(padded * self.n_in);
                // SAFETY: `Weights::Bf16` is only built when `Kernel::detect` found the features.
                unsafe {
                    pack_rows(x, self.n_in, tiles, row_buf);
                    let bias = if with_bias { &self.bias } else { &self.zeros };
                    self.bf16_product(tiles, rows, packed, bias, out);
                }
            }
            #[cfg(not(target_arch = "x86_64"))]
            Weights::Bf16(_) => unreachable!("bf16 weights are only packed on x86_64"),
            Weights::F32(weight) => {
                if with_bias {
                    for row in out.chunks_exact_mut(self.n_out) {
                        row.copy_from_slice(&self.bias);
                    }
                }
                let (m, n, k) = (rows, self.n_out, self.n_in);
                // SAFETY: the three buffers have exactly these shapes and strides and do not alias.
                unsafe {
                    gemm::gemm(
                        m,
                        n,
                        k,
                        out.as_mut_ptr(),
                        1,
                        n as isize,
                        with_bias,
                        x.as_ptr(),
                        1,
                        k as isize,
                        weight.as_ptr(),
                        k as isize,
                        1,
                        1.0,
                        1.0,
                        false,
                        false,
                        false,
                        gemm::Parallelism::None,
                    )
                };
            }
        }
    }

    /// `a`: the rows packed by `pack_rows` (pad rows zero); writes `out[rows][n_out]`.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bf16")]
    unsafe fn bf16_product(&self, a: &[u16], rows: usize, packed: &[u16], bias: &[f32], out: &mut [f32]) {
        let (k, n) = (self.n_in, self.n_out);
        let panel_len = k * NR;
        for m0 in (0..rows).step_by(MR) {
            let a_tile = &a[m0 * k..(m0 + MR) * k];
            for (panel_idx, panel) in packed.chunks_exact(panel_len).enumerate() {
                let n0 = panel_idx * NR;
                let acc = unsafe { micro_tile(a_tile, k, panel) };
                let b0 = unsafe { _mm512_loadu_ps(bias.as_ptr().add(n0)) };
                let b1 = unsafe { _mm512_loadu_ps(bias.as_ptr().add(n0 + 16)) };
                for (r, [lo, hi]) in acc.iter().enumerate().take(rows - m0) {
                    let dst = out[(m0 + r) * n + n0..].as_mut_ptr();
                    unsafe {
                        _mm512_storeu_ps(dst, _mm512_add_ps(*lo, b0));
                        _mm512_storeu_ps(dst.add(16), _mm512_add_ps(*hi, b1));
                    }
                }
            }
        }
    }
}

/// The MR x NR block of `a_tile · panel`: per input pair, one broadcast per row and two `vdpbf16ps`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bf16")]
#[inline]
unsafe fn micro_tile(a_tile: &[u16], k: usize, panel: &[u16]) -> [[__m512; 2]; MR] {
    assert!(a_tile.len() >= MR * k && panel.len() >= k * NR);
    let mut acc = [[_mm512_setzero_ps(); 2]; MR];
    let a = a_tile.as_ptr().cast::<i32>();
    let b = panel.as_ptr();
    for pair in 0..k / 2 {
        // SAFETY: pair < k/2, so every read is inside the two slices checked above.
        unsafe {
            let w0: __m512bh = std::mem::transmute(_mm512_loadu_si512(b.add(pair * 2 * NR).cast()));
            let w1: __m512bh = std::mem::transmute(_mm512_loadu_si512(b.add(pair * 2 * NR + NR).cast()));
            for (r, row_acc) in acc.iter_mut().enumerate() {
                let x: __m512bh = std::mem::transmute(_mm512_set1_epi32(a.add(pair * MR + r).read_unaligned()));
                row_acc[0] = _mm512_dpbf16_ps(row_acc[0], x, w0);
                row_acc[1] = _mm512_dpbf16_ps(row_acc[1], x, w1);
            }
        }
    }
    acc
}

/// Rounds the rows of `x` (`n_in` wide) to bfloat16 into `tiles` as `[row / MR][n_in / 2][MR][2]`:
/// the micro-kernel then reads the 12 rows' next input pair as one contiguous 48-byte stream.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bf16")]
unsafe fn pack_rows(x: &[f32], n_in: usize, tiles: &mut [u16], row_buf: &mut [u16]) {
    for (r, row) in x.chunks_exact(n_in).enumerate() {
        unsafe { to_bf16(row, row_buf) };
        let tile = &mut tiles[(r / MR) * MR * n_in..][..MR * n_in];
        for (pair, bits) in row_buf.chunks_exact(2).enumerate() {
            let at = (pair * MR + r % MR) * 2;
            tile[at] = bits[0];
            tile[at + 1] = bits[1];
        }
    }
}

/// Rounds `x` to bfloat16 (nearest, ties to even), 16 lanes at a time.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bf16")]
unsafe fn to_bf16(x: &[f32], out: &mut [u16]) {
    let mut chunks = x.chunks_exact(16);
    let mut dst = out.chunks_exact_mut(16);
    for (src, dst) in (&mut chunks).zip(&mut dst) {
        // SAFETY: both chunks hold exactly 16 elements.
        unsafe {
            let packed = _mm512_cvtneps_pbh(_mm512_loadu_ps(src.as_ptr()));
            _mm256_storeu_si256(dst.as_mut_ptr().cast(), std::mem::transmute::<__m256bh, __m256i>(packed));
        }
    }
    for (src, dst) in chunks.remainder().iter().zip(dst.into_remainder()) {
        *dst = bf16_bits(*src);
    }
}

/// f32 -> bfloat16 bits, rounding to nearest with ties to even (what `vcvtneps2bf16` does).
pub(crate) fn bf16_bits(x: f32) -> u16 {
    let bits = x.to_bits();
    if x.is_nan() {
        return ((bits >> 16) | 0x40) as u16;
    }
    ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) as u16
}
