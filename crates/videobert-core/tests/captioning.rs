//! The caption decoder: its gradients, training, generation (greedy, beam, their rules), loading
//! from a pre-trained checkpoint, and the errors around it.

mod common;

use common::{model, random_batch, tmpdir};
use videobert_core::candle_core::Tensor;
use videobert_core::rng::Rng;
use videobert_core::train::{caption_losses, gradients_of};
use videobert_core::{Batch, CreateOptions, DType, Device, Error, GenerateOptions, Search, Session, StepOptions, VideoBertConfig};

fn captioner(hidden: usize) -> VideoBertConfig {
    VideoBertConfig {
        decoder_layers: 2,
        hidden_size: hidden,
        intermediate_size: 2 * hidden,
        max_text_len: 8,
        max_segments: 4,
        vocab_size: 40,
        ..VideoBertConfig::tiny()
    }
}

/// Videos without text whose caption is a function of the video: row `i` is of class `i % 3`,
/// written into feature dimension `c` of every region; class `c`'s caption is `CAPTIONS[c]`.
const CAPTIONS: [&[u32]; 3] = [&[10, 11, 12], &[13, 11, 14, 15], &[16, 17, 10, 11, 12]];

fn captioned_batch(cfg: &VideoBertConfig, b: usize, seed: u64) -> Batch {
    let mut batch = random_batch(cfg, b, seed);
    let (t, r, f, l) = (cfg.max_segments, cfg.num_regions.max(1), cfg.feature_dim, cfg.max_text_len);
    batch.text_ids = vec![cfg.pad_token_id; b * l];
    batch.vtm_labels = None;
    let mut captions = vec![cfg.pad_token_id; b * l];
    let feats = batch.video_features.as_mut().unwrap();
    for i in 0..b {
        let c = i % 3;
        captions[i * l..i * l + CAPTIONS[c].len()].copy_from_slice(CAPTIONS[c]);
        for seg in 0..t * r {
            feats[(i * t * r + seg) * f + c] += 3.0;
        }
    }
    batch.caption_ids = Some(captions);
    batch
}

/// Central differences against backward for every decoder parameter (and a few encoder ones: the
/// gradient reaches the encoder through cross-attention), label smoothing on.
#[test]
fn caption_loss_gradients_match_finite_differences() {
    let cfg = VideoBertConfig { vocab_size: 30, feature_dim: 8, layer_norm_eps: 1e-5, initializer_range: 0.2, label_smoothing: 0.1, ..captioner(16) };
    let vb = model(cfg.clone(), DType::F64, 4);
    let batch = captioned_batch(&cfg, 3, 2);
    let w = vb.weights();
    let (losses, _) = caption_losses(w, &batch).unwrap();
    let grads = gradients_of(w, &losses.total).unwrap();
    let loss = || caption_losses(w, &batch).unwrap().0.total.to_scalar::<f64>().unwrap();
    let mut checked = 0;
    for (pi, (name, var)) in vb.params().iter().enumerate() {
        if !(name.starts_with("decoder.") || name.contains("word_embeddings") || name.contains("layers.1.joint_attention.value")) {
            continue;
        }
        let flat = var.as_tensor().flatten_all().unwrap().to_vec1::<f64>().unwrap();
        let g = grads[pi].flatten_all().unwrap().to_vec1::<f64>().unwrap();
        let argmax = (0..g.len()).max_by(|&a, &b| g[a].abs().total_cmp(&g[b].abs())).unwrap();
        let mut rng = Rng::new(pi as u64);
        for idx in [argmax, rng.below(flat.len())] {
            let eps = 1e-5;
            let set = |v: f64| {
                let mut x = flat.clone();
                x[idx] = v;
                var.set(&Tensor::from_vec(x, var.shape(), &Device::Cpu).unwrap()).unwrap();
            };
            set(flat[idx] + eps);
            let up = loss();
            set(flat[idx] - eps);
            let down = loss();
            set(flat[idx]);
            let numeric = (up - down) / (2.0 * eps);
            let scale = numeric.abs().max(g[idx].abs());
            assert!((numeric - g[idx]).abs() < 1e-4 * scale + 1e-7, "{name}[{idx}]: numeric {numeric:e} vs analytic {:e}", g[idx]);
        }
        assert!(g.iter().any(|&x| x != 0.0), "{name}: no gradient");
        checked += 1;
    }
    assert!(checked >= 2 * 26 + 4, "checked {checked} parameters");
}

/// Label smoothing: ε = 0 makes the trained loss the plain cross-entropy; ε > 0 adds the mean
/// −log p over the vocabulary, so the smoothed loss is above the plain one for a near-uniform model.
#[test]
fn label_smoothing_mixes_in_the_uniform_target() {
    let cfg = captioner(32);
    let batch = captioned_batch(&cfg, 3, 1);
    for eps in [0.0, 0.1, 0.5] {
        let vb = model(VideoBertConfig { label_smoothing: eps, ..cfg.clone() }, DType::F64, 1);
        let (l, acc) = caption_losses(vb.weights(), &batch).unwrap();
        let (total, nll) = (l.total.to_scalar::<f64>().unwrap(), l.caption.to_scalar::<f64>().unwrap());
        // 3 + 4 + 5 word pieces, each row also predicts [SEP]: 15 targets; a fresh model is near ln V.
        assert!((nll - (40f64).ln()).abs() < 0.5, "eps {eps}: nll {nll}");
        assert!((0.0..=1.0).contains(&acc));
        if eps == 0.0 {
            assert_eq!(total, nll);
        } else {
            assert!(total > nll && total < nll + eps * 1.0, "eps {eps}: total {total} nll {nll}");
        }
    }
}

fn train(vb: &mut Session, batch: &Batch, steps: usize, lr: f64) -> (f64, f64) {
    let first = vb.train_step(std::slice::from_ref(batch), StepOptions { lr, max_grad_norm: 1.0, ..Default::default() }).unwrap();
    let mut last = first;
    for _ in 1..steps {
        last = vb.train_step(std::slice::from_ref(batch), StepOptions { lr, max_grad_norm: 1.0, ..Default::default() }).unwrap();
    }
    (first.caption_loss, last.caption_loss)
}

fn options(search: Search) -> GenerateOptions {
    GenerateOptions { search, min_length: 1, max_length: 8, length_penalty: 1.0, no_repeat_ngram: 0, banned: vec![] }
}

/// The decoder learns to write each video's caption: after training, greedy and beam decoding
/// reproduce the three reference captions exactly (and their log-probabilities are near 0).
#[test]
fn a_trained_decoder_writes_each_videos_caption() {
    let cfg = captioner(32);
    let mut vb = model(VideoBertConfig { label_smoothing: 0.0, ..cfg.clone() }, DType::F32, 7);
    let batch = captioned_batch(&cfg, 6, 3);
    let (first, last) = train(&mut vb, &batch, 150, 3e-3);
    assert!(first > 3.0 && last < 0.05, "caption loss {first} -> {last}");
    let test = captioned_batch(&cfg, 6, 99); // new noise, same classes
    let metrics = vb.evaluate(std::slice::from_ref(&test), None).unwrap();
    assert!(metrics.accuracy > 0.99 && metrics.caption_loss < 0.1, "{metrics:?}");
    for search in [Search::Greedy, Search::Beam(3)] {
        let out = vb.generate(&test, &options(search)).unwrap();
        for (i, g) in out.iter().enumerate() {
            assert_eq!(g.ids, CAPTIONS[i % 3], "{search:?} row {i}");
            assert!(g.log_prob < 0.0 && g.log_prob > -0.5, "{search:?} row {i}: {}", g.log_prob);
            assert!((g.score - g.log_prob / (g.ids.len() + 1) as f64).abs() < 1e-12);
        }
    }
}

/// Beam search with one beam is greedy decoding (same ids, same log-probabilities), on an untrained
/// model whose captions run to the length limit and on the rules' every combination.
#[test]
fn beam_search_with_one_beam_is_greedy() {
    let cfg = captioner(32);
    let vb_cfg = VideoBertConfig { initializer_range: 0.3, ..cfg.clone() };
    let mut vb = model(vb_cfg, DType::F32, 11);
    let batch = captioned_batch(&cfg, 5, 4);
    for (min_length, max_length, no_repeat, alpha) in [(1, 8, 0, 1.0), (3, 6, 1, 0.0), (2, 8, 2, 0.7), (1, 1, 0, 1.0)] {
        let o = |search| GenerateOptions { search, min_length, max_length, length_penalty: alpha, no_repeat_ngram: no_repeat, banned: vec![5, 6] };
        let greedy = vb.generate(&batch, &o(Search::Greedy)).unwrap();
        let beam = vb.generate(&batch, &o(Search::Beam(1))).unwrap();
        assert_eq!(greedy, beam, "min {min_length} max {max_length} no-repeat {no_repeat}");
        for g in &greedy {
            assert!(g.ids.len() >= min_length && g.ids.len() <= max_length, "{:?}", g.ids);
            assert!(!g.ids.iter().any(|&id| [0, 2, 3, 4, 5, 6].contains(&id)), "special or banned id in {:?}", g.ids);
            if no_repeat > 0 {
                let grams: Vec<&[u32]> = g.ids.windows(no_repeat).collect();
                let distinct: std::collections::HashSet<&[u32]> = grams.iter().copied().collect();
                assert_eq!(distinct.len(), grams.len(), "repeated {no_repeat}-gram in {:?}", g.ids);
            }
        }
    }
    // A wider beam finds a caption at least as likely (length penalty 0: raw log-probability) as greedy.
    let o = |search| GenerateOptions { search, length_penalty: 0.0, ..options(Search::Greedy) };
    let greedy = vb.generate(&batch, &o(Search::Greedy)).unwrap();
    let beam = vb.generate(&batch, &o(Search::Beam(4))).unwrap();
    assert!(greedy.iter().zip(&beam).all(|(g, b)| b.score >= g.score - 1e-6));
    assert!(greedy.iter().zip(&beam).any(|(g, b)| b.score > g.score + 1e-3), "beam search never beat greedy");
}

/// A captioner from a pre-trained checkpoint: the encoder is the checkpoint's, the decoder what a
/// fresh model of the same config and seed has; it saves and reloads with its decoder.
#[test]
fn a_captioner_loads_the_encoder_from_a_pretrained_checkpoint() {
    let base = VideoBertConfig { decoder_layers: 0, ..captioner(32) };
    let pre = model(base.clone(), DType::F32, 21);
    let dir = tmpdir("captioner");
    pre.save(&dir).unwrap();
    let opts = CreateOptions { seed: 5, ..Default::default() };
    let mut cap = Session::for_captioning(&dir, 2, 0.1, opts.clone()).unwrap();
    let fresh = Session::new(VideoBertConfig { decoder_layers: 2, ..base.clone() }, opts.clone()).unwrap();
    let value = |vb: &Session, name: &str| vb.params().iter().find(|(n, _)| n == name).unwrap().1.as_tensor().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let mut decoder_params = 0;
    for (name, _) in cap.params() {
        let want = if name.starts_with("decoder.") { value(&fresh, name) } else { value(&pre, name) };
        assert_eq!(value(&cap, name), want, "{name}");
        decoder_params += usize::from(name.starts_with("decoder."));
    }
    assert_eq!(decoder_params, 2 * 26 + 6); // per layer 3 norms, 2 attentions, the FFN; positions, 2 norms, the output bias
    let batch = captioned_batch(&base, 3, 8);
    let before = cap.generate(&batch, &options(Search::Beam(2))).unwrap();
    let out = tmpdir("captioner-saved");
    cap.save(&out).unwrap();
    let mut back = Session::load(&out, CreateOptions::default()).unwrap();
    assert_eq!(back.config.decoder_layers, 2);
    assert_eq!(back.generate(&batch, &options(Search::Beam(2))).unwrap(), before);
    // A classifier from the captioner drops its decoder; a captioner from a classifier its head.
    let clf = Session::for_classification(&out, 3, videobert_core::ClassifierPooling::Cls, opts.clone()).unwrap();
    assert!(clf.params().iter().all(|(n, _)| !n.starts_with("decoder.")));
    let clf_dir = tmpdir("captioner-clf");
    clf.save(&clf_dir).unwrap();
    let again = Session::for_captioning(&clf_dir, 1, 0.0, opts).unwrap();
    assert!(again.params().iter().all(|(n, _)| !n.starts_with("heads.classifier.")));
    assert_eq!((again.config.num_labels, again.config.decoder_layers), (0, 1));
}

fn input_error(r: Result<impl std::fmt::Debug, Error>) -> (String, String) {
    match r {
        Err(Error::InvalidInput { field, reason }) => (field, reason),
        other => panic!("expected an InvalidInput error, got {other:?}"),
    }
}

#[test]
fn caption_inputs_are_checked() {
    let cfg = captioner(32);
    let mut cap = model(cfg.clone(), DType::F32, 1);
    let mut pre = model(VideoBertConfig { decoder_layers: 0, ..cfg.clone() }, DType::F32, 1);
    let good = captioned_batch(&cfg, 3, 1);
    let step = StepOptions::default();

    let (field, reason) = input_error(pre.generate(&good, &options(Search::Greedy)));
    assert!(field == "model" && reason.contains("no caption decoder"), "{reason}");
    let (field, _) = input_error(pre.train_step(std::slice::from_ref(&good), step));
    assert_eq!(field, "captionIds");
    let (field, reason) = input_error(cap.train_step(&[Batch { caption_ids: None, ..good.clone() }], step));
    assert!(field == "captionIds" && reason.contains("needs reference captions"), "{reason}");

    let l = cfg.max_text_len;
    let with = |edit: &dyn Fn(&mut Vec<u32>)| {
        let mut b = good.clone();
        edit(b.caption_ids.as_mut().unwrap());
        b
    };
    for (batch, needle) in [
        (with(&|c| c.truncate(5)), "expected 24 elements"),
        (with(&|c| c[l..2 * l].fill(0)), "caption 1 is empty"),
        (with(&|c| c[l + 6] = 12), "after padding"),
        (with(&|c| c[1] = cfg.sep_token_id), "special token"),
        (with(&|c| c[0] = 40), "vocab_size"),
    ] {
        let (field, reason) = input_error(cap.train_step(&[batch], step));
        assert!(field == "captionIds" && reason.contains(needle), "{needle}: {reason}");
    }
    for (o, needle) in [
        (GenerateOptions { min_length: 0, ..options(Search::Greedy) }, "minLength"),
        (GenerateOptions { max_length: 9, ..options(Search::Greedy) }, "maxTextLen"),
        (GenerateOptions { search: Search::Beam(0), ..options(Search::Greedy) }, "beamSize"),
        (GenerateOptions { length_penalty: f64::NAN, ..options(Search::Greedy) }, "lengthPenalty"),
        (GenerateOptions { banned: vec![cfg.sep_token_id], ..options(Search::Greedy) }, "[SEP]"),
    ] {
        let (field, reason) = input_error(cap.generate(&good, &o));
        assert!(field.contains(needle) || reason.contains(needle), "{needle}: {field}: {reason}");
    }
    assert!(matches!(Session::for_captioning(tmpdir("none"), 1, 0.1, CreateOptions::default()), Err(Error::Checkpoint { .. })));
}
