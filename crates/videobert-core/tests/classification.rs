//! The classification head (fine-tuning) and encoder embeddings.

mod common;

use common::{model, random_batch, tmpdir};
use videobert_core::{Batch, ClassifierPooling, CreateOptions, DType, Error, Session, StepOptions, VideoBertConfig};

/// Video-only samples whose class `c` is written into feature dimension `c` of every region.
fn labelled_batch(cfg: &VideoBertConfig, b: usize, seed: u64) -> Batch {
    let mut batch = random_batch(cfg, b, seed);
    let (t, r, f, l) = (cfg.max_segments, cfg.num_regions.max(1), cfg.feature_dim, cfg.max_text_len);
    // No caption; a prompt of three [MASK]s (what `text` pooling reads).
    for (j, id) in batch.text_ids.iter_mut().enumerate() {
        *id = if j % l < 3 { cfg.mask_token_id } else { cfg.pad_token_id };
    }
    let labels: Vec<u32> = (0..b).map(|i| (i % cfg.num_labels) as u32).collect();
    let feats = batch.video_features.as_mut().unwrap();
    for (i, &y) in labels.iter().enumerate() {
        for seg in 0..t * r {
            feats[(i * t * r + seg) * f + y as usize] += 2.0;
        }
    }
    batch.labels = Some(labels);
    batch
}

#[test]
fn a_classifier_learns_a_separable_task_on_every_pooling() {
    for pooling in [ClassifierPooling::Cls, ClassifierPooling::Segments, ClassifierPooling::Text] {
        let cfg = VideoBertConfig { num_labels: 3, classifier_pooling: pooling, ..VideoBertConfig::tiny() };
        let mut vb = model(cfg.clone(), DType::F32, 4);
        let batch = labelled_batch(&cfg, 12, 1);
        let before = vb.evaluate(std::slice::from_ref(&batch), None).unwrap();
        assert!((before.classify_loss - (3f64).ln()).abs() < 0.1, "starts near ln 3: {}", before.classify_loss);
        assert_eq!(before.mlm_loss, 0.0, "labelled batches train the head only");
        for _ in 0..40 {
            vb.train_step(std::slice::from_ref(&batch), StepOptions { lr: 3e-3, max_grad_norm: 1.0, ..Default::default() }).unwrap();
        }
        let after = vb.evaluate(std::slice::from_ref(&labelled_batch(&cfg, 12, 2)), None).unwrap();
        assert!(after.classify_loss < 0.2, "{pooling:?}: held-out loss {}", after.classify_loss);
        assert_eq!(after.accuracy, 1.0, "{pooling:?}");
        let probs = vb.classify(&labelled_batch(&cfg, 6, 3)).unwrap();
        assert_eq!(probs.len(), 6 * 3);
        for (i, row) in probs.chunks(3).enumerate() {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
            let best = (0..3).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap();
            assert_eq!(best, i % 3, "row {i}: {row:?}");
        }
    }
}

#[test]
fn for_classification_loads_the_encoder_and_adds_a_fresh_head() {
    let cfg = VideoBertConfig::tiny();
    let mut pre = model(cfg.clone(), DType::F32, 5);
    pre.train_step(&[random_batch(&cfg, 4, 1)], StepOptions::default()).unwrap();
    let dir = tmpdir("for-classification");
    pre.save(&dir).unwrap();

    let opts = || CreateOptions { seed: 9, ..Default::default() };
    let clf = Session::for_classification(&dir, 4, ClassifierPooling::Segments, opts()).unwrap();
    assert_eq!(clf.config.num_labels, 4);
    assert_eq!(clf.step(), 0, "the optimizer starts fresh");
    let pre_params: std::collections::HashMap<_, _> = pre.params().iter().cloned().collect();
    for (name, var) in clf.params() {
        match pre_params.get(name) {
            Some(p) => {
                let diff = (p.as_tensor() - var.as_tensor()).unwrap().abs().unwrap().sum_all().unwrap();
                assert_eq!(diff.to_scalar::<f32>().unwrap(), 0.0, "{name} loaded exactly");
            }
            None => assert!(name.starts_with("heads.classifier."), "only the head is new: {name}"),
        }
    }
    assert_eq!(clf.params().len(), pre.params().len() + 2);

    // A saved classifier loads as itself, and can be re-headed for another label set.
    let out = tmpdir("classifier-saved");
    clf.save(&out).unwrap();
    let again = Session::load(&out, opts()).unwrap();
    assert_eq!(again.config, clf.config);
    let rehead = Session::for_classification(&out, 2, ClassifierPooling::Cls, opts()).unwrap();
    assert_eq!(rehead.config.num_labels, 2);

    // Errors: not a checkpoint, another architecture (a tensor missing), labels without a head.
    assert!(matches!(Session::for_classification(dir.join("nope"), 4, ClassifierPooling::Cls, opts()), Err(Error::Checkpoint { .. })));
    assert!(matches!(Session::for_classification(&dir, 1, ClassifierPooling::Cls, opts()), Err(Error::Config { .. })));
    let other = tmpdir("other-architecture");
    model(VideoBertConfig { hidden_size: 32, ..cfg.clone() }, DType::F32, 1).save(&other).unwrap();
    std::fs::copy(dir.join("config.json"), other.join("config.json")).unwrap();
    match Session::for_classification(&other, 4, ClassifierPooling::Cls, opts()) {
        Err(Error::Checkpoint { reason, .. }) => assert!(reason.contains("shape"), "{reason}"),
        other => panic!("expected a checkpoint error, got {:?}", other.map(|_| ())),
    }
    let mut labelled = random_batch(&cfg, 2, 1);
    labelled.labels = Some(vec![0, 1]);
    match pre.train_step(&[labelled.clone()], StepOptions::default()) {
        Err(Error::InvalidInput { field, .. }) => assert_eq!(field, "labels"),
        other => panic!("expected an input error, got {other:?}"),
    }
    let mut clf = clf;
    labelled.labels = Some(vec![0, 4]);
    match clf.evaluate(&[labelled], None) {
        Err(Error::InvalidInput { field, .. }) => assert_eq!(field, "labels"),
        other => panic!("expected an input error, got {other:?}"),
    }
    assert!(matches!(pre.classify(&random_batch(&cfg, 2, 1)), Err(Error::InvalidInput { .. })));
}

#[test]
fn embeddings_have_their_shapes_and_ignore_padding() {
    let cfg = VideoBertConfig::tiny();
    let (h, t) = (cfg.hidden_size, cfg.max_segments);
    let mut vb = model(cfg.clone(), DType::F32, 6);
    let mut batch = random_batch(&cfg, 3, 4);
    let e = vb.embed(&batch).unwrap();
    assert_eq!((e.cls.len(), e.text.len(), e.video.len(), e.segments.len()), (3 * h, 3 * h, 3 * h, 3 * t * h));

    // The video embedding is the mean of the valid segment rows.
    let mask = batch.video_mask.clone().unwrap();
    for i in 0..3 {
        let valid: Vec<usize> = (0..t).filter(|&j| mask[i * t + j] == 1).collect();
        for k in 0..h {
            let mean = valid.iter().map(|&j| e.segments[(i * t + j) * h + k]).sum::<f32>() / valid.len() as f32;
            assert!((mean - e.video[i * h + k]).abs() < 1e-5);
        }
    }
    // Changing the features of padding segments changes nothing that is attended.
    let per_seg = cfg.num_regions.max(1) * cfg.feature_dim;
    let feats = batch.video_features.as_mut().unwrap();
    for (j, &m) in mask.iter().enumerate() {
        if m == 0 {
            feats[j * per_seg..(j + 1) * per_seg].iter_mut().for_each(|x| *x += 5.0);
        }
    }
    let e2 = vb.embed(&batch).unwrap();
    let close = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-4);
    assert!(close(&e.cls, &e2.cls) && close(&e.video, &e2.video) && close(&e.text, &e2.text));

    // An empty text gives a zero text embedding.
    batch.text_ids.iter_mut().for_each(|id| *id = cfg.pad_token_id);
    let e3 = vb.embed(&batch).unwrap();
    assert!(e3.text.iter().all(|&x| x == 0.0));
    assert!(e3.cls.iter().any(|&x| x != 0.0));
}

#[test]
fn a_prompt_classifier_starts_as_the_fill_in_the_blank_answer_at_the_last_mask_and_learns() {
    let cfg = VideoBertConfig::tiny();
    let mut pre = model(cfg.clone(), DType::F32, 5);
    for s in 0..3 {
        pre.train_step(&[random_batch(&cfg, 4, s)], StepOptions { lr: 1e-3, ..Default::default() }).unwrap();
    }
    let dir = tmpdir("prompt-classifier");
    pre.save(&dir).unwrap();
    let words = vec![10u32, 11, 12];
    let mut clf = Session::for_prompt_classification(&dir, words.clone(), CreateOptions { seed: 9, ..Default::default() }).unwrap();
    assert_eq!((clf.config.num_labels, clf.config.classifier_pooling), (3, ClassifierPooling::Mask));
    assert_eq!(clf.params().len(), pre.params().len(), "no new tensor");

    // Two masks per text: the class probabilities are the pre-trained model's distribution over the
    // three words at the *last* mask, renormalised.
    let l = cfg.max_text_len;
    let mut batch = random_batch(&cfg, 4, 7);
    for i in 0..4 {
        batch.text_ids[i * l + 1] = cfg.mask_token_id;
        batch.text_ids[i * l + 3] = cfg.mask_token_id;
    }
    let probs = clf.classify(&batch).unwrap();
    let asked: Vec<u32> = (0..8).flat_map(|_| words.iter().copied()).collect();
    let log_probs = pre.mask_log_probs(&batch, &asked, 3).unwrap();
    for i in 0..4 {
        let last = &log_probs[(2 * i + 1) * 3..(2 * i + 2) * 3];
        let z: f32 = last.iter().map(|x| x.exp()).sum();
        for c in 0..3 {
            assert!((probs[i * 3 + c] - last[c].exp() / z).abs() < 1e-5, "sample {i} class {c}: {} vs {}", probs[i * 3 + c], last[c].exp() / z);
        }
    }

    // It trains like any classifier (the loss falls on a fixed labelled batch).
    batch.labels = Some(vec![0, 1, 2, 0]);
    let before = clf.evaluate(std::slice::from_ref(&batch), None).unwrap().classify_loss;
    for _ in 0..20 {
        clf.train_step(std::slice::from_ref(&batch), StepOptions { lr: 1e-3, ..Default::default() }).unwrap();
    }
    let after = clf.evaluate(std::slice::from_ref(&batch), None).unwrap().classify_loss;
    assert!(after < 0.5 * before, "loss {before} → {after}");

    // A text without a [MASK] is an error naming the sample; bad word lists are config errors.
    let mut no_mask = random_batch(&cfg, 2, 8);
    no_mask.labels = None;
    let err = clf.classify(&no_mask).unwrap_err().to_string();
    assert!(err.contains("[MASK]"), "{err}");
    let bad = |pooling: ClassifierPooling, words: Vec<u32>| {
        VideoBertConfig { num_labels: 3, classifier_pooling: pooling, classifier_words: words, ..cfg.clone() }.validate()
    };
    assert!(bad(ClassifierPooling::Mask, vec![10, 11]).is_err(), "one word per class");
    assert!(bad(ClassifierPooling::Cls, vec![10, 11, 12]).is_err(), "words only with mask pooling");
    assert!(bad(ClassifierPooling::Mask, vec![10, 10, 12]).is_err(), "distinct words");
    assert!(bad(ClassifierPooling::Mask, vec![cfg.mask_token_id, 11, 12]).is_err(), "no special token");
    assert!(bad(ClassifierPooling::Mask, vec![10, 11, cfg.vocab_size as u32]).is_err(), "inside the vocabulary");
    assert!(bad(ClassifierPooling::Mask, vec![10, 11, 12]).is_ok());
    assert!(matches!(Session::for_classification(&dir, 3, ClassifierPooling::Mask, CreateOptions::default()), Err(Error::Config { .. })));
}

/// A tensor frozen for the first steps keeps its Adam moments current: on the first step after it
/// thaws, a steady gradient moves it by about the learning rate (bias correction and moments agree).
#[test]
fn a_thawed_tensor_steps_by_about_the_learning_rate() {
    use videobert_core::LayerRates;
    let cfg = VideoBertConfig { num_labels: 3, ..VideoBertConfig::tiny() };
    let mut vb = model(cfg.clone(), DType::F32, 4);
    let batch = labelled_batch(&cfg, 12, 1);
    let frozen = StepOptions { lr: 1e-3, max_grad_norm: 0.0, layer_rates: LayerRates { layer_decay: 1.0, encoder_scale: 0.0 } };
    let name = "encoder.layers.0.ffn_norm.bias";
    let value = |vb: &Session| -> Vec<f32> { vb.params().iter().find(|(n, _)| n == name).unwrap().1.as_tensor().to_vec1().unwrap() };
    let start = value(&vb);
    for _ in 0..20 {
        vb.train_step(std::slice::from_ref(&batch), frozen).unwrap();
    }
    assert_eq!(value(&vb), start, "frozen: not moved");
    let lr = 1e-4;
    vb.train_step(std::slice::from_ref(&batch), StepOptions { lr, max_grad_norm: 0.0, ..Default::default() }).unwrap();
    let steps: Vec<f64> = value(&vb).iter().zip(&start).map(|(a, b)| ((a - b) as f64).abs() / lr).collect();
    let largest = steps.iter().cloned().fold(0.0, f64::max);
    // |m̂ / √v̂| ≤ 1 for a gradient of steady sign; a bias correction out of step with moments
    // started at the thaw would give 0.48 for every element on the first step, and 2–6 later.
    assert!(largest > 0.8 && largest <= 1.05, "largest step / lr = {largest}");
}
