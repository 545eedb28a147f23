//! A whole encoder layer as one op on the encoder's flat state: the joint sequence's rows
//! `[B·S, H]` followed by the region tokens' rows `[B·T·R, H]`. The layer runs
//! (a) spatial attention inside each segment — the segment's token and its R regions, gathered
//! from the state into `[B·T, R+1, H]` and written back —, (b) joint attention over each sample's
//! `S` sequence rows with the key mask, (c) the FFN on every row at once. The three halves are the
//! fused blocks (`attention_block`, `ffn`) called on host rows; what the op saves over calling
//! them as separate graph ops is the token plumbing between them: candle's `cat` / `narrow` of the
//! segment rows and the regions (each `narrow`'s backward pads its gradient with zeros to the full
//! tensor, then adds), and two FFN calls where one on all rows makes larger GEMMs. Rows are only
//! gathered and scattered, so values equal the separate blocks' (the FFN's parameter gradients sum
//! the two row sets in one GEMM instead of two, ~1e-7 relative apart).

use std::sync::Mutex;

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp1, DType, Layout, Result, Shape, Tensor};

use super::attention_block::{self, AttentionParams};
use super::ffn::{self, FfnParams};
use super::{slice, tensor_like, with_host, with_hosts, Real};

/// Where the rows of a batch sit in the flat state.
#[derive(Debug, Clone, Copy)]
pub struct Geometry {
    pub batch: usize,
    /// S: tokens of the joint sequence.
    pub seq: usize,
    /// T: segments (each a sequence row at `video_offset + t`).
    pub segments: usize,
    /// R: region tokens per segment (0: no spatial attention).
    pub regions: usize,
    /// The sequence position of segment 0.
    pub video_offset: usize,
    pub hidden: usize,
}

impl Geometry {
    /// Rows of the flat state.
    pub fn rows(&self) -> usize {
        self.batch * self.seq + self.batch * self.segments * self.regions
    }

    fn joint_len(&self) -> usize {
        self.batch * self.seq * self.hidden
    }

    /// The state rows of the spatial groups, `[B·T, R+1]` in order: each segment's sequence row,
    /// then its R region rows.
    fn spatial_rows(&self) -> Vec<usize> {
        let (b, s, t, r) = (self.batch, self.seq, self.segments, self.regions);
        let mut rows = Vec::with_capacity(b * t * (r + 1));
        for i in 0..b {
            for j in 0..t {
                rows.push(i * s + self.video_offset + j);
                let first = b * s + (i * t + j) * r;
                rows.extend(first..first + r);
            }
        }
        rows
    }
}

/// One layer's parameters and the batch's geometry.
#[derive(Clone)]
pub struct LayerParams {
    /// `None` when the model has no region tokens.
    pub spatial: Option<AttentionParams>,
    pub joint: AttentionParams,
    pub ffn: FfnParams,
    pub geometry: Geometry,
}

/// The rows `rows` of `state` (`h` wide), one after the other.
fn gather<T: Real>(state: &[T], rows: &[usize], h: usize) -> Vec<T> {
    let mut out = Vec::with_capacity(rows.len() * h);
    for &r in rows {
        out.extend_from_slice(&state[r * h..(r + 1) * h]);
    }
    out
}

/// Writes `values`' rows back to the rows `rows` of `state`.
fn scatter<T: Real>(state: &mut [T], values: &[T], rows: &[usize], h: usize) {
    for (&r, v) in rows.iter().zip(values.chunks_exact(h)) {
        state[r * h..(r + 1) * h].copy_from_slice(v);
    }
}

/// What the forward pass keeps: each block's input rows and its own saved activations.
struct Saved {
    spatial: Option<(Tensor, attention_block::Saved)>,
    joint: (Tensor, attention_block::Saved),
    ffn: (Tensor, ffn::Saved),
}

struct EncoderLayer {
    p: LayerParams,
    /// Additive key mask `[B, S]` of the joint attention (no gradient).
    mask: Tensor,
    /// `Geometry::spatial_rows`, built once for forward and backward (empty without regions).
    spatial_rows: Vec<usize>,
    saved: Mutex<Option<Saved>>,
}

impl EncoderLayer {
    fn spatial_dims(&self, heads: usize) -> Result<super::attention::Dims> {
        let g = &self.p.geometry;
        attention_block::dims(g.batch * g.segments, g.regions + 1, g.hidden, heads)
    }

    fn joint_dims(&self) -> Result<super::attention::Dims> {
        let g = &self.p.geometry;
        attention_block::dims(g.batch, g.seq, g.hidden, self.p.joint.heads)
    }

    fn run<T: Real>(&self, x: &[T]) -> Result<CpuStorage> {
        let g = self.p.geometry;
        let (h, cpu) = (g.hidden, &candle_core::Device::Cpu);
        let mut state = x.to_vec();
        let spatial = match &self.p.spatial {
            Some(sp) => {
                let rows = &self.spatial_rows;
                let tokens = gather(&state, rows, h);
                let (y, saved) = attention_block::forward_host(sp, None, &tokens, self.spatial_dims(sp.heads)?)?;
                scatter(&mut state, &y, rows, h);
                Some((Tensor::from_vec(tokens, (rows.len(), h), cpu)?, saved))
            }
            None => None,
        };
        let joint_len = g.joint_len();
        let (y, joint_saved) = attention_block::forward_host(&self.p.joint, Some(&self.mask), &state[..joint_len], self.joint_dims()?)?;
        // The joint block's input is kept for backward; the state goes on with its output.
        let mut next = y;
        next.extend_from_slice(&state[joint_len..]);
        state.truncate(joint_len);
        let joint = (Tensor::from_vec(state, (g.batch * g.seq, h), cpu)?, joint_saved);
        let (out, ffn_saved) = ffn::forward_host(&self.p.ffn, &next)?;
        let ffn = (Tensor::from_vec(next, (g.rows(), h), cpu)?, ffn_saved);
        *self.saved.lock().expect("saved activations") = Some(Saved { spatial, joint, ffn });
        Ok(T::to_cpu_storage_owned(out))
    }

    fn grads<T: Real>(&self, x: &Tensor, dy: &Tensor) -> Result<Tensor> {
        let g = self.p.geometry;
        let h = g.hidden;
        let guard = self.saved.lock().expect("saved activations");
        let Some(s) = guard.as_ref() else { candle_core::bail!("fused encoder layer: backward before forward") };
        let mut d = with_hosts::<T, _, 2>([&s.ffn.0, dy], |[xs, dys]| ffn::backward_host(&self.p.ffn, &s.ffn.1, xs, dys))?;
        let joint_len = g.joint_len();
        let dj = with_host::<T, _>(&s.joint.0, |xs| attention_block::backward_host(&self.p.joint, &s.joint.1, xs, &d[..joint_len], self.joint_dims()?))?;
        d[..joint_len].copy_from_slice(&dj);
        if let (Some(sp), Some((tokens, saved))) = (&self.p.spatial, &s.spatial) {
            let rows = &self.spatial_rows;
            let dtokens = gather(&d, rows, h);
            let dt = with_host::<T, _>(tokens, |xs| attention_block::backward_host(sp, saved, xs, &dtokens, self.spatial_dims(sp.heads)?))?;
            scatter(&mut d, &dt, rows, h);
        }
        tensor_like(d, x.dims(), x)
    }
}

impl CustomOp1 for EncoderLayer {
    fn name(&self) -> &'static str {
        "videobert-encoder-layer"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let out = match s.dtype() {
            DType::F32 => self.run::<f32>(slice(s, l)?)?,
            DType::F64 => self.run::<f64>(slice(s, l)?)?,
            dt => candle_core::bail!("fused encoder layer: unsupported dtype {dt:?}"),
        };
        Ok((out, l.shape().clone()))
    }

    fn bwd(&self, x: &Tensor, _res: &Tensor, dy: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(match x.dtype() {
            DType::F32 => self.grads::<f32>(x, dy)?,
            DType::F64 => self.grads::<f64>(x, dy)?,
            dt => candle_core::bail!("fused encoder layer: unsupported dtype {dt:?}"),
        }))
    }
}

/// One encoder layer on the flat state `[rows, H]` (`Geometry::rows`) with the joint attention's
/// additive key mask `[B, S]`; parameter gradients go to `param_grads`.
pub fn encoder_layer(state: &Tensor, mask: &Tensor, p: &LayerParams) -> Result<Tensor> {
    let g = &p.geometry;
    if state.dims() != [g.rows(), g.hidden] {
        candle_core::bail!("fused encoder layer: state {:?}, geometry wants [{}, {}]", state.dims(), g.rows(), g.hidden);
    }
    if g.video_offset + g.segments > g.seq || (g.regions > 0) != p.spatial.is_some() {
        candle_core::bail!("fused encoder layer: inconsistent geometry {g:?}");
    }
    let mask = mask.detach().contiguous()?;
    let spatial_rows = if p.spatial.is_some() { g.spatial_rows() } else { Vec::new() };
    state.contiguous()?.apply_op1(EncoderLayer { p: p.clone(), mask, spatial_rows, saved: Mutex::new(None) })
}
