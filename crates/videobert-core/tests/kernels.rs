//! The fused CPU kernels against the composed candle ops they replace: every op forward and every
//! input gradient, then whole models (losses and every parameter gradient, each video loss) and
//! the AdamW update, in f64 (to 1e-10) and f32 (to 1e-5 of each tensor's scale).

mod common;

use candle_core::{DType, Device, Module, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use common::{model, random_batch};
use videobert_core::kernels::fused::{self, Kernels};
use videobert_core::model::layers::{FeedForward, LayerNorm, Linear, SelfAttention};
use videobert_core::optim::AdamW;
use videobert_core::rng::Rng;
use videobert_core::{AdamWConfig, VideoBertConfig, VideoInput, VideoLoss};

fn random(shape: &[usize], dtype: DType, seed: u64) -> Tensor {
    let mut rng = Rng::new(seed);
    let n: usize = shape.iter().product();
    Tensor::from_vec((0..n).map(|_| rng.normal()).collect::<Vec<f64>>(), shape, &Device::Cpu).unwrap().to_dtype(dtype).unwrap()
}

fn values(t: &Tensor) -> Vec<f64> {
    t.to_dtype(DType::F64).unwrap().flatten_all().unwrap().to_vec1::<f64>().unwrap()
}

fn max_abs(t: &Tensor) -> f64 {
    values(t).iter().fold(0f64, |m, v| m.max(v.abs()))
}

/// max |a − b| / max(max |b|, floor): the error relative to the tensor's scale. `floor` keeps a
/// gradient that is zero in exact arithmetic (e.g. the key bias: softmax ignores a constant shift)
/// from turning rounding noise into a large ratio.
fn rel_floor(a: &Tensor, b: &Tensor, floor: f64) -> f64 {
    assert_eq!(a.dims(), b.dims());
    let (a, b) = (values(a), values(b));
    let scale = b.iter().fold(0f64, |m, v| m.max(v.abs())).max(floor).max(1e-30);
    a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max) / scale
}

fn rel(a: &Tensor, b: &Tensor) -> f64 {
    rel_floor(a, b, 0.0)
}

/// Gradients that are zero in exact arithmetic (the key bias) must be noise in both; the others
/// within `tol` of their scale (floored at 1e-3 of the largest gradient of the set).
fn assert_close(a: &Tensor, b: &Tensor, global: f64, tol: f64, what: &str) {
    if max_abs(b) < 1e-4 * global {
        assert!(max_abs(a) < 1e-4 * global, "{what}: {:e} where the reference is {:e} (scale {global:e})", max_abs(a), max_abs(b));
        return;
    }
    let e = rel_floor(a, b, 1e-3 * global);
    assert!(e < tol, "{what}: relative error {e:e}");
}

fn tolerance(dtype: DType) -> f64 {
    if dtype == DType::F64 {
        1e-10
    } else {
        1e-5
    }
}

/// Forward outputs and the gradients of `Σ out · probe` for each input, fused vs composed.
fn compare(name: &str, inputs: &[Var], dtype: DType, fused: impl Fn(&[Tensor]) -> Tensor, composed: impl Fn(&[Tensor]) -> Tensor) {
    let xs: Vec<Tensor> = inputs.iter().map(|v| v.as_tensor().clone()).collect();
    let (yf, yc) = (fused(&xs), composed(&xs));
    let e = rel(&yf, &yc);
    assert!(e < tolerance(dtype), "{name} forward ({dtype:?}): relative error {e:e}");
    let probe = random(yc.dims(), dtype, 99);
    let gf = (yf * &probe).unwrap().sum_all().unwrap().backward().unwrap();
    let gc = (yc * &probe).unwrap().sum_all().unwrap().backward().unwrap();
    let global = inputs.iter().map(|v| max_abs(gc.get(v.as_tensor()).expect("composed gradient"))).fold(0.0, f64::max);
    for (i, v) in inputs.iter().enumerate() {
        let (a, b) = (gf.get(v.as_tensor()).expect("fused gradient"), gc.get(v.as_tensor()).expect("composed gradient"));
        assert_close(a, b, global, tolerance(dtype), &format!("{name} gradient of input {i} ({dtype:?})"));
    }
}

fn var(shape: &[usize], dtype: DType, seed: u64) -> Var {
    Var::from_tensor(&random(shape, dtype, seed)).unwrap()
}

#[test]
fn layer_norm_matches_composed() {
    for dtype in [DType::F64, DType::F32] {
        // 37 rows: not a multiple of the block size.
        let (x, g, b) = (var(&[37, 48], dtype, 1), var(&[48], dtype, 2), var(&[48], dtype, 3));
        let make = |t: &[Tensor]| LayerNorm::from_parts(t[1].clone(), t[2].clone(), 1e-5);
        compare("LayerNorm", &[x, g, b], dtype, |t| fused::layer_norm::layer_norm(&t[0], &t[1], &t[2], 1e-5).unwrap(), |t| make(t).composed(&t[0]).unwrap());
    }
}

/// GELU against candle's forward and the exact derivative `Φ(x) + x·φ(x)` (candle's own backward
/// rounds 1/√(2π) to 0.398942, a 6e-7 relative error, so it is not the reference for the gradient).
#[test]
fn gelu_matches_composed_and_its_exact_derivative() {
    for dtype in [DType::F64, DType::F32] {
        let x = (random(&[5000], dtype, 4) * 3.0).unwrap();
        let y = fused::gelu::gelu(&x).unwrap();
        assert!(rel(&y, &x.gelu_erf().unwrap()) < tolerance(dtype), "GELU forward {dtype:?}: {:e}", rel(&y, &x.gelu_erf().unwrap()));
        let v = Var::from_tensor(&x).unwrap();
        let g = fused::gelu::gelu(v.as_tensor()).unwrap().sum_all().unwrap().backward().unwrap();
        let got = values(g.get(v.as_tensor()).unwrap());
        let worst = values(&x)
            .iter()
            .zip(&got)
            .map(|(&x, &d)| {
                let exact = 0.5 * (1.0 + libm::erf(x / std::f64::consts::SQRT_2)) + x * (-x * x / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt();
                (d - exact).abs()
            })
            .fold(0.0, f64::max);
        assert!(worst < tolerance(dtype), "GELU derivative {dtype:?}: max error {worst:e}");
    }
}

#[test]
fn linear_matches_composed() {
    for dtype in [DType::F64, DType::F32] {
        let (x, w, b) = (var(&[3, 7, 40], dtype, 5), var(&[24, 40], dtype, 6), var(&[24], dtype, 7));
        compare(
            "Linear",
            &[x, w, b],
            dtype,
            |t| fused::linear::linear(&t[0], &t[1], &t[2]).unwrap(),
            |t| Linear::new(t[1].clone(), t[2].clone()).composed(&t[0]).unwrap(),
        );
    }
}

#[test]
fn attention_matches_composed_with_and_without_mask() {
    for dtype in [DType::F64, DType::F32] {
        let (n, s, h, heads) = (3, 11, 24, 4);
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, dtype, &Device::Cpu);
        let attn = SelfAttention::new(h, heads, vb).unwrap();
        for (i, v) in varmap.all_vars().iter().enumerate() {
            v.set(&(random(v.dims(), dtype, 20 + i as u64) * 0.3).unwrap()).unwrap();
        }
        // Key mask: the last 3 keys of sample 1 and the last one of sample 2 are padding.
        let mut m = vec![0f64; n * s];
        for j in s - 3..s {
            m[s + j] = -1e4;
        }
        m[2 * s + s - 1] = -1e4;
        let mask = Tensor::from_vec(m, (n, s), &Device::Cpu).unwrap().to_dtype(dtype).unwrap();
        let mut inputs = vec![var(&[n, s, h], dtype, 8)];
        inputs.extend(varmap.all_vars());
        for mask in [None, Some(&mask)] {
            compare("attention", &inputs, dtype, |t| attn.forward(&t[0], mask).unwrap(), |t| attn.composed(&t[0], mask).unwrap());
        }
    }
}

fn config(video_loss: VideoLoss) -> VideoBertConfig {
    let mut cfg = VideoBertConfig::tiny();
    cfg.video_loss = video_loss;
    if video_loss == VideoLoss::Ce {
        cfg.video_input = VideoInput::VisualWords;
        cfg.num_visual_words = 40;
        cfg.num_regions = 0;
    }
    cfg.initializer_range = 0.1;
    cfg
}

/// Whole models: losses and every parameter's gradient, and the metrics of two train steps, fused
/// vs composed; then the AdamW update alone on identical gradients. (The only test here that
/// switches the process-wide kernels.)
#[test]
fn models_and_adamw_match_composed() {
    for dtype in [DType::F64, DType::F32] {
        for loss in [VideoLoss::L2, VideoLoss::Nce, VideoLoss::Ce] {
            let cfg = config(loss);
            let batch = random_batch(&cfg, 4, 12);
            let masked = batch.mask(&cfg, &mut Rng::new(3));
            let run = |k: Kernels| {
                fused::set_kernels(k);
                let mut vb = model(cfg.clone(), dtype, 7);
                let (losses, grads) = vb.gradients(&masked).unwrap();
                let metrics: Vec<_> = (0..2).map(|_| vb.train_step(std::slice::from_ref(&batch), Default::default()).unwrap()).collect();
                (losses, grads, metrics)
            };
            let (lf, gf, mf) = run(Kernels::Fused);
            let (lc, gc, mc) = run(Kernels::Composed);
            fused::set_kernels(Kernels::Fused);
            // f64: candle's composed GELU backward carries a 6e-7 relative error (see above).
            let tol = if dtype == DType::F64 { 2e-6 } else { tolerance(dtype) };
            for (a, b, what) in [(&lf.total, &lc.total, "total"), (&lf.mlm, &lc.mlm, "mlm"), (&lf.video, &lc.video, "video"), (&lf.vtm, &lc.vtm, "vtm")] {
                assert!(rel(a, b) < tol, "{loss:?} {dtype:?} {what} loss: {:e}", rel(a, b));
            }
            let names: Vec<String> = model(cfg.clone(), dtype, 7).params().iter().map(|(n, _)| n.clone()).collect();
            let global = gc.iter().map(max_abs).fold(0.0, f64::max);
            for ((a, b), name) in gf.iter().zip(&gc).zip(&names) {
                assert_close(a, b, global, tol, &format!("{loss:?} {dtype:?} gradient of {name}"));
            }
            for (a, b) in mf.iter().zip(&mc) {
                assert!(
                    (a.loss - b.loss).abs() <= tol * b.loss.abs() && (a.grad_norm - b.grad_norm).abs() <= tol * b.grad_norm,
                    "{loss:?} {dtype:?} step metrics {a:?} vs {b:?}"
                );
            }
        }
        // AdamW: three updates with the same gradients (scaled, with decay and without), fused vs composed.
        let cfg = config(VideoLoss::L2);
        let update = |k: Kernels| {
            fused::set_kernels(k);
            let vb = model(cfg.clone(), dtype, 7);
            let mut opt = AdamW::new(AdamWConfig::default(), vb.params()).unwrap();
            for step in 0..3u64 {
                let grads: Vec<Tensor> = vb.params().iter().enumerate().map(|(i, (_, v))| random(v.dims(), dtype, 1000 * step + i as u64)).collect();
                opt.update(vb.params(), &grads, 1e-3, 0.5).unwrap();
            }
            let params: Vec<Tensor> = vb.params().iter().map(|(_, v)| v.as_tensor().copy().unwrap()).collect();
            let moments: Vec<Tensor> = opt.moments.iter().flat_map(|m| [m.exp_avg.clone(), m.exp_avg_sq.clone()]).collect();
            (params, moments)
        };
        let (pf, mf) = update(Kernels::Fused);
        let (pc, mc) = update(Kernels::Composed);
        fused::set_kernels(Kernels::Fused);
        for (a, b) in pf.iter().zip(&pc).chain(mf.iter().zip(&mc)) {
            let e = rel(a, b);
            assert!(e < tolerance(dtype), "AdamW {dtype:?}: relative error {e:e}");
        }
    }
}

/// The f32 polynomials the fused GELU and softmax use: erf within 4.5e-7 of libm's, e^x within
/// 3e-7 relative on [−86, 88], exactly 0 below −86 and never subnormal (subnormals slow every GEMM
/// that later reads them).
#[test]
fn f32_erf_and_exp_are_accurate_and_never_subnormal() {
    let (mut erf_worst, mut exp_worst) = (0f64, 0f64);
    for i in 0..=400_000 {
        let x = (-100.0 + i as f32 * 4.7e-4).min(88.0);
        erf_worst = erf_worst.max((fused::erf_f32(x) as f64 - libm::erf(x as f64)).abs());
        let e = fused::exp_f32(x);
        assert!(e == 0.0 || e.is_normal(), "exp_f32({x}) = {e:e} is subnormal");
        if x < -86.0 {
            assert_eq!(e, 0.0, "exp_f32({x})");
        } else {
            exp_worst = exp_worst.max(((e as f64) / (x as f64).exp() - 1.0).abs());
        }
    }
    assert!(erf_worst < 4.5e-7, "erf_f32: max error {erf_worst:e}");
    assert!(exp_worst < 3e-7, "exp_f32: max relative error {exp_worst:e}");
    assert_eq!(fused::exp_f32(0.0), 1.0);
}

/// The fused FFN block (`x + FFN(LN(x))` as one op, parameter gradients in `param_grads`) gives
/// exactly the bits of the separate fused ops it replaces, forward and every gradient.
#[test]
fn ffn_block_is_bitwise_the_separate_fused_ops() {
    for dtype in [DType::F32, DType::F64] {
        let (h, inner) = (24, 40);
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, dtype, &Device::Cpu);
        let (norm, ffn) = (LayerNorm::new(h, 1e-12, vb.pp("norm")).unwrap(), FeedForward::new(h, inner, vb.pp("ffn")).unwrap());
        let vars = varmap.all_vars();
        for (i, v) in vars.iter().enumerate() {
            v.set(&random(v.dims(), dtype, 40 + i as u64)).unwrap();
        }
        let x = Var::from_tensor(&random(&[3, 7, h], dtype, 1)).unwrap();
        let probe = random(&[3, 7, h], dtype, 2);
        let bits = |t: &Tensor| values(t).iter().map(|v| v.to_bits()).collect::<Vec<_>>();

        let y_block = ffn.residual(x.as_tensor(), &norm).unwrap();
        let g_block = (&y_block * &probe).unwrap().sum_all().unwrap().backward().unwrap();
        let side: Vec<Tensor> = vars.iter().map(|v| fused::param_grads::take(v.as_tensor()).expect("a parameter gradient from the block")).collect();
        assert!(vars.iter().all(|v| g_block.get(v.as_tensor()).is_none()), "the block's parameters are not candle graph inputs");

        let y_ops = (x.as_tensor() + ffn.forward(&norm.forward(x.as_tensor()).unwrap()).unwrap()).unwrap();
        let g_ops = (&y_ops * &probe).unwrap().sum_all().unwrap().backward().unwrap();

        assert_eq!(bits(&y_block), bits(&y_ops), "{dtype:?} output");
        assert_eq!(bits(g_block.get(x.as_tensor()).unwrap()), bits(g_ops.get(x.as_tensor()).unwrap()), "{dtype:?} dx");
        for (v, g) in vars.iter().zip(&side) {
            assert_eq!(bits(g), bits(g_ops.get(v.as_tensor()).unwrap()), "{dtype:?} parameter gradient {:?}", v.dims());
        }
    }
}

/// The fused attention block (`x + attention(LN(x))` as one op) gives exactly the bits of the
/// separate fused ops (stacked QKV projection, attention, output projection, residual add), with
/// and without a key mask.
#[test]
fn attention_block_is_bitwise_the_separate_fused_ops() {
    for dtype in [DType::F32, DType::F64] {
        for masked in [false, true] {
            let (n, s, h, heads) = (3, 9, 32, 4);
            let varmap = VarMap::new();
            let vb = VarBuilder::from_varmap(&varmap, dtype, &Device::Cpu);
            let (norm, attn) = (LayerNorm::new(h, 1e-12, vb.pp("norm")).unwrap(), SelfAttention::new(h, heads, vb.pp("attn")).unwrap());
            let vars = varmap.all_vars();
            for (i, v) in vars.iter().enumerate() {
                v.set(&(random(v.dims(), dtype, 60 + i as u64) * 0.3).unwrap()).unwrap();
            }
            let x = Var::from_tensor(&random(&[n, s, h], dtype, 3)).unwrap();
            let probe = random(&[n, s, h], dtype, 4);
            let keep: Vec<f64> = (0..n * s).map(|i| if i % s >= s - 2 - i / s { 0.0 } else { 1.0 }).collect();
            let mask =
                masked.then(|| videobert_core::model::layers::additive_mask(&Tensor::from_vec(keep.clone(), (n, s), &Device::Cpu).unwrap(), dtype).unwrap());
            let bits = |t: &Tensor| values(t).iter().map(|v| v.to_bits()).collect::<Vec<_>>();

            let y_block = attn.residual(x.as_tensor(), &norm, mask.as_ref()).unwrap();
            let g_block = (&y_block * &probe).unwrap().sum_all().unwrap().backward().unwrap();
            let side: Vec<Tensor> = vars.iter().map(|v| fused::param_grads::take(v.as_tensor()).expect("a parameter gradient from the block")).collect();

            let y_ops = (x.as_tensor() + attn.forward(&norm.forward(x.as_tensor()).unwrap(), mask.as_ref()).unwrap()).unwrap();
            let g_ops = (&y_ops * &probe).unwrap().sum_all().unwrap().backward().unwrap();

            assert_eq!(bits(&y_block), bits(&y_ops), "{dtype:?} masked {masked}: output");
            assert_eq!(bits(g_block.get(x.as_tensor()).unwrap()), bits(g_ops.get(x.as_tensor()).unwrap()), "{dtype:?} masked {masked}: dx");
            for (v, g) in vars.iter().zip(&side) {
                assert_eq!(bits(g), bits(g_ops.get(v.as_tensor()).unwrap()), "{dtype:?} masked {masked}: gradient {:?}", v.dims());
            }
        }
    }
}
