//! MobileNetV2 (Sandler et al., 2018) as torchvision builds it, for ImageNet weights read from the
//! files users have (`mobilenet_v2-b0353104.pth`: `features.N…`, `classifier.1.*`). Inference only:
//! every batch norm is folded into the convolution before it at load time; the 1×1 convolutions are
//! matrix products (candle's gemm), the 3×3 depthwise ones a direct kernel here (candle runs a
//! grouped convolution as one convolution per channel, which is the slow part of this network).
//!
//! Layout, as torchvision's `mobilenet_v2()`: a 3×3/2 convolution to 32 channels; 17 inverted
//! residual blocks (expansion t, channels c, repeats n, first stride s) = (1,16,1,1), (6,24,2,2),
//! (6,32,3,2), (6,64,4,2), (6,96,3,1), (6,160,3,2), (6,320,1,1), each a 1×1 expansion (absent when
//! t = 1), a 3×3 depthwise convolution and a linear 1×1 projection, with a residual connection when
//! the stride is 1 and the channels are kept; a 1×1 convolution to 1280; ReLU6 throughout; global
//! average pooling; a linear classifier to 1000 classes.

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor, D};
use rayon::prelude::*;

use crate::error::{Error, Result};

const BN_EPS: f64 = 1e-5;

/// A convolution with its batch norm folded in: weights `[out, in/groups, k, k]`, bias `[out]`.
struct Folded {
    weight: Tensor,
    bias: Tensor,
    /// The same, as plain numbers (the depthwise kernel reads these).
    weight_v: Vec<f32>,
    bias_v: Vec<f32>,
}

fn get(t: &HashMap<String, Tensor>, name: &str) -> Result<Tensor> {
    t.get(name).cloned().ok_or_else(|| Error::input("weights", format!("MobileNetV2: tensor `{name}` is missing")))
}

/// `conv` (no bias) followed by the batch norm `bn`, folded: w·γ/σ, β − μ·γ/σ.
fn fold(t: &HashMap<String, Tensor>, conv: &str, bn: &str) -> Result<Folded> {
    let w = get(t, &format!("{conv}.weight"))?;
    let (gamma, beta, mean, var) = (get(t, &format!("{bn}.weight"))?, get(t, &format!("{bn}.bias"))?, get(t, &format!("{bn}.running_mean"))?, get(t, &format!("{bn}.running_var"))?);
    let scale = (gamma / (var + BN_EPS)?.sqrt()?)?;
    let out = w.dim(0)?;
    if scale.dims() != [out] {
        return Err(Error::input("weights", format!("MobileNetV2: `{bn}` has {:?} channels, `{conv}` {out}", scale.dims())));
    }
    let weight = w.broadcast_mul(&scale.reshape((out, 1, 1, 1))?)?;
    let bias = (beta - (mean * &scale)?)?;
    Ok(Folded { weight_v: weight.flatten_all()?.to_vec1()?, bias_v: bias.to_vec1()?, weight, bias })
}

enum Layer {
    /// A full 3×3 convolution (the stem), stride 2.
    Stem(Folded),
    /// 1×1 convolution, optionally ReLU6.
    Pointwise(Folded, bool),
    /// 3×3 depthwise convolution with this stride, ReLU6.
    Depthwise(Folded, usize),
}

struct Block {
    layers: Vec<Layer>,
    residual: bool,
}

/// What one forward pass gives: the last feature map, its global average, and the ImageNet logits.
pub struct MobileNetOutput {
    /// `[N, 1280, h, w]` (h = w = input / 32).
    pub map: Tensor,
    /// `[N, 1280]`.
    pub pooled: Tensor,
    /// `[N, 1000]` (absent when the file has no classifier).
    pub logits: Option<Tensor>,
}

pub struct MobileNetV2 {
    blocks: Vec<Block>,
    classifier: Option<(Tensor, Tensor)>,
}

/// torchvision's block settings (t, c, n, s).
const SETTINGS: [(usize, usize, usize, usize); 7] = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)];

impl MobileNetV2 {
    /// Whether these tensor names are a torchvision MobileNetV2's.
    pub fn recognises(t: &HashMap<String, Tensor>) -> bool {
        t.contains_key("features.0.0.weight") && t.contains_key("features.1.conv.0.0.weight") && t.contains_key("features.18.0.weight")
    }

    pub fn load(t: &HashMap<String, Tensor>) -> Result<Self> {
        let mut blocks = vec![Block { layers: vec![Layer::Stem(fold(t, "features.0.0", "features.0.1")?)], residual: false }];
        let mut index = 1;
        let mut channels = 32;
        for (expand, out, repeats, first_stride) in SETTINGS {
            for r in 0..repeats {
                let stride = if r == 0 { first_stride } else { 1 };
                let p = format!("features.{index}.conv");
                let mut layers = Vec::new();
                let mut at = 0;
                if expand != 1 {
                    layers.push(Layer::Pointwise(fold(t, &format!("{p}.0.0"), &format!("{p}.0.1"))?, true));
                    at = 1;
                }
                layers.push(Layer::Depthwise(fold(t, &format!("{p}.{at}.0"), &format!("{p}.{at}.1"))?, stride));
                layers.push(Layer::Pointwise(fold(t, &format!("{p}.{}", at + 1), &format!("{p}.{}", at + 2))?, false));
                blocks.push(Block { layers, residual: stride == 1 && channels == out });
                channels = out;
                index += 1;
            }
        }
        blocks.push(Block { layers: vec![Layer::Pointwise(fold(t, &format!("features.{index}.0"), &format!("features.{index}.1"))?, true)], residual: false });
        let classifier = match (t.get("classifier.1.weight"), t.get("classifier.1.bias")) {
            (Some(w), Some(b)) => Some((w.t()?.contiguous()?, b.clone())),
            _ => None,
        };
        Ok(Self { blocks, classifier })
    }

    /// `x`: `[N, 3, H, W]`, normalised with ImageNet's mean and std.
    pub fn forward(&self, x: &Tensor) -> Result<MobileNetOutput> {
        let mut x = x.clone();
        for b in &self.blocks {
            let input = x.clone();
            for l in &b.layers {
                x = match l {
                    Layer::Stem(f) => {
                        let y = x.conv2d(&f.weight, 1, 2, 1, 1)?;
                        relu6(&y.broadcast_add(&f.bias.reshape((1, (), 1, 1))?)?)?
                    }
                    Layer::Pointwise(f, act) => {
                        let (n, c, h, w) = x.dims4()?;
                        let out = f.weight.dim(0)?;
                        let wm = f.weight.reshape((out, c))?;
                        let y = wm.broadcast_matmul(&x.reshape((n, c, h * w))?)?.broadcast_add(&f.bias.reshape((1, out, 1))?)?.reshape((n, out, h, w))?;
                        if *act {
                            relu6(&y)?
                        } else {
                            y
                        }
                    }
                    Layer::Depthwise(f, stride) => depthwise3x3(&x, f, *stride)?,
                };
            }
            if b.residual {
                x = (x + input)?;
            }
        }
        let pooled = x.mean(D::Minus1)?.mean(D::Minus1)?;
        let logits = match &self.classifier {
            Some((w, b)) => Some(pooled.matmul(w)?.broadcast_add(b)?),
            None => None,
        };
        Ok(MobileNetOutput { map: x, pooled, logits })
    }
}

fn relu6(x: &Tensor) -> Result<Tensor> {
    Ok(x.clamp(0f32, 6f32)?)
}

/// 3×3 depthwise convolution, padding 1, with bias and ReLU6, one plane per task.
fn depthwise3x3(x: &Tensor, f: &Folded, stride: usize) -> Result<Tensor> {
    let (n, c, h, w) = x.dims4()?;
    let (oh, ow) = ((h - 1) / stride + 1, (w - 1) / stride + 1);
    let input: Vec<f32> = x.flatten_all()?.to_vec1()?;
    let mut out = vec![0f32; n * c * oh * ow];
    out.par_chunks_mut(oh * ow).enumerate().for_each(|(plane, o)| {
        let ch = plane % c;
        let src = &input[plane * h * w..(plane + 1) * h * w];
        let k = &f.weight_v[ch * 9..ch * 9 + 9];
        let bias = f.bias_v[ch];
        for oy in 0..oh {
            let row = &mut o[oy * ow..(oy + 1) * ow];
            row.fill(bias);
            for ky in 0..3 {
                let iy = (oy * stride + ky) as isize - 1;
                if iy < 0 || iy >= h as isize {
                    continue;
                }
                let line = &src[iy as usize * w..(iy as usize + 1) * w];
                for kx in 0..3 {
                    let wk = k[ky * 3 + kx];
                    // ox whose input column ox·stride + kx − 1 is inside the row
                    let lo = if kx == 0 { 1 } else { 0 };
                    let hi = ((w + 1 - kx) / stride + usize::from((w + 1 - kx) % stride != 0)).min(ow);
                    if stride == 1 {
                        let off = kx as isize - 1;
                        for ox in lo..hi {
                            row[ox] += wk * line[(ox as isize + off) as usize];
                        }
                    } else {
                        for ox in lo..hi {
                            row[ox] += wk * line[ox * stride + kx - 1];
                        }
                    }
                }
            }
            row.iter_mut().for_each(|v| *v = v.clamp(0.0, 6.0));
        }
    });
    Ok(Tensor::from_vec(out, (n, c, oh, ow), &Device::Cpu)?.to_dtype(DType::F32)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The direct kernel against candle's grouped convolution (the reference it replaces).
    #[test]
    fn depthwise_kernel_equals_a_grouped_convolution() {
        for (h, w, stride) in [(7, 7, 1), (8, 9, 2), (5, 4, 2), (1, 1, 1), (2, 3, 2)] {
            let c = 3;
            let x = Tensor::randn(0f32, 1f32, (2, c, h, w), &Device::Cpu).unwrap();
            let weight = Tensor::randn(0f32, 1f32, (c, 1, 3, 3), &Device::Cpu).unwrap();
            let bias = Tensor::randn(0f32, 1f32, c, &Device::Cpu).unwrap();
            let f = Folded { weight_v: weight.flatten_all().unwrap().to_vec1().unwrap(), bias_v: bias.to_vec1().unwrap(), weight: weight.clone(), bias: bias.clone() };
            let got = depthwise3x3(&x, &f, stride).unwrap();
            let want = relu6(&x.conv2d(&weight, 1, stride, 1, c).unwrap().broadcast_add(&bias.reshape((1, c, 1, 1)).unwrap()).unwrap()).unwrap();
            assert_eq!(got.dims(), want.dims(), "{h}×{w} stride {stride}");
            let diff = (got - want).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap();
            assert!(diff < 1e-5, "{h}×{w} stride {stride}: {diff}");
        }
    }
}
