//! The `backbone` extractor through its real path: a small, randomly initialised network is saved
//! with the tensor names of torchvision's ResNet / Hugging Face's CLIP vision tower, loaded by
//! `Backbone::load` (architecture read off the names), and used to tokenize a real video.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use candle_core::{DType, Device};
use candle_nn::{VarBuilder, VarMap};
use candle_transformers::models::clip::text_model::Activation;
use candle_transformers::models::clip::vision_model::{ClipVisionConfig, ClipVisionTransformer};
use videobert_video::backbone::Backbone;
use videobert_video::segments::{tokenize_file, TokenizeOptions};
use videobert_video::Error;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("vb-backbone-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn clip_fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../__test__/fixtures/video/h264.mp4")
}

fn names(path: &Path) -> Vec<String> {
    let bytes = std::fs::read(path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    st.names().into_iter().map(String::from).collect()
}

/// A 2-layer, 32-wide CLIP vision tower on 32² images of 8² patches.
fn tiny_clip_config() -> ClipVisionConfig {
    ClipVisionConfig {
        embed_dim: 32,
        activation: Activation::QuickGelu,
        intermediate_size: 64,
        num_hidden_layers: 2,
        num_attention_heads: 1,
        projection_dim: 32,
        num_channels: 3,
        image_size: 32,
        patch_size: 8,
    }
}

fn check_tokens(backbone: std::sync::Arc<Backbone>, dim: usize) {
    let opts = TokenizeOptions { backbone: Some(backbone), ..Default::default() };
    let run = || tokenize_file(&clip_fixture(), &opts, &AtomicBool::new(false), |_| {}).unwrap();
    let v = run();
    assert_eq!(v.segments.len(), 2); // same segmentation as the builtin extractor: 4 s at 10 fps
    for s in &v.segments {
        assert_eq!(s.regions.len(), 4 * dim);
        assert_eq!(s.pooled.len(), dim);
        assert!(s.regions.iter().all(|x| x.is_finite()));
        let norm: f32 = s.regions[..dim].iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!(norm > 0.5 && norm <= 1.0 + 1e-4, "region norm {norm}");
    }
    // Regions see different parts of the frame.
    assert_ne!(v.segments[0].regions[..dim], v.segments[0].regions[dim..2 * dim]);
    assert_eq!(run().segments, v.segments, "deterministic");
}

#[test]
fn resnet18_from_torchvision_names() {
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    candle_transformers::models::resnet::resnet18_no_final_layer(vb).unwrap();
    let path = tmp("resnet").join("resnet18.safetensors");
    varmap.save(&path).unwrap();
    let n = names(&path);
    for expected in ["conv1.weight", "bn1.running_var", "layer1.0.conv1.weight", "layer4.1.bn2.bias", "layer2.0.downsample.0.weight"] {
        assert!(n.iter().any(|x| x == expected), "{expected} in {} names", n.len());
    }
    let b = Backbone::load(&path, 2, Some(32)).unwrap();
    let _ = std::fs::remove_dir_all(path.parent().unwrap()); // 45 MB; the weights are in memory now
    assert_eq!((b.arch.as_str(), b.dim, b.frame_size()), ("resnet18", 512, 64));
    check_tokens(b, 512);
}

#[test]
fn clip_vision_tower_from_hugging_face_names() {
    let cfg = tiny_clip_config();
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    // candle creates `class_embedding` only when the weights have it: create it first.
    vb.pp("vision_model.embeddings").get_with_hints(32, "class_embedding", candle_nn::Init::Randn { mean: 0.0, stdev: 1.0 }).unwrap();
    ClipVisionTransformer::new(vb.pp("vision_model"), &cfg).unwrap();
    let path = tmp("clip").join("clip.safetensors");
    varmap.save(&path).unwrap();
    let n = names(&path);
    for expected in [
        "vision_model.embeddings.class_embedding",
        "vision_model.embeddings.patch_embedding.weight",
        "vision_model.encoder.layers.1.mlp.fc1.weight",
        "vision_model.post_layernorm.weight",
    ] {
        assert!(n.iter().any(|x| x == expected), "{expected}");
    }
    let b = Backbone::load(&path, 2, None).unwrap();
    assert_eq!((b.dim, b.frame_size()), (32, 32));
    assert!(b.arch.starts_with("clip-vit-2x32-p8-32"), "{}", b.arch);
    check_tokens(b, 32);
}

/// A random CLIP vision tower saved under Hugging Face's names (the test above) and under
/// open_clip's (`visual.conv1.weight`, `visual.transformer.resblocks.N.attn.in_proj_weight` holding q,
/// k and v, plus a text tower and `visual.proj` that are not used) gives the same region features.
#[test]
fn clip_vision_tower_from_open_clip_names() {
    let cfg = tiny_clip_config();
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    vb.pp("embeddings").get_with_hints(32, "class_embedding", candle_nn::Init::Randn { mean: 0.0, stdev: 1.0 }).unwrap();
    ClipVisionTransformer::new(vb, &cfg).unwrap();
    let dir = tmp("open-clip");
    let hf = dir.join("hf.safetensors");
    varmap.save(&hf).unwrap();
    let data = varmap.data().lock().unwrap();
    let hf_tensor = |n: &str| data.get(n).unwrap_or_else(|| panic!("{n}")).as_tensor().clone();
    let mut oc: std::collections::HashMap<String, candle_core::Tensor> = std::collections::HashMap::new();
    let renames = [
        ("embeddings.class_embedding", "visual.class_embedding"),
        ("embeddings.patch_embedding.weight", "visual.conv1.weight"),
        ("embeddings.position_embedding.weight", "visual.positional_embedding"),
        ("pre_layrnorm.weight", "visual.ln_pre.weight"),
        ("pre_layrnorm.bias", "visual.ln_pre.bias"),
        ("post_layernorm.weight", "visual.ln_post.weight"),
        ("post_layernorm.bias", "visual.ln_post.bias"),
    ];
    for (from, to) in renames {
        oc.insert(to.into(), hf_tensor(from));
    }
    for l in 0..2 {
        let (h, o) = (format!("encoder.layers.{l}"), format!("visual.transformer.resblocks.{l}"));
        for (from, to) in
            [("layer_norm1", "ln_1"), ("layer_norm2", "ln_2"), ("self_attn.out_proj", "attn.out_proj"), ("mlp.fc1", "mlp.c_fc"), ("mlp.fc2", "mlp.c_proj")]
        {
            for p in ["weight", "bias"] {
                oc.insert(format!("{o}.{to}.{p}"), hf_tensor(&format!("{h}.{from}.{p}")));
            }
        }
        for p in ["weight", "bias"] {
            let parts: Vec<_> = ["q_proj", "k_proj", "v_proj"].iter().map(|q| hf_tensor(&format!("{h}.self_attn.{q}.{p}"))).collect();
            oc.insert(format!("{o}.attn.in_proj_{p}"), candle_core::Tensor::cat(&parts, 0).unwrap());
        }
    }
    let extra = candle_core::Tensor::zeros((32, 16), DType::F32, &Device::Cpu).unwrap();
    for name in ["visual.proj", "text_projection", "transformer.resblocks.0.attn.in_proj_weight", "token_embedding.weight"] {
        oc.insert(name.into(), extra.clone());
    }
    drop(data);
    let open_clip = dir.join("open_clip_model.safetensors");
    candle_core::safetensors::save(&oc, &open_clip).unwrap();

    let (a, b) = (Backbone::load(&hf, 2, None).unwrap(), Backbone::load(&open_clip, 2, None).unwrap());
    assert_eq!((a.arch.as_str(), a.dim), (b.arch.as_str(), b.dim));
    let frame = videobert_video::RgbFrame { width: 32, height: 32, data: (0..32 * 32 * 3).map(|i| (i * 37 % 251) as u8).collect() };
    let (mut fa, mut fb) = (vec![0f32; 4 * 32], vec![0f32; 4 * 32]);
    a.frame_features(&frame, &mut fa).unwrap();
    b.frame_features(&frame, &mut fb).unwrap();
    let diff = fa.iter().zip(&fb).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
    assert!(diff < 1e-6, "open_clip and Hugging Face layouts differ by {diff}");
    assert!(fa.iter().any(|v| v.abs() > 1e-3));

    // A GELU model (open_clip's LAION weights) says so in its config: refused, not run wrongly.
    std::fs::write(dir.join("open_clip_config.json"), r#"{"model_cfg": {"embed_dim": 512}}"#).unwrap();
    match Backbone::load(&open_clip, 2, None) {
        Err(Error::InvalidInput { reason, .. }) => assert!(reason.contains("GELU"), "{reason}"),
        other => panic!("{other:?}"),
    }
    std::fs::write(dir.join("open_clip_config.json"), r#"{"model_cfg": {"quick_gelu": true}}"#).unwrap();
    assert!(Backbone::load(&open_clip, 2, None).is_ok());
    std::fs::remove_file(dir.join("open_clip_config.json")).unwrap();
    std::fs::write(dir.join("config.json"), r#"{"vision_config": {"hidden_act": "gelu"}}"#).unwrap();
    assert!(matches!(Backbone::load(&hf, 2, None), Err(Error::InvalidInput { .. })));
    let _ = std::fs::remove_dir_all(&dir);
}

/// EfficientNets that are not Lite0 are named, not misread.
#[test]
fn efficientnet_other_than_lite0_is_refused() {
    let dir = tmp("effnet");
    let z = |shape: &[usize]| candle_core::Tensor::zeros(shape, DType::F32, &Device::Cpu).unwrap();
    let mut t = std::collections::HashMap::new();
    t.insert("_conv_stem.weight".to_string(), z(&[32, 3, 3, 3]));
    t.insert("_blocks.0._depthwise_conv.weight".to_string(), z(&[32, 1, 3, 3]));
    t.insert("_blocks.0._se_reduce.weight".to_string(), z(&[8, 32, 1, 1]));
    let b0 = dir.join("b0.safetensors");
    candle_core::safetensors::save(&t, &b0).unwrap();
    match Backbone::load(&b0, 2, None) {
        Err(Error::InvalidInput { reason, .. }) => assert!(reason.contains("squeeze-and-excitation"), "{reason}"),
        other => panic!("{other:?}"),
    }
    t.remove("_blocks.0._se_reduce.weight");
    let lite = dir.join("lite-broken.safetensors");
    candle_core::safetensors::save(&t, &lite).unwrap();
    match Backbone::load(&lite, 2, None) {
        Err(Error::InvalidInput { reason, .. }) => assert!(reason.contains("EfficientNet-Lite0") && reason.contains("_bn0"), "{reason}"),
        other => panic!("{other:?}"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_weights_are_coded_errors() {
    let dir = tmp("bad");
    assert!(matches!(Backbone::load(&dir.join("missing.safetensors"), 2, None), Err(Error::Io { .. })));
    let junk = dir.join("junk.safetensors");
    std::fs::write(&junk, b"not safetensors").unwrap();
    assert!(matches!(Backbone::load(&junk, 2, None), Err(Error::InvalidInput { .. })));
    let other = dir.join("other.safetensors");
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    vb.get_with_hints((2, 2), "some.weight", candle_nn::Init::Const(0.0)).unwrap();
    varmap.save(&other).unwrap();
    match Backbone::load(&other, 2, None) {
        Err(Error::InvalidInput { field, reason }) => {
            assert!(field.starts_with("backboneWeights"), "{field}");
            assert!(reason.contains("not a ResNet") && reason.contains("MobileNetV2"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}
