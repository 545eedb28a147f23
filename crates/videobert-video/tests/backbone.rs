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
    let cfg = ClipVisionConfig {
        embed_dim: 32,
        activation: Activation::QuickGelu,
        intermediate_size: 64,
        num_hidden_layers: 2,
        num_attention_heads: 1,
        projection_dim: 32,
        num_channels: 3,
        image_size: 32,
        patch_size: 8,
    };
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
