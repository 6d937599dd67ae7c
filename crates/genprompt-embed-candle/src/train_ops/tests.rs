use candle_core::{Device, Var};

use super::*;

fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
    (a - b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar().unwrap()
}

fn var(mean: f32, std: f32, shape: impl Into<candle_core::Shape>) -> Var {
    Var::from_tensor(&Tensor::randn(mean, std, shape, &Device::Cpu).unwrap()).unwrap()
}

/// Checks `ours` against `theirs` in value and in the gradient of every var in `vars`, under a
/// loss that weighs every output differently, so that wrong gradients cannot cancel out.
fn check(what: &str, ours: &Tensor, theirs: &Tensor, vars: &[&Var], tolerance: f32) {
    assert!(max_diff(ours, theirs) < tolerance, "{what}: values differ by {}", max_diff(ours, theirs));
    let weights = Tensor::randn(0f32, 1.0, ours.shape(), &Device::Cpu).unwrap();
    let loss = |y: &Tensor| (y * &weights).unwrap().sum_all().unwrap();
    let (g_ours, g_theirs) = (loss(ours).backward().unwrap(), loss(theirs).backward().unwrap());
    for (idx, var) in vars.iter().enumerate() {
        let (a, b) = (g_ours.get(var).expect("gradient"), g_theirs.get(var).expect("gradient"));
        assert!(max_diff(a, b) < 10.0 * tolerance, "{what}: gradient {idx} differs by {}", max_diff(a, b));
        assert!(
            a.abs().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap() > 0.0,
            "{what}: gradient {idx} is zero"
        );
    }
}

// 8 x 64 rows of 16: several parallel tasks for every op (32 rows, 4,096 elements each).
const SHAPE: (usize, usize, usize) = (8, 64, 16);

#[test]
fn layer_norm_matches_the_composed_version() {
    let (x, w, b) = (var(0.5, 2.0, SHAPE), var(1.0, 0.3, 16), var(0.0, 0.3, 16));
    let ours = layer_norm(&x, &w, &b, 1e-5).unwrap();
    let theirs = candle_nn::ops::layer_norm_slow(&x, &w, &b, 1e-5).unwrap();
    check("layer norm", &ours, &theirs, &[&x, &w, &b], 1e-5);
}

#[test]
fn add_norm_matches_the_composed_version() {
    let (x, residual) = (var(0.5, 2.0, SHAPE), var(0.0, 1.0, SHAPE));
    let (bias, w, b) = (var(0.0, 0.5, 16), var(1.0, 0.3, 16), var(0.0, 0.3, 16));
    let ours = add_norm(&x, &residual, &bias, &w, &b, 1e-5).unwrap();
    let sum = (x.as_tensor() + residual.as_tensor()).unwrap().broadcast_add(&bias).unwrap();
    let theirs = candle_nn::ops::layer_norm_slow(&sum, &w, &b, 1e-5).unwrap();
    check("add + norm", &ours, &theirs, &[&x, &residual, &bias, &w, &b], 1e-5);
}

#[test]
fn linear_matches_candle_nn() {
    let rows = var(0.0, 1.0, (512, 16));
    let (weight, bias) = (var(0.0, 0.3, (7, 16)), var(0.0, 0.3, 7));
    let ours = linear(&rows, &weight, Some(&bias)).unwrap();
    let theirs = candle_nn::Linear::new(weight.as_tensor().clone(), Some(bias.as_tensor().clone()));
    let theirs = candle_core::Module::forward(&theirs, &rows).unwrap();
    check("linear", &ours, &theirs, &[&rows, &weight, &bias], 1e-5);
}

#[test]
fn bias_gelu_matches_candle() {
    let x = var(0.5, 2.0, SHAPE);
    let bias = var(0.0, 0.5, 16);
    let ours = bias_gelu(&x, &bias).unwrap();
    let theirs = x.broadcast_add(&bias).unwrap().gelu_erf().unwrap();
    check("bias + gelu", &ours, &theirs, &[&x, &bias], 1e-5);
}
