//! The `backbone` extractor: a pretrained image network from `candle-transformers`, loaded from a
//! local safetensors file (nothing is ever downloaded). The architecture is read off the tensor names
//! and shapes:
//! - **ResNet** (torchvision names: `conv1.weight`, `bn1.*`, `layer1.0.conv1.weight`, …; `fc.*` is
//!   ignored): ResNet-18/34 (basic blocks) or 50/101/152 (bottlenecks). candle-transformers' ResNet
//!   only returns the globally pooled map, so regions are computed by running it on each cell of the
//!   `g×g` grid: the frame is decoded at `g · input` pixels and every cell is one `input × input`
//!   image. Feature size 512 (basic) or 2048 (bottleneck).
//! - **CLIP ViT** (Hugging Face names, optionally under `vision_model.`: `embeddings.class_embedding`,
//!   `embeddings.patch_embedding.weight`, `encoder.layers.N.*`, `pre_layrnorm`, `post_layernorm`):
//!   the frame is decoded at the model's image size; each region is the mean of the last layer's
//!   patch tokens whose patch centre lies in the cell. Feature size = the model width. Heads are
//!   taken to be 64 wide (all CLIP models), or fewer when the width is < 64.
//!
//! - **MobileNetV2** (torchvision names: `features.0.0.weight`, `features.N.conv.*`, `classifier.1.*`;
//!   `mobilenet.rs`) and **EfficientNet-Lite0** (`efficientnet_pytorch` names: `_conv_stem.weight`,
//!   `_blocks.N.*`, `_fc.*`; `efficientnet_lite.rs`): the frame is decoded at `input` pixels (default
//!   224); each region is the mean of the last feature map's positions whose centre lies in the cell.
//!   Feature size 1280.
//!
//! The file is safetensors, or a PyTorch `.pth` in its zip or legacy format (`torch_pth.rs`), read as
//! distributed. Inputs are in RGB order, `[N, 3, H, W]`, normalised as each network was trained:
//! ImageNet's mean and std (ResNet, MobileNetV2), CLIP's (ViT), or (v − 127) / 128 on 0–255 values
//! (EfficientNet-Lite, as TensorFlow's Lite preprocessing). Region vectors are L2-normalised like the
//! builtin descriptor's.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use candle_core::{DType, Device, IndexOp, Module, Tensor};
use candle_nn::{Func, VarBuilder};
use candle_transformers::models::clip::text_model::Activation;
use candle_transformers::models::clip::vision_model::{ClipVisionConfig, ClipVisionTransformer};
use candle_transformers::models::resnet;

use crate::decode::RgbFrame;
use crate::error::{Error, Result};

/// A ResNet's input side per grid cell when none is given.
pub const DEFAULT_INPUT: u32 = 112;
/// MobileNetV2's and EfficientNet-Lite0's input side when none is given (ImageNet's 224).
pub const MOBILENET_INPUT: u32 = 224;

enum Arch {
    ResNet { func: Func<'static>, input: u32 },
    Clip { model: ClipVisionTransformer, image: u32, patch: u32 },
    MobileNet { net: crate::mobilenet::MobileNet, input: u32 },
}

/// The architecture families a caller can require of a weights file (`extractor` names).
pub const FAMILIES: &[&str] = &["resnet", "clip", "mobilenet_v2", "efficientnet_lite0"];

/// What `Backbone::imagenet_forward` gives for N frames.
pub struct ImageNetOutput {
    /// `[N × 1280]` globally pooled features.
    pub pooled: Vec<f32>,
    /// `[N × 1000]` ImageNet logits, when the file has its classifier.
    pub logits: Option<Vec<f32>>,
}

/// A loaded backbone, shared by all videos of a run.
pub struct Backbone {
    net: Arch,
    pub arch: String,
    pub dim: usize,
    pub grid: usize,
    /// FNV-1a of the weights file: part of the shard parameters.
    pub weights_hash: String,
    /// The weights file, absolute.
    pub path: std::path::PathBuf,
    /// The input side it was loaded with (ResNet: per grid cell; MobileNetV2 / EfficientNet-Lite0: the frame; CLIP: its image size).
    pub input: u32,
}

impl std::fmt::Debug for Backbone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Backbone({}, dim {}, grid {}, weights {})", self.arch, self.dim, self.grid, self.weights_hash)
    }
}

fn bad(path: &Path, reason: impl Into<String>) -> Error {
    Error::input(format!("backboneWeights ({})", path.display()), reason.into())
}

/// torchvision's ImageNet normalisation (RGB).
const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];
/// TensorFlow's EfficientNet-Lite normalisation, (v − 127) / 128 on 0–255 values, as mean and std of /255 values.
const LITE_MEAN: [f32; 3] = [127.0 / 255.0; 3];
const LITE_STD: [f32; 3] = [128.0 / 255.0; 3];

/// `[g², d]` means of a channels-last `[h, w, d]` map's positions by the grid cell their centre lies in.
fn cell_means(values: &[f32], d: usize, h: usize, w: usize, g: usize, out: &mut [f32]) {
    out.fill(0.0);
    let mut counts = vec![0usize; g * g];
    for (p, px) in values.chunks(d).take(h * w).enumerate() {
        let (y, x) = (p / w, p % w);
        let r = (((2 * y + 1) * g) / (2 * h)) * g + ((2 * x + 1) * g) / (2 * w);
        counts[r] += 1;
        out[r * d..(r + 1) * d].iter_mut().zip(px).for_each(|(o, v)| *o += v);
    }
    for (r, &n) in counts.iter().enumerate() {
        out[r * d..(r + 1) * d].iter_mut().for_each(|v| *v /= n.max(1) as f32);
    }
}

fn count_indices(names: &[&str], prefix: &str) -> usize {
    let mut seen: Vec<usize> = names.iter().filter_map(|n| n.strip_prefix(prefix)?.split('.').next()?.parse().ok()).collect();
    seen.sort_unstable();
    seen.dedup();
    seen.len()
}

/// An open_clip state dict's image tower (`visual.conv1.weight`, `visual.transformer.resblocks.N.*`,
/// `attn.in_proj_weight` holding q, k and v) under Hugging Face's names, which the CLIP model reads;
/// the text tower and `visual.proj` (the joint-space projection, unused for region features) are
/// dropped.
fn open_clip_vision(t: HashMap<String, Tensor>) -> Result<HashMap<String, Tensor>> {
    let mut out = HashMap::new();
    for (name, x) in t {
        let Some(rest) = name.strip_prefix("visual.") else { continue };
        let renamed = match rest {
            "class_embedding" => "embeddings.class_embedding".to_string(),
            "conv1.weight" => "embeddings.patch_embedding.weight".to_string(),
            "positional_embedding" => "embeddings.position_embedding.weight".to_string(),
            "proj" => continue,
            _ => {
                let (head, tail) = if let Some(r) = rest.strip_prefix("transformer.resblocks.") {
                    let (layer, tail) = r.split_once('.').unwrap_or((r, ""));
                    (format!("encoder.layers.{layer}."), tail)
                } else {
                    (String::new(), rest)
                };
                if let Some(kind) = tail.strip_prefix("attn.in_proj_") {
                    // [3D, D] / [3D]: q, k, v one after another
                    let d = x.dim(0)? / 3;
                    for (i, part) in ["q_proj", "k_proj", "v_proj"].iter().enumerate() {
                        out.insert(format!("{head}self_attn.{part}.{kind}"), x.narrow(0, i * d, d)?.contiguous()?);
                    }
                    continue;
                }
                let tail = [
                    ("ln_pre.", "pre_layrnorm."),
                    ("ln_post.", "post_layernorm."),
                    ("ln_1.", "layer_norm1."),
                    ("ln_2.", "layer_norm2."),
                    ("attn.out_proj.", "self_attn.out_proj."),
                    ("mlp.c_fc.", "mlp.fc1."),
                    ("mlp.c_proj.", "mlp.fc2."),
                ]
                .iter()
                .find_map(|(from, to)| tail.strip_prefix(from).map(|t| format!("{to}{t}")))
                .unwrap_or_else(|| tail.to_string());
                format!("{head}{tail}")
            }
        };
        out.insert(renamed, x);
    }
    Ok(out)
}

/// candle's CLIP vision tower computes QuickGELU, the activation of OpenAI's CLIP weights. Models
/// trained with GELU (most of open_clip's LAION models, their Hugging Face conversions) say so in the
/// config beside the weights: Hugging Face's `config.json` (`hidden_act`) or open_clip's
/// `open_clip_config.json` (`quick_gelu`, false when absent). Such a file is refused rather than run
/// with the wrong activation; with no config beside it, QuickGELU (OpenAI's) is assumed.
fn check_quick_gelu(weights: &Path) -> Result<()> {
    let dir = weights.parent().unwrap_or(Path::new("."));
    let read = |name: &str| -> Option<serde_json::Value> { serde_json::from_str(&std::fs::read_to_string(dir.join(name)).ok()?).ok() };
    let gelu = if let Some(c) = read("open_clip_config.json") {
        !c.pointer("/model_cfg/quick_gelu").and_then(|v| v.as_bool()).unwrap_or(false)
    } else if let Some(c) = read("config.json") {
        let act = c.pointer("/vision_config/hidden_act").or_else(|| c.get("hidden_act")).and_then(|v| v.as_str()).unwrap_or("quick_gelu");
        act != "quick_gelu"
    } else {
        false
    };
    if gelu {
        return Err(bad(weights, "a CLIP trained with GELU (its config beside the file says so); only QuickGELU models — OpenAI's CLIP weights, in Hugging Face's or open_clip's layout — are supported"));
    }
    Ok(())
}

impl Backbone {
    /// Load `path`; `grid` regions per side; `input` = ResNet input side per cell (default 112).
    pub fn load(path: &Path, grid: usize, input: Option<u32>) -> Result<Arc<Self>> {
        if !path.is_file() {
            return Err(Error::io(path, std::io::Error::new(std::io::ErrorKind::NotFound, "backbone weights not found")));
        }
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let weights_hash = crate::fsio::fnv1a(&bytes);
        let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let tensors: HashMap<String, Tensor> = if crate::torch_pth::is_torch_file(&bytes) {
            crate::torch_pth::read(path, &bytes)?
        } else {
            candle_core::safetensors::load_buffer(&bytes, &Device::Cpu).map_err(|e| bad(path, format!("neither safetensors nor a PyTorch .pth file: {e}")))?
        };
        drop(bytes);
        let tensors = if tensors.contains_key("visual.class_embedding") { open_clip_vision(tensors).map_err(|e| bad(path, e.to_string()))? } else { tensors };
        let mobile = if crate::mobilenet::is_mobilenet_v2(&tensors) {
            Some(crate::mobilenet::load_mobilenet_v2(&tensors))
        } else if crate::efficientnet_lite::is_efficientnet(&tensors) {
            Some(crate::efficientnet_lite::load_efficientnet_lite0(&tensors))
        } else {
            None
        };
        if let Some(net) = mobile {
            let net = net.map_err(|e| bad(path, e.to_string()))?;
            return Ok(Arc::new(Self {
                arch: net.arch.into(),
                net: Arch::MobileNet { net, input: input.unwrap_or(MOBILENET_INPUT) },
                dim: 1280,
                grid,
                weights_hash,
                path: abs,
                input: input.unwrap_or(MOBILENET_INPUT),
            }));
        }
        let names: Vec<&str> = tensors.keys().map(String::as_str).collect();
        let shape = |n: &str| tensors.get(n).map(|t| t.dims().to_vec());
        if tensors.contains_key("conv1.weight") && tensors.contains_key("layer1.0.conv1.weight") {
            let blocks: Vec<usize> = (1..=4).map(|l| count_indices(&names, &format!("layer{l}."))).collect();
            let bottleneck = tensors.contains_key("layer1.0.conv3.weight");
            let vb = VarBuilder::from_tensors(tensors.clone(), DType::F32, &Device::Cpu);
            let (func, arch) = match (bottleneck, blocks.as_slice()) {
                (false, [2, 2, 2, 2]) => (resnet::resnet18_no_final_layer(vb), "resnet18"),
                (false, [3, 4, 6, 3]) => (resnet::resnet34_no_final_layer(vb), "resnet34"),
                (true, [3, 4, 6, 3]) => (resnet::resnet50_no_final_layer(vb), "resnet50"),
                (true, [3, 4, 23, 3]) => (resnet::resnet101_no_final_layer(vb), "resnet101"),
                (true, [3, 8, 36, 3]) => (resnet::resnet152_no_final_layer(vb), "resnet152"),
                _ => return Err(bad(path, format!("unsupported ResNet layout {blocks:?} (bottleneck: {bottleneck})"))),
            };
            let func = func.map_err(|e| bad(path, format!("{arch}: {e}")))?;
            let dim = if bottleneck { 2048 } else { 512 };
            return Ok(Arc::new(Self {
                net: Arch::ResNet { func, input: input.unwrap_or(DEFAULT_INPUT) },
                arch: arch.into(),
                dim,
                grid,
                weights_hash,
                path: abs,
                input: input.unwrap_or(DEFAULT_INPUT),
            }));
        }
        let prefix = if tensors.contains_key("vision_model.embeddings.class_embedding") { "vision_model." } else { "" };
        if let Some([embed]) = shape(&format!("{prefix}embeddings.class_embedding")).as_deref() {
            let embed = *embed;
            check_quick_gelu(path)?;
            let patch = match shape(&format!("{prefix}embeddings.patch_embedding.weight")).as_deref() {
                Some(&[_, 3, p, _]) => p,
                other => return Err(bad(path, format!("unexpected patch_embedding shape {other:?}"))),
            };
            let positions = match shape(&format!("{prefix}embeddings.position_embedding.weight")).as_deref() {
                Some(&[n, _]) => n,
                other => return Err(bad(path, format!("unexpected position_embedding shape {other:?}"))),
            };
            let side = ((positions - 1) as f64).sqrt().round() as usize;
            let layers = count_indices(&names, &format!("{prefix}encoder.layers."));
            let intermediate = match shape(&format!("{prefix}encoder.layers.0.mlp.fc1.weight")).as_deref() {
                Some(&[i, _]) => i,
                other => return Err(bad(path, format!("unexpected mlp.fc1 shape {other:?}"))),
            };
            let cfg = ClipVisionConfig {
                embed_dim: embed,
                activation: Activation::QuickGelu,
                intermediate_size: intermediate,
                num_hidden_layers: layers,
                num_attention_heads: (embed / 64).max(1),
                projection_dim: embed,
                num_channels: 3,
                image_size: side * patch,
                patch_size: patch,
            };
            let vb = VarBuilder::from_tensors(tensors, DType::F32, &Device::Cpu);
            let vb = if prefix.is_empty() { vb } else { vb.pp("vision_model") };
            let model = ClipVisionTransformer::new(vb, &cfg).map_err(|e| bad(path, format!("CLIP vision tower: {e}")))?;
            let arch = format!("clip-vit-{layers}x{embed}-p{patch}-{}", side * patch);
            return Ok(Arc::new(Self {
                net: Arch::Clip { model, image: (side * patch) as u32, patch: patch as u32 },
                arch,
                dim: embed,
                grid,
                weights_hash,
                path: abs,
                input: (side * patch) as u32,
            }));
        }
        Err(bad(
            path,
            "not a ResNet (conv1.weight, layer1.0.conv1.weight), a CLIP vision tower (embeddings.class_embedding), a MobileNetV2 (features.0.0.weight) or an EfficientNet-Lite0 (_conv_stem.weight)",
        ))
    }

    /// The family of this backbone (one of `FAMILIES`).
    pub fn family(&self) -> &'static str {
        match &self.net {
            Arch::ResNet { .. } => "resnet",
            Arch::Clip { .. } => "clip",
            Arch::MobileNet { net, .. } => net.arch,
        }
    }

    /// For a MobileNetV2 or EfficientNet-Lite0: each frame's (of `frame_size()` pixels, the whole frame) globally pooled
    /// features `[N × 1280]` and, when the file has its classifier, ImageNet logits `[N × 1000]`,
    /// preprocessed exactly as `frame_features` does. None for other backbones.
    pub fn imagenet_forward(&self, frames: &[&RgbFrame]) -> Result<Option<ImageNetOutput>> {
        let Arch::MobileNet { net, input } = &self.net else { return Ok(None) };
        let side = *input as usize;
        let norm = Self::normalisation(net);
        let x: Vec<f32> = frames.iter().flat_map(|f| Self::to_tensor(f, 0, 0, side, norm)).collect();
        let out = net.forward(&x, frames.len(), side, side)?;
        Ok(Some(ImageNetOutput { pooled: out.pooled, logits: out.logits }))
    }

    /// Mean and std (of /255 values) the network was trained with.
    fn normalisation(net: &crate::mobilenet::MobileNet) -> ([f32; 3], [f32; 3]) {
        if net.arch == "efficientnet_lite0" {
            (LITE_MEAN, LITE_STD)
        } else {
            (IMAGENET_MEAN, IMAGENET_STD)
        }
    }

    /// The square frame size the decoder must produce.
    pub fn frame_size(&self) -> u32 {
        match &self.net {
            Arch::ResNet { input, .. } => input * self.grid as u32,
            Arch::Clip { image, .. } => *image,
            Arch::MobileNet { input, .. } => *input,
        }
    }

    /// The `side`² crop at (`x0`, `y0`) of a frame as a normalised `[3, side, side]` tensor.
    fn to_tensor(frame: &RgbFrame, x0: usize, y0: usize, side: usize, (mean, std): ([f32; 3], [f32; 3])) -> Vec<f32> {
        let (w, h) = (frame.width as usize, frame.height as usize);
        let mut out = vec![0f32; 3 * side * side];
        for c in 0..3 {
            for y in 0..side {
                for x in 0..side {
                    let p = frame.data[((y0 + y).min(h - 1) * w + (x0 + x).min(w - 1)) * 3 + c] as f32 / 255.0;
                    out[(c * side + y) * side + x] = (p - mean[c]) / std[c];
                }
            }
        }
        out
    }

    /// `[grid², dim]` region features of one frame (of `frame_size()` pixels).
    pub fn frame_features(&self, frame: &RgbFrame, out: &mut [f32]) -> Result<()> {
        let g = self.grid;
        assert_eq!(out.len(), g * g * self.dim, "output buffer size");
        match &self.net {
            Arch::MobileNet { net, input } => {
                let side = *input as usize;
                let map = net.forward(&Self::to_tensor(frame, 0, 0, side, Self::normalisation(net)), 1, side, side)?.map;
                cell_means(&map.data, map.c, map.h, map.w, g, out);
            }
            Arch::ResNet { func, input } => {
                const MEAN: [f32; 3] = IMAGENET_MEAN;
                const STD: [f32; 3] = IMAGENET_STD;
                let side = *input as usize;
                let mut batch = Vec::with_capacity(g * g * 3 * side * side);
                for gy in 0..g {
                    for gx in 0..g {
                        batch.extend(Self::to_tensor(frame, gx * side, gy * side, side, (MEAN, STD)));
                    }
                }
                let x = Tensor::from_vec(batch, (g * g, 3, side, side), &Device::Cpu)?;
                let y = func.forward(&x)?; // [R, C]
                out.copy_from_slice(&y.flatten_all()?.to_vec1::<f32>()?);
            }
            Arch::Clip { model, image, patch } => {
                // CLIP's published normalisation constants, digit for digit.
                #[allow(clippy::excessive_precision)]
                const MEAN: [f32; 3] = [0.481_454_66, 0.457_827_5, 0.408_210_73];
                #[allow(clippy::excessive_precision)]
                const STD: [f32; 3] = [0.268_629_54, 0.261_302_58, 0.275_777_1];
                let side = *image as usize;
                let x = Tensor::from_vec(Self::to_tensor(frame, 0, 0, side, (MEAN, STD)), (1, 3, side, side), &Device::Cpu)?;
                let states = model.output_hidden_states(&x)?;
                // The last encoder layer's output (the final entry is the pooled [CLS]).
                let last = &states[states.len() - 2];
                let n = side / *patch as usize; // patches per side
                let tokens = last.i((0, 1.., ..))?.flatten_all()?.to_vec1::<f32>()?; // [n, n, D]
                cell_means(&tokens, self.dim, n, n, g, out);
            }
        }
        for region in out.chunks_mut(self.dim) {
            let norm = region.iter().map(|v| v * v).sum::<f32>().sqrt();
            if norm > 1e-12 {
                region.iter_mut().for_each(|v| *v /= norm);
            }
        }
        Ok(())
    }
}
