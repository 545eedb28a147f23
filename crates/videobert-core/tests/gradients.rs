//! Backward-pass correctness: finite differences in f64, and a gradient for every parameter.

mod common;

use common::{model, random_batch};
use videobert_core::candle_core::Tensor;
use videobert_core::rng::Rng;
use videobert_core::{DType, Device, VideoBertConfig, VideoInput, VideoLoss};

fn tiny_f64(video_loss: VideoLoss) -> VideoBertConfig {
    let mut cfg = VideoBertConfig::tiny();
    cfg.video_loss = video_loss;
    if video_loss == VideoLoss::Ce {
        cfg.video_input = VideoInput::VisualWords;
        cfg.num_visual_words = 40;
    }
    // Small sizes keep 2·k forward passes per checked entry cheap.
    cfg.hidden_size = 16;
    cfg.intermediate_size = 32;
    cfg.max_text_len = 6;
    cfg.max_segments = 4;
    cfg.feature_dim = 8;
    cfg.vocab_size = 50;
    cfg.layer_norm_eps = 1e-5;
    cfg.initializer_range = 0.2; // large enough that every path carries signal
    cfg
}

/// Central differences on a few entries of a parameter of every layer kind (embeddings, the
/// projections, spatial and joint attention, the FFN, LayerNorms, each head) against backward.
fn check(video_loss: VideoLoss) {
    let cfg = tiny_f64(video_loss);
    let vb = model(cfg.clone(), DType::F64, 3);
    let masked = random_batch(&cfg, 3, 11).mask(&cfg, &mut Rng::new(5));
    assert!(masked.mlm_labels.iter().any(|&l| l >= 0));
    assert!(masked.video_masked.contains(&1));
    let (_, grads) = vb.gradients(&masked).unwrap();
    let loss = |vb: &videobert_core::Session| vb.losses(&masked).unwrap().total.to_scalar::<f64>().unwrap();
    let mut kinds_checked = 0;
    let mut worst: f64 = 0.0;
    for (pi, (name, var)) in vb.params().iter().enumerate() {
        kinds_checked += 1;
        let flat = var.as_tensor().flatten_all().unwrap().to_vec1::<f64>().unwrap();
        let g = grads[pi].flatten_all().unwrap().to_vec1::<f64>().unwrap();
        let mut rng = Rng::new(pi as u64);
        // Check the entry with the largest gradient plus two random ones.
        let argmax = (0..g.len()).max_by(|&a, &b| g[a].abs().total_cmp(&g[b].abs())).unwrap();
        for idx in [argmax, rng.below(flat.len()), rng.below(flat.len())] {
            let eps = 1e-5;
            let set = |v: f64| {
                let mut w = flat.clone();
                w[idx] = v;
                var.set(&Tensor::from_vec(w, var.shape(), &Device::Cpu).unwrap()).unwrap();
            };
            set(flat[idx] + eps);
            let up = loss(&vb);
            set(flat[idx] - eps);
            let down = loss(&vb);
            set(flat[idx]);
            let numeric = (up - down) / (2.0 * eps);
            let analytic = g[idx];
            let scale = numeric.abs().max(analytic.abs());
            if scale < 1e-7 {
                continue; // both ~0: e.g. an embedding row not used by this batch
            }
            let rel = (numeric - analytic).abs() / scale;
            worst = worst.max(rel);
            // Relative 1e-4, plus 1e-7 absolute for tiny entries: the O(eps²) truncation error of the
            // central difference is ~1e-8 here whatever the gradient's size.
            assert!((numeric - analytic).abs() < 1e-4 * scale + 1e-7, "{name}[{idx}]: numeric {numeric:e} vs analytic {analytic:e} (rel {rel:e})");
        }
    }
    assert!(kinds_checked > 30, "checked {kinds_checked} parameters");
    eprintln!("{video_loss:?}: {kinds_checked} parameters, worst relative error {worst:e}");
}

#[test]
fn finite_differences_l2() {
    check(VideoLoss::L2);
}

#[test]
fn finite_differences_nce() {
    check(VideoLoss::Nce);
}

#[test]
fn finite_differences_ce_visual_words() {
    check(VideoLoss::Ce);
}

/// The trap from STACK-NOTES: an op without backward silently freezes what is upstream of it.
#[test]
fn every_parameter_gets_a_nonzero_gradient() {
    for video_loss in [VideoLoss::L2, VideoLoss::Nce, VideoLoss::Ce] {
        let mut cfg = VideoBertConfig::tiny();
        cfg.video_loss = video_loss;
        if video_loss == VideoLoss::Ce {
            cfg.video_input = VideoInput::VisualWords;
            cfg.num_visual_words = 64;
        }
        let vb = model(cfg.clone(), DType::F32, 1);
        let masked = random_batch(&cfg, 4, 2).mask(&cfg, &mut Rng::new(3));
        let (_, grads) = vb.gradients(&masked).unwrap();
        for ((name, _), g) in vb.params().iter().zip(&grads) {
            let norm = g.sqr().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap();
            assert!(norm > 0.0 && norm.is_finite(), "{video_loss:?}: `{name}` got gradient norm² {norm}");
        }
    }
}
