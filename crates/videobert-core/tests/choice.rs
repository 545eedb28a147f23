//! Multiple choice: a question's candidates scored against the video by the matching head, trained
//! with a softmax over the candidates.

mod common;

use common::{model, random_batch};
use videobert_core::{Batch, DType, Error, StepOptions, VideoBertConfig};

/// `q` questions of `k` rows: row j's text is one word piece, `10 + j`; question i's video carries
/// its class `i % k` in feature dimension `i % k` of every region, and the right row is that class.
fn choice_batch(cfg: &VideoBertConfig, q: usize, k: usize, seed: u64) -> Batch {
    let b = q * k;
    let mut batch = random_batch(cfg, b, seed);
    let (t, r, f, l) = (cfg.max_segments, cfg.num_regions.max(1), cfg.feature_dim, cfg.max_text_len);
    batch.vtm_labels = None;
    batch.text_ids = vec![cfg.pad_token_id; b * l];
    let feats = batch.video_features.as_mut().unwrap();
    let mut labels = Vec::new();
    for i in 0..q {
        let class = i % k;
        labels.push(class as u32);
        for j in 0..k {
            let row = i * k + j;
            batch.text_ids[row * l] = 10 + j as u32;
            for seg in 0..t * r {
                feats[(row * t * r + seg) * f + class] += 3.0;
            }
        }
    }
    // The rows of one question share its video.
    for i in 0..q {
        let per = t * r * f;
        let first: Vec<f32> = feats[i * k * per..(i * k + 1) * per].to_vec();
        for j in 1..k {
            feats[(i * k + j) * per..(i * k + j + 1) * per].copy_from_slice(&first);
        }
        let mask: Vec<u8> = batch.video_mask.as_ref().unwrap()[i * k * t..(i * k + 1) * t].to_vec();
        for j in 1..k {
            batch.video_mask.as_mut().unwrap()[(i * k + j) * t..(i * k + j + 1) * t].copy_from_slice(&mask);
        }
    }
    batch.labels = Some(labels);
    batch.num_choices = Some(k);
    batch
}

#[test]
fn the_matching_head_learns_to_pick_the_right_candidate() {
    let cfg = VideoBertConfig { max_text_len: 4, max_segments: 4, ..VideoBertConfig::tiny() };
    let mut vb = model(cfg.clone(), DType::F32, 5);
    let (q, k) = (6, 3);
    let train = choice_batch(&cfg, q, k, 1);
    let first = vb.evaluate(std::slice::from_ref(&train), None).unwrap();
    assert!((first.classify_loss - (k as f64).ln()).abs() < 0.2, "untrained: {first:?}");
    for _ in 0..120 {
        vb.train_step(std::slice::from_ref(&train), StepOptions { lr: 2e-3, max_grad_norm: 1.0, ..Default::default() }).unwrap();
    }
    let test = choice_batch(&cfg, q, k, 77); // new noise, same rule
    let after = vb.evaluate(std::slice::from_ref(&test), None).unwrap();
    assert!(after.accuracy == 1.0 && after.classify_loss < 0.2, "{after:?}");
    assert_eq!((after.mlm_loss, after.vtm_loss), (0.0, 0.0));
    // The scores the loss reads are the matching head's log-odds, row by row.
    let logits = vb.match_logits(&Batch { labels: None, num_choices: None, ..test.clone() }).unwrap();
    let probs = vb.match_scores(&Batch { labels: None, num_choices: None, ..test.clone() }).unwrap();
    for (l, p) in logits.iter().zip(&probs) {
        assert!((1.0 / (1.0 + (-l).exp()) - p).abs() < 1e-5, "{l} vs {p}");
    }
    for i in 0..q {
        let group = &logits[i * k..(i + 1) * k];
        let best = (0..k).max_by(|&a, &b| group[a].total_cmp(&group[b])).unwrap();
        assert_eq!(best, i % k, "question {i}: {group:?}");
    }
}

#[test]
fn multiple_choice_batches_are_checked() {
    let cfg = VideoBertConfig { max_text_len: 4, max_segments: 4, ..VideoBertConfig::tiny() };
    let mut vb = model(cfg.clone(), DType::F32, 5);
    let good = choice_batch(&cfg, 2, 3, 1);
    let step = StepOptions::default();
    let field = |r: Result<videobert_core::StepMetrics, Error>| match r {
        Err(Error::InvalidInput { field, reason }) => (field, reason),
        other => panic!("expected InvalidInput, got {other:?}"),
    };
    for (batch, want, needle) in [
        (Batch { num_choices: Some(4), ..good.clone() }, "numChoices", "divide batchSize (6)"),
        (Batch { num_choices: Some(1), ..good.clone() }, "numChoices", "[2, 1024]"),
        (Batch { labels: Some(vec![0, 1, 2]), ..good.clone() }, "labels", "expected 2 elements"),
        (Batch { labels: Some(vec![0, 3]), ..good.clone() }, "labels", "numChoices (3)"),
        (Batch { labels: None, ..good.clone() }, "labels", "right candidate"),
    ] {
        let (f, reason) = field(vb.train_step(&[batch], step));
        assert!(f == want && reason.contains(needle), "{needle}: {f}: {reason}");
    }
    let mut clf = model(VideoBertConfig { num_labels: 3, ..cfg.clone() }, DType::F32, 5);
    let (f, reason) = field(clf.train_step(std::slice::from_ref(&good), step));
    assert!(f == "numChoices" && reason.contains("without a task head"), "{reason}");
}
