//! The GPU path (built only with `--features cuda`; run on a machine with a GPU by
//! `scripts/cuda/device-check.sh`): the model on `cuda:0` against the same model on the CPU, and
//! the `small` / `base` train step's speed there. Prints one `GPU-CHECK {json}` line per result;
//! the assertions are the acceptance bounds.
#![cfg(feature = "cuda")]

mod common;

use std::time::Instant;

use candle_nn::{VarBuilder, VarMap};
use videobert_core::candle_core::{Tensor, Var};
use videobert_core::distributed::{nccl::Nccl, store::Rendezvous, Alone, DataParallel};
use videobert_core::model::layers::SelfAttention;
use videobert_core::{device, CreateOptions, DType, Session, StepOptions, VideoBertConfig};

fn on(device_name: &str, cfg: &VideoBertConfig) -> Session {
    let device = device::parse(device_name).expect("device");
    Session::new(cfg.clone(), CreateOptions { seed: 0, dtype: DType::F32, device, ..Default::default() }).expect("model")
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
    let opts = StepOptions { lr: 1e-3, max_grad_norm: 1.0, ..Default::default() };
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

/// NCCL on one GPU (a world of one), with the host group carrying the small exchanges (as MPI does
/// under mpirun): the gradients go through NCCL's all-reduce in buckets (small ones, so that several
/// tensors share one and the biggest has one alone) and the steps are those of the same model
/// trained without it, to the bit.
#[test]
fn nccl_world_of_one_steps_like_one_gpu() {
    steps_like_one_gpu("nccl_world_1", Nccl::new(std::sync::Arc::new(Alone), std::time::Duration::from_secs(60)));
}

/// The same under torchrun's arrangement: NCCL's id through the rendezvous store (here one rank 0
/// serves on a free port) and the small exchanges — loss counts, the parameter check — through
/// NCCL itself, in device buffers.
#[test]
fn nccl_over_the_rendezvous_store_world_of_one_steps_like_one_gpu() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let rendezvous = Rendezvous { host: "127.0.0.1".into(), port, agent_serves: false, restart: 0 };
    steps_like_one_gpu("nccl_store_world_1", Nccl::over_store(rendezvous, 0, 1, 0, std::time::Duration::from_secs(60)));
}

fn steps_like_one_gpu(check: &str, comm: Nccl) {
    let cfg = VideoBertConfig::preset("tiny").unwrap();
    let (mut plain, mut dp) = (on("cuda:0", &cfg), on("cuda:0", &cfg));
    dp.join_data_parallel(DataParallel { bucket_bytes: 64 << 10, check_every: 2, ..DataParallel::new(std::sync::Arc::new(comm)) }).unwrap();
    let batch = common::random_batch(&cfg, 4, 1);
    let opts = StepOptions { lr: 1e-3, max_grad_norm: 1.0, ..Default::default() };
    for step in 0..4 {
        let (a, b) = (plain.train_step(std::slice::from_ref(&batch), opts).unwrap(), dp.train_step(std::slice::from_ref(&batch), opts).unwrap());
        println!(
            "GPU-CHECK {{\"check\":\"{check}\",\"step\":{step},\"loss\":{},\"nccl_loss\":{},\"grad_norm\":{},\"nccl_grad_norm\":{}}}",
            a.loss, b.loss, a.grad_norm, b.grad_norm
        );
        assert_eq!(a.loss, b.loss, "step {step}");
        assert_eq!(a.grad_norm, b.grad_norm, "step {step}");
    }
    for ((name, x), (_, y)) in plain.params().iter().zip(dp.params()) {
        let d = (x.as_tensor() - y.as_tensor()).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
        assert_eq!(d, 0.0, "{name} differs by {d}");
    }
}

/// Steps/s of `preset` at `batch` on the GPU and the step's achieved TFLOP/s (FLOPs counted as in
/// the CPU `step_speed` example). Not an assertion: figures for benches/RESULTS.md.
fn speed(preset: &str, batch: usize) {
    let cfg = VideoBertConfig::preset(preset).unwrap();
    let mut gpu = on("cuda:0", &cfg);
    let b = common::random_batch(&cfg, batch, 1);
    let opts = StepOptions { lr: 1e-4, max_grad_norm: 1.0, ..Default::default() };
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

/// Max |a − b| over a tensor pair, relative to max |b|.
fn rel_err(a: &Tensor, b: &Tensor) -> f64 {
    let (a, b) = (a.to_dtype(DType::F64).unwrap().flatten_all().unwrap(), b.to_dtype(DType::F64).unwrap().flatten_all().unwrap());
    let diff = (&a - &b).unwrap().abs().unwrap().max(0).unwrap().to_scalar::<f64>().unwrap();
    let size = b.abs().unwrap().max(0).unwrap().to_scalar::<f64>().unwrap();
    diff / size.max(1e-12)
}

/// The CUDA kernel (`VIDEOBERT_CUDA_ATTENTION=fused`) against candle's composed ops on the same
/// GPU, forward and every gradient, at the spatial and joint shapes, masked and not, per dtype.
#[test]
fn fused_cuda_attention_matches_composed() {
    // SAFETY: tests in this file run on one thread (`--test-threads 1` in device-check.sh).
    unsafe { std::env::set_var("VIDEOBERT_CUDA_ATTENTION", "fused") };
    let dev = device::parse("cuda:0").unwrap();
    for (dtype, tol) in [(DType::F32, 1e-5), (DType::BF16, 2e-2), (DType::F16, 2e-2)] {
        for (n, s, h, heads, masked) in [(128, 5, 256, 4, false), (8, 51, 256, 4, true), (4, 70, 768, 12, true)] {
            let varmap = VarMap::new();
            let attn = SelfAttention::new(h, heads, VarBuilder::from_varmap(&varmap, dtype, &dev)).unwrap();
            for v in varmap.all_vars() {
                v.set(&Tensor::randn(0f32, 0.05, v.dims(), &dev).unwrap().to_dtype(dtype).unwrap()).unwrap();
            }
            let x = Var::from_tensor(&Tensor::randn(0f32, 1.0, (n, s, h), &dev).unwrap().to_dtype(dtype).unwrap()).unwrap();
            let probe = Tensor::randn(0f32, 1.0, (n, s, h), &dev).unwrap().to_dtype(dtype).unwrap();
            let mask = masked.then(|| {
                let keep: Vec<f32> = (0..n * s).map(|i| if i % s >= s - 3 { 0.0 } else { 1.0 }).collect();
                videobert_core::model::layers::additive_mask(&Tensor::from_vec(keep, (n, s), &dev).unwrap(), dtype).unwrap()
            });
            let run = |fused: bool| {
                let y = if fused { attn.forward(x.as_tensor(), mask.as_ref()) } else { attn.composed(x.as_tensor(), mask.as_ref()) }.unwrap();
                let g = (&y * &probe).unwrap().sum_all().unwrap().backward().unwrap();
                let mut grads = vec![g.get(x.as_tensor()).unwrap().clone()];
                grads.extend(varmap.all_vars().iter().map(|v| g.get(v.as_tensor()).unwrap().clone()));
                (y, grads)
            };
            let ((yf, gf), (yc, gc)) = (run(true), run(false));
            let forward = rel_err(&yf, &yc);
            let backward = gf.iter().zip(&gc).map(|(a, b)| rel_err(a, b)).fold(0.0, f64::max);
            println!(
                "GPU-CHECK {{\"check\":\"attention\",\"dtype\":\"{dtype:?}\",\"shape\":[{n},{s},{h}],\"heads\":{heads},\"masked\":{masked},\"forward_rel_err\":{forward:.3e},\"grad_rel_err\":{backward:.3e}}}"
            );
            assert!(forward < tol && backward < tol, "{dtype:?} [{n}, {s}, {h}]: forward {forward:.3e}, gradients {backward:.3e} (tolerance {tol})");
        }
    }
    unsafe { std::env::remove_var("VIDEOBERT_CUDA_ATTENTION") };
}
