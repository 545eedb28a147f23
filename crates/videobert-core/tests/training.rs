//! The train step learns, is deterministic, and resumes exactly from a checkpoint.

mod common;

use common::{model, random_batch, tmpdir};
use videobert_core::{Batch, CreateOptions, DType, Error, Session, StepMetrics, StepOptions, VideoBertConfig};

fn steps(vb: &mut Session, batches: &[Batch], n: usize, lr: f64) -> Vec<StepMetrics> {
    (0..n)
        .map(|i| vb.train_step(&batches[i % batches.len()..i % batches.len() + 1], StepOptions { lr, max_grad_norm: 1.0, ..Default::default() }).unwrap())
        .collect()
}

fn bits(m: &[StepMetrics]) -> Vec<[u64; 5]> {
    m.iter().map(|m| [m.loss.to_bits(), m.mlm_loss.to_bits(), m.video_loss.to_bits(), m.vtm_loss.to_bits(), m.grad_norm.to_bits()]).collect()
}

fn param_bits(vb: &Session) -> Vec<u32> {
    vb.params().iter().flat_map(|(_, v)| v.as_tensor().flatten_all().unwrap().to_vec1::<f32>().unwrap()).map(f32::to_bits).collect()
}

#[test]
fn overfits_a_fixed_batch() {
    let cfg = VideoBertConfig::tiny();
    let batch = vec![random_batch(&cfg, 4, 7)];
    let mut vb = model(cfg, DType::F32, 0);
    let start = vb.evaluate(&batch, Some(99)).unwrap();
    let history = steps(&mut vb, &batch, 300, 2e-3);
    let end = vb.evaluate(&batch, Some(99)).unwrap();
    eprintln!("start {start:?}\nend   {end:?}\nlast train step {:?}", history.last().unwrap());
    assert!(end.mlm_loss < 0.05 * start.mlm_loss, "mlm {} -> {}", start.mlm_loss, end.mlm_loss);
    assert!(end.vtm_loss < 0.05 * start.vtm_loss, "vtm {} -> {}", start.vtm_loss, end.vtm_loss);
    assert!(end.video_loss < 0.20 * start.video_loss, "l2 {} -> {}", start.video_loss, end.video_loss);
    // Random init guesses 1 word in 512; the overfitted batch's masked words are all recovered.
    assert!(start.mlm_accuracy < 0.2, "start mlm accuracy {}", start.mlm_accuracy);
    assert_eq!(end.mlm_accuracy, 1.0);
}

#[test]
fn same_seed_gives_bitwise_identical_runs() {
    let cfg = VideoBertConfig::tiny();
    let batches: Vec<Batch> = (0..4).map(|i| random_batch(&cfg, 3, 100 + i)).collect();
    let run = || {
        let mut vb = model(cfg.clone(), DType::F32, 42);
        let m = steps(&mut vb, &batches, 20, 1e-3);
        (bits(&m), param_bits(&vb))
    };
    let (a, pa) = run();
    let (b, pb) = run();
    assert_eq!(a, b);
    assert_eq!(pa, pb);
    // A different seed is a different run (masking and init both change).
    let mut other = model(cfg.clone(), DType::F32, 43);
    assert_ne!(bits(&steps(&mut other, &batches, 20, 1e-3)), a);
}

#[test]
fn save_load_gives_identical_evaluation() {
    let cfg = VideoBertConfig::tiny();
    let batches: Vec<Batch> = (0..2).map(|i| random_batch(&cfg, 3, 200 + i)).collect();
    let mut vb = model(cfg, DType::F32, 5);
    steps(&mut vb, &batches, 3, 1e-3);
    let dir = tmpdir("save-load");
    vb.save(&dir).unwrap();
    let mut loaded = Session::load(&dir, CreateOptions::default()).unwrap();
    assert_eq!(loaded.step(), 3);
    assert_eq!(loaded.seed, 5);
    assert_eq!(loaded.config, vb.config);
    let a = vb.evaluate(&batches, None).unwrap();
    let b = loaded.evaluate(&batches, None).unwrap();
    assert_eq!(bits(&[a]), bits(&[b]));
    assert_eq!(param_bits(&vb), param_bits(&loaded));
}

#[test]
fn ten_steps_save_load_ten_steps_equals_twenty_straight() {
    let cfg = VideoBertConfig::tiny();
    let batches: Vec<Batch> = (0..5).map(|i| random_batch(&cfg, 3, 300 + i)).collect();
    let mut straight = model(cfg.clone(), DType::F32, 9);
    let all = steps(&mut straight, &batches, 20, 1e-3);

    let mut first = model(cfg, DType::F32, 9);
    let head = steps(&mut first, &batches, 10, 1e-3);
    let dir = tmpdir("resume");
    first.save(&dir).unwrap();
    drop(first);
    let mut resumed = Session::load(&dir, CreateOptions { seed: 12345, ..Default::default() }).unwrap();
    let tail: Vec<StepMetrics> =
        (10..20).map(|i| resumed.train_step(&batches[i % 5..i % 5 + 1], StepOptions { lr: 1e-3, max_grad_norm: 1.0, ..Default::default() }).unwrap()).collect();
    assert_eq!(bits(&all[..10]), bits(&head));
    assert_eq!(bits(&all[10..]), bits(&tail));
    assert_eq!(param_bits(&straight), param_bits(&resumed));
}

#[test]
fn bad_batches_are_rejected_with_the_field_named() {
    let cfg = VideoBertConfig::tiny();
    let mut vb = model(cfg.clone(), DType::F32, 1);
    let field = |vb: &mut Session, b: Batch| match vb.train_step(&[b], StepOptions::default()) {
        Err(Error::InvalidInput { field, .. }) => field,
        other => panic!("expected InvalidInput, got {other:?}"),
    };
    let good = random_batch(&cfg, 2, 1);
    let mut b = good.clone();
    b.text_ids.pop();
    assert_eq!(field(&mut vb, b), "textIds");
    let mut b = good.clone();
    b.text_ids[3] = cfg.vocab_size as u32;
    assert_eq!(field(&mut vb, b), "textIds");
    let mut b = good.clone();
    b.video_features.as_mut().unwrap()[17] = f32::NAN;
    assert_eq!(field(&mut vb, b), "videoFeatures");
    let mut b = good.clone();
    b.video_features = None;
    assert_eq!(field(&mut vb, b), "videoFeatures");
    let mut b = good.clone();
    b.video_mask = Some(vec![2; 2 * cfg.max_segments]);
    assert_eq!(field(&mut vb, b), "videoMask");
    let mut b = good.clone();
    b.vtm_labels = Some(vec![1]);
    assert_eq!(field(&mut vb, b), "vtmLabels");
    let mut b = good;
    b.batch_size = 0;
    assert_eq!(field(&mut vb, b), "batchSize");
    assert_eq!(vb.step(), 0, "no update happened");
}
