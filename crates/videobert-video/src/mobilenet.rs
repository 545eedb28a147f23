//! Inverted-residual networks for ImageNet weights read from the files users have, inference only:
//! MobileNetV2 (Sandler et al., 2018) as torchvision builds it (`mobilenet_v2-b0353104.pth`:
//! `features.N…`, `classifier.1.*`) and EfficientNet-Lite0 (`efficientnet_lite.rs`). Every batch
//! norm is folded into the convolution before it at load time; the 1×1 convolutions are matrix
//! products (the gemm crate, which candle uses too), the stem an im2col and one product, the k×k
//! depthwise ones a direct kernel vectorised across channels. Activations stay channels-last (NHWC).
//!
//! MobileNetV2's layout, as torchvision's `mobilenet_v2()`: a 3×3/2 convolution to 32 channels; 17
//! inverted residual blocks (expansion t, channels c, repeats n, first stride s) = (1,16,1,1),
//! (6,24,2,2), (6,32,3,2), (6,64,4,2), (6,96,3,1), (6,160,3,2), (6,320,1,1), each a 1×1 expansion
//! (absent when t = 1), a 3×3 depthwise convolution and a linear 1×1 projection, with a residual
//! connection when the stride is 1 and the channels are kept; a 1×1 convolution to 1280; ReLU6
//! throughout; global average pooling; a linear classifier to 1000 classes. Padding is PyTorch's
//! (k − 1)/2 on every side; batch-norm ε 1e-5.

use std::collections::HashMap;

use candle_core::Tensor;
use rayon::prelude::*;

use crate::error::{Error, Result};

/// How a convolution pads its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Padding {
    /// PyTorch's `padding = (k − 1) / 2` on all four sides (torchvision's models).
    Symmetric,
    /// TensorFlow's `SAME`: the output side is ⌈side / stride⌉ and the padding it needs goes half
    /// before (rounded down), the rest after (networks converted from TensorFlow checkpoints).
    TfSame,
}

impl Padding {
    /// Padding before the first row (or column) of an input of `side` for a k×k/`stride` convolution.
    fn before(self, side: usize, k: usize, stride: usize) -> usize {
        match self {
            Padding::Symmetric => (k - 1) / 2,
            Padding::TfSame => ((out_side(side, stride) - 1) * stride + k).saturating_sub(side) / 2,
        }
    }
}

/// Output side of a k×k/`stride` convolution, odd k, under either padding: ⌈side / stride⌉.
fn out_side(side: usize, stride: usize) -> usize {
    (side - 1) / stride + 1
}

/// A convolution with its batch norm folded in, laid out for its kernel (see each layer).
pub(crate) struct Folded {
    /// Stem: `[27, out]` ((ky·3 + kx)·3 + cin, out). Pointwise: `[out, in]`. Depthwise: `[k², C]`.
    weight: Vec<f32>,
    bias: Vec<f32>,
    out: usize,
    /// Kernel side (1 for pointwise).
    k: usize,
}

/// A state dict being read into one network: its name for errors and its batch norms' ε.
pub(crate) struct Weights<'a> {
    pub tensors: &'a HashMap<String, Tensor>,
    pub net: &'static str,
    pub bn_eps: f32,
}

impl Weights<'_> {
    fn missing(&self, name: &str) -> Error {
        Error::input("weights", format!("{}: tensor `{name}` is missing", self.net))
    }

    pub fn get(&self, name: &str) -> Result<Vec<f32>> {
        Ok(self.tensors.get(name).ok_or_else(|| self.missing(name))?.flatten_all()?.to_vec1::<f32>()?)
    }

    pub fn dims(&self, name: &str) -> Result<Vec<usize>> {
        Ok(self.tensors.get(name).ok_or_else(|| self.missing(name))?.dims().to_vec())
    }

    /// `conv` (no bias, weights `[out, in/groups, k, k]`) followed by the batch norm `bn`, folded
    /// (w·γ/σ, β − μ·γ/σ) and laid out for its kernel. `expect`: the weight's shape, 0 = any.
    fn fold(&self, conv: &str, bn: &str, expect: [usize; 4], layout: fn(usize, usize, &[f32]) -> Vec<f32>) -> Result<Folded> {
        let shape = self.dims(&format!("{conv}.weight"))?;
        let fits = shape.len() == 4 && shape.iter().zip(expect).all(|(&s, e)| e == 0 || s == e);
        if !fits {
            return Err(Error::input("weights", format!("{}: `{conv}.weight` is {shape:?}, expected {expect:?} (0 = any)", self.net)));
        }
        let out = shape[0];
        let w = self.get(&format!("{conv}.weight"))?;
        let (gamma, beta, mean, var) = (
            self.get(&format!("{bn}.weight"))?,
            self.get(&format!("{bn}.bias"))?,
            self.get(&format!("{bn}.running_mean"))?,
            self.get(&format!("{bn}.running_var"))?,
        );
        if [gamma.len(), beta.len(), mean.len(), var.len()] != [out; 4] {
            return Err(Error::input("weights", format!("{}: `{bn}` does not have the {out} channels of `{conv}`", self.net)));
        }
        let per_out = w.len() / out;
        let scale: Vec<f32> = (0..out).map(|o| gamma[o] / (var[o] + self.bn_eps).sqrt()).collect();
        let scaled: Vec<f32> = w.iter().enumerate().map(|(i, v)| v * scale[i / per_out]).collect();
        let bias = (0..out).map(|o| beta[o] - mean[o] * scale[o]).collect();
        Ok(Folded { weight: layout(out, per_out, &scaled), bias, out, k: shape[3] })
    }

    /// The 3×3/2 stem from RGB to `out` channels (0 = any), ReLU6.
    pub fn stem(&self, conv: &str, bn: &str, out: usize) -> Result<Layer> {
        Ok(Layer::Stem(self.fold(conv, bn, [out, 3, 3, 3], stem_layout)?))
    }

    /// A 1×1 convolution `input → out` channels, ReLU6 when `relu`.
    pub fn pointwise(&self, conv: &str, bn: &str, input: usize, out: usize, relu: bool) -> Result<Layer> {
        Ok(Layer::Pointwise(self.fold(conv, bn, [out, input, 1, 1], as_is)?, relu))
    }

    /// A k×k depthwise convolution over `channels` (k odd: 3 or 5, read off the file), ReLU6.
    pub fn depthwise(&self, conv: &str, bn: &str, channels: usize, stride: usize) -> Result<Layer> {
        let f = self.fold(conv, bn, [channels, 1, 0, 0], depthwise_layout)?;
        let shape = self.dims(&format!("{conv}.weight"))?;
        if shape[2] != shape[3] || shape[2] % 2 == 0 {
            return Err(Error::input("weights", format!("{}: `{conv}.weight` is {shape:?}: a depthwise kernel must be square and odd", self.net)));
        }
        Ok(Layer::Depthwise(f, stride))
    }

    /// The `[classes, features]` linear classifier `name`, if the file has it.
    pub fn classifier(&self, name: &str, features: usize) -> Result<Option<(Vec<f32>, Vec<f32>)>> {
        let (w, b) = (format!("{name}.weight"), format!("{name}.bias"));
        match (self.tensors.get(&w), self.tensors.get(&b)) {
            (Some(t), Some(_)) if t.dims() == [1000, features] => Ok(Some((self.get(&w)?, self.get(&b)?))),
            (Some(t), _) => Err(Error::input("weights", format!("{}: `{w}` is {:?}, expected [1000, {features}]", self.net, t.dims()))),
            _ => Ok(None),
        }
    }
}

fn as_is(_: usize, _: usize, w: &[f32]) -> Vec<f32> {
    w.to_vec()
}

/// `[C, 1, k, k]` → `[k², C]`.
fn depthwise_layout(c: usize, kk: usize, w: &[f32]) -> Vec<f32> {
    (0..kk).flat_map(|k| (0..c).map(move |ch| w[ch * kk + k])).collect()
}

/// `[out, 3, 3, 3]` (out, cin, ky, kx) → `[27, out]` ((ky·3 + kx)·3 + cin, out).
fn stem_layout(out: usize, _: usize, w: &[f32]) -> Vec<f32> {
    let mut r = vec![0f32; 27 * out];
    for o in 0..out {
        for cin in 0..3 {
            for k in 0..9 {
                r[(k * 3 + cin) * out + o] = w[(o * 3 + cin) * 9 + k];
            }
        }
    }
    r
}

pub(crate) enum Layer {
    /// The 3×3/2 convolution from RGB, ReLU6.
    Stem(Folded),
    /// 1×1 convolution, optionally ReLU6.
    Pointwise(Folded, bool),
    /// k×k depthwise convolution with this stride, ReLU6.
    Depthwise(Folded, usize),
}

pub(crate) struct Block {
    pub layers: Vec<Layer>,
    pub residual: bool,
}

/// Activations of a batch: `[n, h, w, c]`, channels last.
pub struct Nhwc {
    pub data: Vec<f32>,
    pub n: usize,
    pub h: usize,
    pub w: usize,
    pub c: usize,
}

/// What one forward pass gives: the last feature map, its global average, and the ImageNet logits.
pub struct MobileNetOutput {
    /// `[N, h, w, 1280]` (h = w = input / 32, rounded up).
    pub map: Nhwc,
    /// `[N, 1280]`.
    pub pooled: Vec<f32>,
    /// `[N, 1000]` (absent when the file has no classifier).
    pub logits: Option<Vec<f32>>,
}

/// A loaded inverted-residual network (MobileNetV2 or EfficientNet-Lite0).
pub struct MobileNet {
    /// `"mobilenet_v2"` or `"efficientnet_lite0"`.
    pub arch: &'static str,
    pub(crate) padding: Padding,
    pub(crate) blocks: Vec<Block>,
    /// `[1000, 1280]` and `[1000]`.
    pub(crate) classifier: Option<(Vec<f32>, Vec<f32>)>,
}

/// torchvision's block settings (t, c, n, s).
const SETTINGS: [(usize, usize, usize, usize); 7] = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)];

/// Whether these tensor names are a torchvision MobileNetV2's.
pub fn is_mobilenet_v2(t: &HashMap<String, Tensor>) -> bool {
    t.contains_key("features.0.0.weight") && t.contains_key("features.1.conv.0.0.weight") && t.contains_key("features.18.0.weight")
}

/// torchvision's MobileNetV2 from its state dict.
pub fn load_mobilenet_v2(t: &HashMap<String, Tensor>) -> Result<MobileNet> {
    let wt = Weights { tensors: t, net: "MobileNetV2", bn_eps: 1e-5 };
    let mut blocks = vec![Block { layers: vec![wt.stem("features.0.0", "features.0.1", 32)?], residual: false }];
    let mut index = 1;
    let mut channels = 32;
    for (expand, out, repeats, first_stride) in SETTINGS {
        for r in 0..repeats {
            let stride = if r == 0 { first_stride } else { 1 };
            let hidden = channels * expand;
            let p = format!("features.{index}.conv");
            let mut layers = Vec::new();
            let mut at = 0;
            if expand != 1 {
                layers.push(wt.pointwise(&format!("{p}.0.0"), &format!("{p}.0.1"), channels, hidden, true)?);
                at = 1;
            }
            layers.push(wt.depthwise(&format!("{p}.{at}.0"), &format!("{p}.{at}.1"), hidden, stride)?);
            layers.push(wt.pointwise(&format!("{p}.{}", at + 1), &format!("{p}.{}", at + 2), hidden, out, false)?);
            blocks.push(Block { layers, residual: stride == 1 && channels == out });
            channels = out;
            index += 1;
        }
    }
    blocks.push(Block { layers: vec![wt.pointwise(&format!("features.{index}.0"), &format!("features.{index}.1"), channels, 1280, true)?], residual: false });
    let classifier = wt.classifier("classifier.1", 1280)?;
    Ok(MobileNet { arch: "mobilenet_v2", padding: Padding::Symmetric, blocks, classifier })
}

impl MobileNet {
    /// `x`: `[N, 3, H, W]` (NCHW, as PyTorch takes it), normalised as the network was trained.
    pub fn forward(&self, x: &[f32], n: usize, h: usize, w: usize) -> Result<MobileNetOutput> {
        if x.len() != n * 3 * h * w || n == 0 || h == 0 || w == 0 {
            return Err(Error::input("frames", format!("{}: {} values for {n} × 3 × {h} × {w}", self.arch, x.len())));
        }
        // NCHW → NHWC
        let mut data = vec![0f32; x.len()];
        data.par_chunks_mut(h * w * 3).enumerate().for_each(|(i, img)| {
            for c in 0..3 {
                for p in 0..h * w {
                    img[p * 3 + c] = x[(i * 3 + c) * h * w + p];
                }
            }
        });
        let mut a = Nhwc { data, n, h, w, c: 3 };
        for b in &self.blocks {
            let input = if b.residual { Some(a.data.clone()) } else { None };
            for l in &b.layers {
                a = match l {
                    Layer::Stem(f) => stem(&a, f, self.padding),
                    Layer::Pointwise(f, relu) => pointwise(&a, f, *relu),
                    Layer::Depthwise(f, stride) => depthwise(&a, f, *stride, self.padding),
                };
            }
            if let Some(input) = input {
                a.data.par_chunks_mut(4096).zip(input.par_chunks(4096)).for_each(|(y, x)| y.iter_mut().zip(x).for_each(|(y, x)| *y += x));
            }
        }
        let (hw, c) = (a.h * a.w, a.c);
        let mut pooled = vec![0f32; a.n * c];
        for (i, p) in pooled.chunks_mut(c).enumerate() {
            for px in a.data[i * hw * c..(i + 1) * hw * c].chunks(c) {
                p.iter_mut().zip(px).for_each(|(s, v)| *s += v);
            }
            p.iter_mut().for_each(|s| *s /= hw as f32);
        }
        let logits = self.classifier.as_ref().map(|(wt, bias)| {
            let mut y: Vec<f32> = (0..a.n).flat_map(|_| bias.iter().copied()).collect();
            gemm_rows(a.n, bias.len(), c, &mut y, &pooled, wt);
            y
        });
        Ok(MobileNetOutput { map: a, pooled, logits })
    }
}

/// `dst [m, n] += lhs [m, k] · wᵀ` for `w [n, k]` (row-major), on the calling pool's threads.
fn gemm_rows(m: usize, n: usize, k: usize, dst: &mut [f32], lhs: &[f32], w: &[f32]) {
    assert!(dst.len() == m * n && lhs.len() == m * k && w.len() == n * k);
    let threads = rayon::current_num_threads();
    let parallelism = if threads > 1 { gemm::Parallelism::Rayon(threads) } else { gemm::Parallelism::None };
    // SAFETY: the assert keeps every index the strides reach inside the slices; dst is written only
    // through its exclusive borrow. rhs = wᵀ: element (k, n) is w[n·K + k].
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            true,
            lhs.as_ptr(),
            1,
            k as isize,
            w.as_ptr(),
            k as isize,
            1,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

fn relu6(x: &mut [f32]) {
    x.par_chunks_mut(4096).for_each(|c| c.iter_mut().for_each(|v| *v = v.clamp(0.0, 6.0)));
}

/// Rows of `bias`, one per pixel: the initial value of a convolution's output.
fn biased(rows: usize, bias: &[f32]) -> Vec<f32> {
    let mut y = vec![0f32; rows * bias.len()];
    y.par_chunks_mut(bias.len()).for_each(|r| r.copy_from_slice(bias));
    y
}

fn pointwise(a: &Nhwc, f: &Folded, relu: bool) -> Nhwc {
    let rows = a.n * a.h * a.w;
    let mut y = biased(rows, &f.bias);
    gemm_rows(rows, f.out, a.c, &mut y, &a.data, &f.weight);
    if relu {
        relu6(&mut y);
    }
    Nhwc { data: y, n: a.n, h: a.h, w: a.w, c: f.out }
}

/// The stem: im2col of 3×3/2 patches and one product with `[27, out]`, ReLU6.
fn stem(a: &Nhwc, f: &Folded, padding: Padding) -> Nhwc {
    let (oh, ow) = (out_side(a.h, 2), out_side(a.w, 2));
    let (py, px) = (padding.before(a.h, 3, 2) as isize, padding.before(a.w, 3, 2) as isize);
    let rows = a.n * oh * ow;
    let mut cols = vec![0f32; rows * 27];
    cols.par_chunks_mut(ow * 27).enumerate().for_each(|(row, line)| {
        let (i, oy) = (row / oh, row % oh);
        let img = &a.data[i * a.h * a.w * 3..(i + 1) * a.h * a.w * 3];
        for ox in 0..ow {
            let patch = &mut line[ox * 27..(ox + 1) * 27];
            for ky in 0..3 {
                let iy = (oy * 2 + ky) as isize - py;
                for kx in 0..3 {
                    let ix = (ox * 2 + kx) as isize - px;
                    if iy >= 0 && (iy as usize) < a.h && ix >= 0 && (ix as usize) < a.w {
                        let src = (iy as usize * a.w + ix as usize) * 3;
                        patch[(ky * 3 + kx) * 3..(ky * 3 + kx) * 3 + 3].copy_from_slice(&img[src..src + 3]);
                    }
                }
            }
        }
    });
    let mut y = biased(rows, &f.bias);
    // cols [rows, 27] · weight [27, out]: the weight is stored k-major, so it is wᵀ of a [out, 27]
    let wt: Vec<f32> = (0..f.out).flat_map(|o| (0..27).map(move |k| (o, k))).map(|(o, k)| f.weight[k * f.out + o]).collect();
    gemm_rows(rows, f.out, 27, &mut y, &cols, &wt);
    relu6(&mut y);
    Nhwc { data: y, n: a.n, h: oh, w: ow, c: f.out }
}

/// k×k depthwise convolution with bias and ReLU6, vectorised across channels; one output row per
/// task.
fn depthwise(a: &Nhwc, f: &Folded, stride: usize, padding: Padding) -> Nhwc {
    let (oh, ow, c, k) = (out_side(a.h, stride), out_side(a.w, stride), a.c, f.k);
    let (py, px) = (padding.before(a.h, k, stride) as isize, padding.before(a.w, k, stride) as isize);
    let mut y = vec![0f32; a.n * oh * ow * c];
    y.par_chunks_mut(ow * c).enumerate().for_each(|(row, line)| {
        let (i, oy) = (row / oh, row % oh);
        let img = &a.data[i * a.h * a.w * c..(i + 1) * a.h * a.w * c];
        for ox in 0..ow {
            let acc = &mut line[ox * c..(ox + 1) * c];
            acc.copy_from_slice(&f.bias);
            for ky in 0..k {
                let iy = (oy * stride + ky) as isize - py;
                if iy < 0 || iy as usize >= a.h {
                    continue;
                }
                for kx in 0..k {
                    let ix = (ox * stride + kx) as isize - px;
                    if ix < 0 || ix as usize >= a.w {
                        continue;
                    }
                    let src = &img[(iy as usize * a.w + ix as usize) * c..][..c];
                    let wk = &f.weight[(ky * k + kx) * c..][..c];
                    acc.iter_mut().zip(src).zip(wk).for_each(|((o, x), w)| *o += x * w);
                }
            }
            acc.iter_mut().for_each(|v| *v = v.clamp(0.0, 6.0));
        }
    });
    Nhwc { data: y, n: a.n, h: oh, w: ow, c }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn close(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
    }

    fn nhwc(t: &Tensor) -> Vec<f32> {
        t.permute((0, 2, 3, 1)).unwrap().flatten_all().unwrap().to_vec1().unwrap()
    }

    /// `x` `[N, C, H, W]` zero-padded as `padding` pads it for a k×k/`stride` convolution.
    fn padded(x: &Tensor, k: usize, stride: usize, padding: Padding) -> Tensor {
        let (h, w) = (x.dim(2).unwrap(), x.dim(3).unwrap());
        let total = |side: usize| ((out_side(side, stride) - 1) * stride + k).saturating_sub(side);
        let (ty, tx) = (padding.before(h, k, stride), padding.before(w, k, stride));
        // PyTorch's symmetric padding pads (k−1)/2 after too (the last partial window is dropped)
        let after = |side: usize, before: usize| if padding == Padding::Symmetric { before } else { total(side) - before };
        x.pad_with_zeros(2, ty, after(h, ty)).unwrap().pad_with_zeros(3, tx, after(w, tx)).unwrap()
    }

    /// The direct kernels against candle's convolutions (the references they replace), under both
    /// padding rules and both kernel sizes the networks use.
    #[test]
    fn kernels_equal_candle_convolutions() {
        let dev = Device::Cpu;
        for padding in [Padding::Symmetric, Padding::TfSame] {
            for (h, w, stride, k) in
                [(7, 7, 1, 3), (8, 9, 2, 3), (5, 4, 2, 3), (1, 1, 1, 3), (2, 3, 2, 3), (8, 8, 2, 5), (7, 6, 1, 5), (9, 7, 2, 5), (3, 2, 2, 5)]
            {
                let c = 5;
                let x = Tensor::randn(0f32, 1f32, (2, c, h, w), &dev).unwrap();
                let weight = Tensor::randn(0f32, 1f32, (c, 1, k, k), &dev).unwrap();
                let bias = Tensor::randn(0f32, 1f32, c, &dev).unwrap();
                let f =
                    Folded { weight: depthwise_layout(c, k * k, &weight.flatten_all().unwrap().to_vec1().unwrap()), bias: bias.to_vec1().unwrap(), out: c, k };
                let got = depthwise(&Nhwc { data: nhwc(&x), n: 2, h, w, c }, &f, stride, padding);
                let want = padded(&x, k, stride, padding).conv2d(&weight, 0, stride, 1, c).unwrap();
                let want = want.broadcast_add(&bias.reshape((1, c, 1, 1)).unwrap()).unwrap().clamp(0f32, 6f32).unwrap();
                let case = format!("{padding:?} {h}×{w} k{k} stride {stride}");
                assert_eq!((got.h, got.w), (want.dim(2).unwrap(), want.dim(3).unwrap()), "{case}");
                assert!(close(&got.data, &nhwc(&want)) < 1e-5, "depthwise {case}");
            }
            for (h, w) in [(7, 7), (8, 9), (5, 4), (1, 1), (2, 3), (224, 224)] {
                let sw = Tensor::randn(0f32, 1f32, (4, 3, 3, 3), &dev).unwrap();
                let x3 = Tensor::randn(0f32, 1f32, (2, 3, h, w), &dev).unwrap();
                let f = Folded { weight: stem_layout(4, 27, &sw.flatten_all().unwrap().to_vec1().unwrap()), bias: vec![0.5; 4], out: 4, k: 3 };
                let got = stem(&Nhwc { data: nhwc(&x3), n: 2, h, w, c: 3 }, &f, padding);
                let want = (padded(&x3, 3, 2, padding).conv2d(&sw, 0, 2, 1, 1).unwrap() + 0.5).unwrap().clamp(0f32, 6f32).unwrap();
                assert!(close(&got.data, &nhwc(&want)) < 1e-4, "stem {padding:?} {h}×{w}");
            }
        }
    }

    /// TensorFlow's SAME padding at the sides EfficientNet-Lite0 sees at 224²: odd totals put the
    /// extra row after.
    #[test]
    fn tf_same_padding_puts_the_odd_row_after() {
        assert_eq!(Padding::TfSame.before(224, 3, 2), 0); // total 1
        assert_eq!(Padding::TfSame.before(56, 5, 2), 1); // total 3
        assert_eq!(Padding::TfSame.before(14, 5, 1), 2); // total 4
        assert_eq!(Padding::TfSame.before(112, 3, 1), 1);
        assert_eq!(Padding::Symmetric.before(224, 3, 2), 1);
        assert_eq!(Padding::Symmetric.before(56, 5, 2), 2);
    }
}
