//! The GPU path (built only with `--features cuda`; run on a machine with a GPU by
//! `scripts/cuda/device-check.sh`): the model on `cuda:0` against the same model on the CPU, and
//! the `small` / `base` train step's speed there. Prints one `GPU-CHECK {json}` line per result;
//! the assertions are the acceptance bounds.
#![cfg(feature = "cuda")]

mod common;

use std::time::Instant;

use videobert_core::{device, CreateOptions, DType, StepOptions, VideoBert, VideoBertConfig};

fn on(device_name: &str, cfg: &VideoBertConfig) -> VideoBert {
    let device = device::parse(device_name).expect("device");
    VideoBert::new(cfg.clone(), CreateOptions { seed: 0, dtype: DType::F32, device, ..Default::default() }).expect("model")
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-12)
}

#[test]
fn train_steps_on_the_gpu_follow_the_cpu() {
    let cfg = VideoBertConfig::preset("tiny").unwrap();
    let (mut cpu, mut gpu) = (on("cpu", &cfg), on("cuda:0", &cfg));
    assert_eq!(device::name(&gpu.device), "cuda:0");
    let batch = common::random_batch(&cfg, 4, 1);
    let opts = StepOptions { lr: 1e-3, max_grad_norm: 1.0 };
    for step in 0..5 {
        let (c, g) = (cpu.train_step(std::slice::from_ref(&batch), opts).unwrap(), gpu.train_step(std::slice::from_ref(&batch), opts).unwrap());
        println!(
            "GPU-CHECK {{\"check\":\"train_step\",\"step\":{step},\"cpu_loss\":{},\"gpu_loss\":{},\"cpu_grad_norm\":{},\"gpu_grad_norm\":{}}}",
            c.loss, g.loss, c.grad_norm, g.grad_norm
        );
        assert!(rel(g.loss, c.loss) < 1e-3, "step {step}: loss {} on the GPU vs {} on the CPU", g.loss, c.loss);
        assert!(rel(g.grad_norm, c.grad_norm) < 1e-3, "step {step}: grad norm {} vs {}", g.grad_norm, c.grad_norm);
    }
}

/// Steps/s of `preset` at `batch` on the GPU and the step's achieved TFLOP/s (FLOPs counted as in
/// the CPU `step_speed` example). Not an assertion: figures for benches/RESULTS.md.
fn speed(preset: &str, batch: usize) {
    let cfg = VideoBertConfig::preset(preset).unwrap();
    let mut gpu = on("cuda:0", &cfg);
    let b = common::random_batch(&cfg, batch, 1);
    let opts = StepOptions { lr: 1e-4, max_grad_norm: 1.0 };
    let mut times = Vec::new();
    for i in 0..13 {
        let t0 = Instant::now();
        let m = gpu.train_step(std::slice::from_ref(&b), opts).unwrap();
        assert!(m.loss.is_finite());
        if i >= 3 {
            times.push(t0.elapsed().as_secs_f64());
        }
    }
    times.sort_by(f64::total_cmp);
    let s = times[times.len() / 2];
    let tflops = 6.0 * common::forward_macs(&cfg, batch) / s / 1e12;
    println!("GPU-CHECK {{\"check\":\"speed\",\"preset\":\"{preset}\",\"batch\":{batch},\"dtype\":\"f32\",\"ms_per_step\":{:.2},\"steps_per_s\":{:.2},\"tflops\":{tflops:.2}}}", s * 1e3, 1.0 / s);
}

#[test]
fn gpu_train_step_speed() {
    speed("small", 8);
    speed("base", 32);
}
