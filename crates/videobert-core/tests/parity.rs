//! Parity with the independent PyTorch reference (`scripts/reference/videobert_ref.py`): the same
//! weights and masked batch must give the same losses and the same gradient for every parameter.

use std::collections::HashMap;

use videobert_core::candle_core::safetensors::Load;
use videobert_core::candle_core::{DType, Device, Tensor};
use videobert_core::{CreateOptions, MaskedBatch, Session, VideoBertConfig};

const TOL: f64 = 1e-4;

fn fixture(name: &str) -> (VideoBertConfig, HashMap<String, Tensor>) {
    let path = format!("{}/../../__test__/fixtures/parity-{name}.safetensors", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e} (run scripts/reference/videobert_ref.py)"));
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let cfg = VideoBertConfig::from_json(&header.metadata().as_ref().unwrap()["config"]).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let tensors = st.tensors().into_iter().map(|(n, v)| (n, v.load(&Device::Cpu).unwrap())).collect();
    (cfg, tensors)
}

fn ints<T: TryFrom<i64>>(t: &Tensor) -> Vec<T>
where
    T::Error: std::fmt::Debug,
{
    t.flatten_all().unwrap().to_vec1::<i64>().unwrap().into_iter().map(|x| T::try_from(x).unwrap()).collect()
}

fn flags(t: &Tensor) -> Vec<u8> {
    t.flatten_all().unwrap().to_vec1::<f32>().unwrap().into_iter().map(|x| x as u8).collect()
}

fn check(name: &str) {
    let (cfg, t) = fixture(name);
    let vb = Session::new(cfg.clone(), CreateOptions::default()).unwrap();
    for (pname, var) in vb.params() {
        let w = t.get(&format!("param.{pname}")).unwrap_or_else(|| panic!("fixture lacks param.{pname}"));
        var.set(w).unwrap();
    }
    let n_params = t.keys().filter(|k| k.starts_with("param.")).count();
    assert_eq!(n_params, vb.params().len(), "the reference and the model have the same parameter set");
    let text_ids: Vec<u32> = ints(&t["input.text_ids"]);
    let masked = MaskedBatch {
        batch_size: t["input.vtm_labels"].dims1().unwrap(),
        text_ids,
        text_mask: flags(&t["input.text_mask"]),
        mlm_labels: ints(&t["input.mlm_labels"]),
        video_features: Some(t["input.video_features"].flatten_all().unwrap().to_vec1::<f32>().unwrap()),
        visual_word_ids: t.get("input.visual_word_ids").map(ints),
        video_mask: flags(&t["input.video_mask"]),
        video_masked: flags(&t["input.video_masked"]),
        vtm_labels: ints(&t["input.vtm_labels"]),
    };
    let (losses, grads) = vb.gradients(&masked).unwrap();
    let scalar = |x: &Tensor| x.to_dtype(DType::F64).unwrap().flatten_all().unwrap().to_vec1::<f64>().unwrap()[0];
    for (key, got) in [("loss", &losses.total), ("mlm_loss", &losses.mlm), ("video_loss", &losses.video), ("vtm_loss", &losses.vtm)] {
        let (got, want) = (scalar(got), scalar(&t[&format!("expected.{key}")]));
        assert!((got - want).abs() <= TOL * want.abs().max(1.0), "{name} {key}: rust {got} vs torch {want}");
    }
    let mut worst: f64 = 0.0;
    for ((pname, _), g) in vb.params().iter().zip(&grads) {
        let want = t[&format!("grad.{pname}")].flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let got = g.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let scale = want.iter().fold(1.0f32, |m, x| m.max(x.abs())) as f64;
        let diff = got.iter().zip(&want).fold(0.0f64, |m, (a, b)| m.max((a - b).abs() as f64));
        worst = worst.max(diff / scale);
        assert!(diff <= TOL * scale, "{name} grad.{pname}: max |rust − torch| = {diff:e} (scale {scale})");
    }
    eprintln!("{name}: {} gradients match, worst scaled difference {worst:e}", grads.len());
}

#[test]
fn parity_l2_with_regions() {
    check("l2");
}

#[test]
fn parity_nce_without_regions() {
    check("nce-no-regions");
}

#[test]
fn parity_ce_visual_words() {
    check("ce-visual-words");
}
