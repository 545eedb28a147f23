#![allow(dead_code)]
//! Shared helpers for the integration tests: deterministic synthetic batches on the tiny config.

use videobert_core::rng::Rng;
use videobert_core::{Batch, CreateOptions, DType, Session, VideoBertConfig, VideoInput};

/// A batch of `b` samples with random captions of varying length, random unit-norm features,
/// some padded segments and alternating VTM labels.
pub fn random_batch(cfg: &VideoBertConfig, b: usize, seed: u64) -> Batch {
    let mut rng = Rng::new(seed);
    let (l, t, r, f) = (cfg.max_text_len, cfg.max_segments, cfg.num_regions, cfg.feature_dim);
    let first_word = 5u32; // after the special ids of the presets
    let mut text_ids = vec![cfg.pad_token_id; b * l];
    for i in 0..b {
        let len = l / 2 + rng.below(l / 2 + 1);
        for j in 0..len {
            text_ids[i * l + j] = first_word + rng.below(cfg.vocab_size - first_word as usize) as u32;
        }
    }
    let mut video_mask = vec![1u8; b * t];
    for i in 0..b {
        let len = t / 2 + rng.below(t / 2 + 1);
        for j in len..t {
            video_mask[i * t + j] = 0;
        }
    }
    let per_seg = r.max(1) * f;
    let mut feats = vec![0f32; b * t * per_seg];
    for chunk in feats.chunks_mut(f) {
        let v: Vec<f64> = (0..f).map(|_| rng.normal()).collect();
        let n = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        for (o, x) in chunk.iter_mut().zip(v) {
            *o = (x / n) as f32;
        }
    }
    let words = (cfg.video_input == VideoInput::VisualWords).then(|| (0..b * t).map(|_| rng.below(cfg.num_visual_words) as u32).collect());
    Batch {
        batch_size: b,
        text_ids,
        text_mask: None,
        video_features: (cfg.video_input == VideoInput::Features || r > 0).then_some(feats),
        visual_word_ids: words,
        video_mask: Some(video_mask),
        vtm_labels: Some((0..b).map(|i| (i % 2) as u8).collect()),
        labels: None,
        caption_ids: None,
        num_choices: None,
    }
}

pub fn model(cfg: VideoBertConfig, dtype: DType, seed: u64) -> Session {
    Session::new(cfg, CreateOptions { seed, dtype, ..Default::default() }).expect("model")
}

pub fn tmpdir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("videobert-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Multiply-adds of one forward pass over a batch of `b` (the matrix products only: projections,
/// attention scores and mixing, FFN, the heads on their masked rows). A train step is 3× this
/// (forward; backward = two products per forward product), counted as 2 FLOPs per multiply-add.
pub fn forward_macs(cfg: &VideoBertConfig, b: usize) -> f64 {
    let (h, l, t, r, f, v) = (cfg.hidden_size, cfg.max_text_len, cfg.max_segments, cfg.num_regions, cfg.feature_dim, cfg.vocab_size);
    let (ffn, heads) = (cfg.intermediate_size, cfg.num_attention_heads);
    let seq = l + t + 3;
    let regions = b * t * r;
    let attention = |tokens: usize, seqs: usize, s: usize| 4 * tokens * h * h + 2 * seqs * heads * s * s * (h / heads);
    let mut per_layer = attention(b * seq, b, seq) + 2 * (b * seq + regions) * h * ffn;
    if r > 0 {
        per_layer += attention(b * t * (r + 1), b * t, r + 1);
    }
    let embed = b * t * f * h + regions * f * h;
    let masked_text = ((l as f64 * cfg.text_mask_prob).max(cfg.text_mask_min as f64) * b as f64) as usize;
    let masked_video = (t as f64 * cfg.video_mask_prob * b as f64) as usize;
    let heads_macs = masked_text * (h * h + h * v) + masked_video * (h * h + h * f) + b * (h * h + 2 * h);
    (cfg.num_hidden_layers * per_layer + embed + heads_macs) as f64
}
