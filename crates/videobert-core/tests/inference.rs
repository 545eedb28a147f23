//! Inference heads: video-text match probabilities and masked-word predictions.

mod common;

use common::{model, random_batch};
use videobert_core::{DType, Error, VideoBertConfig};

#[test]
fn match_scores_are_probabilities_and_masked_predictions_are_sorted_top_k() {
    let cfg = VideoBertConfig::tiny();
    let mut vb = model(cfg.clone(), DType::F32, 2);
    let mut batch = random_batch(&cfg, 3, 9);
    let scores = vb.match_scores(&batch).unwrap();
    assert_eq!(scores.len(), 3);
    assert!(scores.iter().all(|p| (0.0..=1.0).contains(p)));
    assert!(vb.predict_masked(&batch, 5).unwrap().is_empty(), "no [MASK] in the text, nothing to predict");

    batch.text_ids[2] = cfg.mask_token_id; // sample 0, position 2
    batch.text_ids[cfg.max_text_len + 1] = cfg.mask_token_id; // sample 1, position 1
    let preds = vb.predict_masked(&batch, 5).unwrap();
    assert_eq!(preds.iter().map(|p| (p.sample, p.position)).collect::<Vec<_>>(), vec![(0, 2), (1, 1)]);
    for p in &preds {
        assert_eq!(p.ids.len(), 5);
        assert!(p.probs.windows(2).all(|w| w[0] >= w[1]), "sorted: {:?}", p.probs);
        assert!(p.probs.iter().sum::<f32>() <= 1.0 + 1e-5);
        assert!(p.ids.iter().all(|&i| (i as usize) < cfg.vocab_size));
    }
    // The top k is the full ranking's first k (ids and probabilities), whatever k.
    let full = vb.predict_masked(&batch, cfg.vocab_size).unwrap();
    for k in [1, 5, 17, cfg.vocab_size - 1, cfg.vocab_size + 3] {
        for (p, f) in vb.predict_masked(&batch, k).unwrap().iter().zip(&full) {
            let n = k.min(cfg.vocab_size);
            assert_eq!((&p.ids[..], &p.probs[..]), (&f.ids[..n], &f.probs[..n]), "top {k}");
        }
    }
    // Inference does not touch the optimizer.
    assert_eq!(vb.step(), 0);
    assert!(matches!(vb.predict_masked(&batch, 0), Err(Error::InvalidInput { .. })));
}

#[test]
fn mask_log_probs_are_the_logs_of_the_masked_distribution() {
    let cfg = VideoBertConfig::tiny();
    let mut vb = model(cfg.clone(), DType::F32, 2);
    let mut batch = random_batch(&cfg, 3, 9);
    assert!(vb.mask_log_probs(&batch, &[], 1).unwrap().is_empty(), "no [MASK], nothing to score");
    batch.text_ids[2] = cfg.mask_token_id; // sample 0, position 2
    batch.text_ids[cfg.max_text_len + 1] = cfg.mask_token_id; // sample 1, position 1
    batch.text_ids[2 * cfg.max_text_len] = cfg.mask_token_id; // sample 2, position 0
    let full = vb.predict_masked(&batch, cfg.vocab_size).unwrap();
    // Three ids per mask, different at each mask (one of them the most probable word).
    let ids: Vec<u32> = full.iter().enumerate().flat_map(|(m, p)| [p.ids[0], 7 + m as u32, cfg.vocab_size as u32 - 1 - m as u32]).collect();
    let got = vb.mask_log_probs(&batch, &ids, 3).unwrap();
    assert_eq!(got.len(), 9);
    for (m, p) in full.iter().enumerate() {
        for j in 0..3 {
            let id = ids[m * 3 + j];
            let prob = p.probs[p.ids.iter().position(|&i| i == id).unwrap()];
            assert!((got[m * 3 + j] - prob.ln()).abs() < 1e-5, "mask {m} id {id}: {} vs ln {prob}", got[m * 3 + j]);
        }
    }
    assert!(matches!(vb.mask_log_probs(&batch, &ids[..8], 3), Err(Error::InvalidInput { .. })), "wrong count");
    assert!(matches!(vb.mask_log_probs(&batch, &[cfg.vocab_size as u32, 0, 0], 1), Err(Error::InvalidInput { .. })), "id outside the vocabulary");
    assert!(matches!(vb.mask_log_probs(&batch, &ids, 0), Err(Error::InvalidInput { .. })));
}
