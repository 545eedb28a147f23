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
    // Inference does not touch the optimizer.
    assert_eq!(vb.step(), 0);
    assert!(matches!(vb.predict_masked(&batch, 0), Err(Error::InvalidInput { .. })));
}
