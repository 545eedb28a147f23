//! Times the native train step in pure Rust (no Node) against this machine's GEMM peak:
//! `cargo run --release -p videobert-core --example step_speed -- [preset] [batch] [steps]`.
//! Threads come from `RAYON_NUM_THREADS` / `CANDLE_NUM_THREADS` (candle sizes its pools from
//! them). Prints the median step time, its split into forward / backward / update, the GEMM peak
//! (a 2048×1024×1024 f32 dense layer through the same op the model uses) and the step's achieved
//! GFLOP/s (matrix-multiply FLOPs counted analytically) as a fraction of that peak.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use videobert_core::candle_core::Tensor;
use videobert_core::kernels::fused;
use videobert_core::{Device, StepOptions, VideoBertConfig};

/// GFLOP/s of a 2048×1024 · (1024×1024)ᵀ f32 dense layer (best of 10).
fn gemm_peak() -> f64 {
    let (m, k, n) = (2048, 1024, 1024);
    let x = Tensor::ones((m, k), videobert_core::DType::F32, &Device::Cpu).unwrap();
    let w = Tensor::ones((n, k), videobert_core::DType::F32, &Device::Cpu).unwrap();
    let bias = Tensor::zeros(n, videobert_core::DType::F32, &Device::Cpu).unwrap();
    let best = (0..12)
        .map(|_| {
            let t0 = Instant::now();
            drop(fused::linear::linear(&x, &w, &bias).unwrap());
            t0.elapsed().as_secs_f64()
        })
        .skip(2)
        .fold(f64::INFINITY, f64::min);
    2.0 * (m * k * n) as f64 / best / 1e9
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let preset = args.first().map(String::as_str).unwrap_or("small");
    let batch: usize = args.get(1).map(|s| s.parse().expect("batch")).unwrap_or(8);
    let steps: usize = args.get(2).map(|s| s.parse().expect("steps")).unwrap_or(10);
    let cfg = VideoBertConfig::preset(preset).expect("preset");
    let mut model = common::model(cfg.clone(), videobert_core::DType::F32, 0);
    let b = common::random_batch(&cfg, batch, 1);
    let mut times = Vec::new();
    for i in 0..steps + 3 {
        let t0 = Instant::now();
        let m = model.train_step(std::slice::from_ref(&b), StepOptions { lr: 1e-4, max_grad_norm: 1.0, ..Default::default() }).expect("step");
        let ms = t0.elapsed().as_secs_f64() * 1e3;
        if i >= 3 {
            times.push(ms);
        }
        if i == 0 {
            eprintln!("first step loss {:.6} grad norm {:.6}", m.loss, m.grad_norm);
        }
    }
    times.sort_by(f64::total_cmp);
    println!("{preset} B{batch}: median {:.1} ms, min {:.1} ms over {steps} steps", times[steps / 2], times[0]);
    // Where the step's time goes: forward alone, forward + backward.
    let masked = b.mask(&cfg, &mut videobert_core::rng::Rng::new(3));
    let median = |f: &mut dyn FnMut()| {
        let mut t: Vec<f64> = (0..7)
            .map(|_| {
                let t0 = Instant::now();
                f();
                t0.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        t.sort_by(f64::total_cmp);
        t[3]
    };
    let fwd = median(&mut || drop(model.losses(&masked).expect("forward")));
    let fwd_bwd = median(&mut || drop(model.gradients(&masked).expect("backward")));
    let step = times[steps / 2];
    println!("forward {fwd:.1} ms, forward + backward {fwd_bwd:.1} ms, the rest (norm, clipping, AdamW) {:.1} ms", step - fwd_bwd);
    let flops = 6.0 * common::forward_macs(&cfg, batch);
    let peak = gemm_peak();
    let achieved = flops / (step / 1e3) / 1e9;
    println!("step: {:.2} GFLOP (analytic), {achieved:.1} GFLOP/s; GEMM peak {peak:.1} GFLOP/s; step = {:.0} % of peak", flops / 1e9, 100.0 * achieved / peak);
}
