//! The `builtin` frame descriptor: deterministic, needs no weights.
//!
//! Each frame (packed RGB, default 112×112) is cut into a `g×g` grid of regions. Per region:
//! - colour (20): hue histogram, 12 bins of 30°, weighted by saturation·value; saturation and value
//!   histograms, 4 bins each; fractions of the region's pixels (computed exactly in integers);
//! - shape (13): histogram of unsigned gradient orientation (Sobel on luma), 12 bins over [0°, 180°) centred on 0°, 15°, …
//!   weighted by magnitude, plus the mean gradient magnitude;
//! - motion (11, zeros on a video's first frame): histogram of normal-flow direction
//!   `−I_t ∇I / |∇I|²`, 8 bins centred on 0°, 45°, …, weighted by |I_t|·|∇I| (moving edges, not sensor noise);
//!   the region's Lucas–Kanade flow `(v_x, v_y)` squashed by tanh and the mean |I_t|, both scaled
//!   by the moving-edge energy (the histogram's sum).
//!
//! Bins are found by comparisons with precomputed tangents instead of atan2 (identical except for
//! float ties at bin edges; see the unit test). Colour is L2-normalised; shape and motion are divided by max(norm, floor) (floors 0.05 and 0.002)
//! so that flat or static regions stay near zero instead of amplifying noise. The 44 values are
//! concatenated and L2-normalised.
//!
//! Two versions, chosen by name and recorded in the shards: `builtin` (the default: the 44 values
//! above) and `builtin_v2` (opt-in: those 44,
//! then a 24-value object-centred shape block, [`crate::glimpse`] — 2×2 cells of orientation
//! histograms around what moves — soft-normalised with the shape floor; 68 in all, L2-normalised).
//! When `dim` differs from the version's size a fixed Gaussian random projection (seed 0x5eed,
//! Johnson–Lindenstrauss) maps them to `dim` values, L2-normalised again.
//!
//! Speed: every per-pixel pass is a straight vectorisable loop over a row, histograms included
//! (masked sums per bin in lanes, `LaneHistogram`, instead of a scatter), and the hot loops are
//! compiled twice, for baseline x86-64 and for AVX2, chosen at run time with identical results.

use crate::decode::{RgbFrame, RgbView};
use crate::glimpse::{ChangeMoments, GLIMPSE_DIM};
use crate::rng::Rng;

/// Size of the `builtin` (version 1) descriptor: colour, shape and motion of a region.
pub const RAW_DIM: usize = 44;
/// Size of the `builtin_v2` descriptor: version 1's 44 values and the glimpse.
pub const RAW_DIM_V2: usize = RAW_DIM + GLIMPSE_DIM;
const HUE_BINS: usize = 12;
const SV_BINS: usize = 4;
const ORIENT_BINS: usize = 12;
const MOTION_BINS: usize = 8;

/// Which builtin descriptor (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuiltinVersion {
    /// `builtin`: colour, shape and motion histograms of each region (44 values).
    V1,
    /// `builtin_v2`: those and the region's object-centred glimpse (68 values).
    V2,
}

impl BuiltinVersion {
    /// Every version, the default first.
    pub const ALL: [Self; 2] = [Self::V1, Self::V2];

    /// The extractor name users give and shard sets record.
    pub fn name(self) -> &'static str {
        match self {
            Self::V1 => "builtin",
            Self::V2 => "builtin_v2",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.name() == name)
    }

    /// The descriptor's own size (the default feature size).
    pub fn raw_dim(self) -> usize {
        match self {
            Self::V1 => RAW_DIM,
            Self::V2 => RAW_DIM_V2,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BuiltinOptions {
    /// Regions per side; R = grid².
    pub grid: usize,
    /// Output feature size F.
    pub dim: usize,
    /// Input frame size (square).
    pub size: u32,
    pub version: BuiltinVersion,
}

impl Default for BuiltinOptions {
    fn default() -> Self {
        Self::of(BuiltinVersion::V1)
    }
}

impl BuiltinOptions {
    /// The defaults for one version (2×2 regions, its own size, 112² frames).
    pub fn of(version: BuiltinVersion) -> Self {
        Self { grid: 2, dim: version.raw_dim(), size: 112, version }
    }
}

pub struct BuiltinExtractor {
    opts: BuiltinOptions,
    projection: Option<Vec<f32>>, // [dim, raw_dim]
    prev_luma: Option<Vec<f32>>,
}

/// Luma with a one-pixel replicated border, `(w + 2) × (h + 2)`: Sobel needs no bounds checks.
pub fn padded_luma(frame: RgbView<'_>) -> Vec<f32> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: `padded_luma_avx2` only needs AVX2, which this CPU has (checked just above).
        return unsafe { padded_luma_avx2(frame) };
    }
    padded_luma_generic(frame)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn padded_luma_avx2(frame: RgbView<'_>) -> Vec<f32> {
    padded_luma_generic(frame)
}

/// `padded_luma`, compiled once for the baseline and once for AVX2 (identical results, see
/// `region_sums`). `0.299·r + 0.587·g + 0.114·b` as three f32 products summed left to right.
#[inline(always)]
fn padded_luma_generic(frame: RgbView<'_>) -> Vec<f32> {
    let (w, h) = (frame.width as usize, frame.height as usize);
    let pw = w + 2;
    let mut out = vec![0f32; pw * (h + 2)];
    for y in 0..h {
        let row = &frame.data[y * w * 3..(y + 1) * w * 3];
        let dst = &mut out[(y + 1) * pw..(y + 2) * pw];
        for (d, p) in dst[1..w + 1].iter_mut().zip(row.chunks_exact(3)) {
            *d = 0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32;
        }
        dst[0] = dst[1];
        dst[w + 1] = dst[w];
    }
    out.copy_within(pw..2 * pw, 0);
    out.copy_within(h * pw..(h + 1) * pw, (h + 1) * pw);
    out
}

impl BuiltinExtractor {
    pub fn new(opts: BuiltinOptions) -> Self {
        let raw = opts.version.raw_dim();
        let projection = (opts.dim != raw).then(|| {
            let mut rng = Rng::new(0x5eed);
            let s = 1.0 / (opts.dim as f64).sqrt();
            (0..opts.dim * raw).map(|_| (rng.normal() * s) as f32).collect()
        });
        Self { opts, projection, prev_luma: None }
    }

    pub fn options(&self) -> BuiltinOptions {
        self.opts
    }

    /// Forget the previous frame (call between videos).
    pub fn reset(&mut self) {
        self.prev_luma = None;
    }

    /// Region features of one frame into `out` (`[grid², dim]`), using the previous frame for motion.
    pub fn frame_features(&mut self, frame: &RgbFrame, out: &mut [f32]) {
        let luma = padded_luma(frame.view());
        self.features_with(frame.view(), &luma, self.prev_luma.as_deref(), out);
        self.prev_luma = Some(luma);
    }

    /// Stateless form: `luma` / `prev` are `padded_luma` of this and the previous frame.
    pub fn features_with(&self, frame: RgbView<'_>, luma: &[f32], prev: Option<&[f32]>, out: &mut [f32]) {
        let (w, h) = (frame.width as usize, frame.height as usize);
        let g = self.opts.grid;
        assert_eq!(out.len(), g * g * self.opts.dim, "output buffer size");
        let mut rows = Rows::new(w.div_ceil(g));
        let v2 = self.opts.version == BuiltinVersion::V2;
        let change = if v2 { prev.map(|p| ChangeMoments::new(w, h, luma, p)) } else { None };
        let raw_dim = self.opts.version.raw_dim();
        let mut raw = [0f32; RAW_DIM_V2];
        for gy in 0..g {
            for gx in 0..g {
                let rect = (gx * w / g, (gx + 1) * w / g, gy * h / g, (gy + 1) * h / g);
                raw[..RAW_DIM].copy_from_slice(&region_descriptor(frame, luma, prev, rect, &mut rows));
                if v2 {
                    let mut glimpse = crate::glimpse::describe(w, luma, crate::glimpse::window(w, h, rect, change.as_ref()));
                    soft_normalize(&mut glimpse, SHAPE_FLOOR);
                    raw[RAW_DIM..].copy_from_slice(&glimpse);
                    l2_normalize(&mut raw);
                }
                let raw = &raw[..raw_dim];
                let r = gy * g + gx;
                let dst = &mut out[r * self.opts.dim..(r + 1) * self.opts.dim];
                match &self.projection {
                    None => dst.copy_from_slice(raw),
                    Some(p) => {
                        for (i, d) in dst.iter_mut().enumerate() {
                            *d = p[i * raw_dim..(i + 1) * raw_dim].iter().zip(raw).map(|(a, b)| a * b).sum();
                        }
                        l2_normalize(dst);
                    }
                }
            }
        }
    }
}

/// Below these block norms a block is scaled as if its norm were the floor (not blown up to 1).
const SHAPE_FLOOR: f32 = 0.05;
const MOTION_FLOOR: f32 = 0.002;

fn soft_normalize(v: &mut [f32], floor: f32) {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(floor);
    v.iter_mut().for_each(|x| *x /= n);
}

fn l2_normalize(v: &mut [f32]) {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n > 1e-12 {
        v.iter_mut().for_each(|x| *x /= n);
    }
}

/// ⌊v / d⌋ for v ∈ [−2d, 2d], d > 0, by comparisons (no division).
#[cfg(test)]
fn floor_div_2(v: i32, d: i32) -> i32 {
    (v >= 2 * d) as i32 + (v >= d) as i32 + (v >= 0) as i32 + (v >= -d) as i32 - 2
}

/// Hue bin (12 bins of 30°, bin 0 = [0°, 30°)) of an RGB pixel with chroma `d > 0`, computed exactly
/// in integers: hue/60 = ((g−b)/d mod 6 | (b−r)/d + 2 | (r−g)/d + 4) and bin = ⌊2·hue/60⌋.
/// Scalar reference for the test of `hue_bin_f32`.
#[cfg(test)]
fn hue_bin(r: i32, g: i32, b: i32, max: i32, d: i32) -> usize {
    let bin = if max == r {
        floor_div_2(2 * (g - b), d).rem_euclid(12)
    } else if max == g {
        4 + floor_div_2(2 * (b - r), d)
    } else {
        8 + floor_div_2(2 * (r - g), d)
    };
    bin.min(HUE_BINS as i32 - 1) as usize
}

/// `hue_bin` on integer-valued f32 without branches, for the vectorised row loop.
#[inline]
fn hue_bin_f32(r: f32, g: f32, b: f32, max: f32, d: f32) -> u32 {
    let fd2 = |v: f32| (v >= 2.0 * d) as i32 + (v >= d) as i32 + (v >= 0.0) as i32 + (v >= -d) as i32 - 2;
    let from_r = fd2(2.0 * (g - b));
    let from_r = from_r + 12 * (from_r < 0) as i32;
    let from_g = 4 + fd2(2.0 * (b - r));
    let from_b = 8 + fd2(2.0 * (r - g));
    let bin = if max == r {
        from_r
    } else if max == g {
        from_g
    } else {
        from_b
    };
    bin.min(HUE_BINS as i32 - 1) as u32
}

/// `orientation_bin` as branch-free arithmetic on u32, for the vectorised row loop.
#[inline]
pub(crate) fn orientation_bin_u32(gx: f32, gy: f32) -> u32 {
    let s = if gy < 0.0 { -1.0 } else { 1.0 };
    let (fx, fy) = (gx * s, gy * s);
    let a = fx.abs();
    let mut c = 0u32;
    for t in ORIENT_TAN {
        c += (fy >= a * t) as u32;
    }
    let neg = (fx < 0.0) as u32;
    let v = c + neg * (12 - 2 * c);
    v - 12 * (v >= 12) as u32
}

/// tan of the boundaries between the orientation bins centred on 0°, 15°, …, 90° (7.5°, 22.5°, …, 82.5°).
const ORIENT_TAN: [f32; 6] = [0.131_652_5, 0.414_213_57, 0.767_326_96, 1.303_225_4, 2.414_213_6, 7.595_754];
const TAN_22_5: f32 = 0.414_213_57;

/// Unsigned orientation bin of the gradient (gx, gy): 12 bins centred on 0°, 15°, …, 165°
/// (the same as ⌊θ/15° + ½⌋ mod 12 for θ = atan2(gy, gx) mod 180°, without the atan2).
/// Scalar reference for the test of `orientation_bin_u32`.
#[cfg(test)]
fn orientation_bin(gx: f32, gy: f32) -> usize {
    let (gx, gy) = if gy < 0.0 { (-gx, -gy) } else { (gx, gy) };
    let (a, b) = (gx.abs(), gy);
    let c: usize = ORIENT_TAN.iter().map(|&t| (b >= a * t) as usize).sum();
    let neg = (gx < 0.0) as usize;
    (c + neg * (12 - 2 * c)) % 12 // gx < 0: (12 − c) mod 12
}

/// Direction bin of (vx, vy): 8 bins centred on 0°, 45°, …, 315°. Branch-free (this runs for every
/// pixel, and the branches of a natural image are unpredictable).
#[inline]
fn direction_bin(vx: f32, vy: f32) -> usize {
    let (ax, ay) = (vx.abs(), vy.abs());
    let h = (ay <= ax * TAN_22_5) as usize; // near-horizontal: 0° or 180°
    let v = (ax < ay * TAN_22_5) as usize; // near-vertical: 90° or 270°
    let (sx, sy) = ((vx < 0.0) as usize, (vy < 0.0) as usize);
    let diagonal = 1 + 2 * (sx ^ sy) + 4 * sy;
    h * 4 * sx + v * (2 + 4 * sy) + (1 - h) * (1 - v) * diagonal
}

pub(crate) const SOBEL_SCALE: f32 = 1.0 / (8.0 * 255.0);

/// An integer-valued f32 in [0, 2²³) as u32, by the magic-number trick: adding 2²³ puts the
/// integer in the low mantissa bits. An add and an integer subtract, in vectors on any x86-64
/// (`as u32` and `as i32` saturate and handle NaN, which LLVM does one lane at a time).
#[inline(always)]
fn exact_u32(v: f32) -> u32 {
    const TWO_23: f32 = 8_388_608.0;
    (v + TWO_23).to_bits() - TWO_23.to_bits()
}

/// Width of the lane accumulators: 8 f32 or u32 = one AVX2 register (two SSE2 registers).
const LANES: usize = 8;

/// Sum of `a[i] * b[i]` in 8 independent lanes (so that it vectorises without reassociation flags).
#[inline(always)]
fn lane_dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for k in 0..LANES {
            acc[k] += x[k] * y[k];
        }
    }
    acc.iter().sum::<f32>() + tail
}

#[inline(always)]
fn lane_sum(a: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    let c = a.chunks_exact(LANES);
    let tail: f32 = c.remainder().iter().sum();
    for x in c {
        for k in 0..LANES {
            acc[k] += x[k];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// A value of a lane accumulator: `f32` or `u32`.
trait Lane: Copy + Default + std::ops::Add<Output = Self> {
    /// `self` if `keep`, else 0, as a bit mask (no branch, so the lane loops vectorise).
    fn masked(self, keep: bool) -> Self;
}

impl Lane for u32 {
    #[inline(always)]
    fn masked(self, keep: bool) -> Self {
        self & 0u32.wrapping_sub(keep as u32)
    }
}

impl Lane for f32 {
    #[inline(always)]
    fn masked(self, keep: bool) -> Self {
        f32::from_bits(self.to_bits().masked(keep))
    }
}

/// A histogram of `B` bins kept as `B` lane vectors: bin `b`, lane `k` sums the weights of the
/// pixels `i ≡ k (mod LANES)` that fall in bin `b`.
#[derive(Clone, Copy)]
struct LaneHistogram<T, const B: usize>([[T; LANES]; B]);

impl<T: Lane, const B: usize> LaneHistogram<T, B> {
    fn new() -> Self {
        Self([[T::default(); LANES]; B])
    }

    /// `hist[bins[i]] += w[i]` without a scatter. A scalar scatter cannot vectorise, and when
    /// neighbouring pixels share a bin (the flat areas of real video) every add waits for the
    /// previous store to the same counter. Here each bin is a masked sum over the row instead,
    /// `acc[b] += where(bins == b, w, 0)`: a compare, an and and an add per bin and lane group, with
    /// no dependency between pixels. Integer weights stay exact; float sums change order only.
    #[inline(always)]
    fn add(&mut self, bins: &[u32], w: &[T]) {
        let w = &w[..bins.len()];
        let (cb, cw) = (bins.chunks_exact(LANES), w.chunks_exact(LANES));
        let (tail_bins, tail_w) = (cb.remainder(), cw.remainder());
        for (b, acc) in self.0.iter_mut().enumerate() {
            let mut a = *acc; // in registers for the whole row
            for (bb, ww) in cb.clone().zip(cw.clone()) {
                let (bb, ww): (&[u32; LANES], &[T; LANES]) = (bb.try_into().unwrap(), ww.try_into().unwrap());
                for k in 0..LANES {
                    a[k] = a[k] + ww[k].masked(bb[k] == b as u32);
                }
            }
            *acc = a;
        }
        for (k, (&bin, &wt)) in tail_bins.iter().zip(tail_w).enumerate() {
            self.0[bin as usize][k] = self.0[bin as usize][k] + wt;
        }
    }

    /// The `B` bins (lanes summed in a fixed order: deterministic).
    fn totals(&self) -> [T; B] {
        self.0.map(|lanes| lanes.into_iter().fold(T::default(), |s, v| s + v))
    }
}

/// Counts of a small value `v` ∈ [0, B) (a saturation or value bin) as the cumulative counts
/// `#(v > j)` for j < B − 1, in lanes: one compare and one add per threshold, no scatter. The
/// histogram is their differences (`histogram`).
#[derive(Clone, Copy)]
struct LaneCumulativeCounts<const T: usize>([[u32; LANES]; T]);

impl<const T: usize> LaneCumulativeCounts<T> {
    fn new() -> Self {
        Self([[0; LANES]; T])
    }

    #[inline(always)]
    fn add(&mut self, v: &[u32]) {
        let c = v.chunks_exact(LANES);
        let tail = c.remainder();
        for (j, acc) in self.0.iter_mut().enumerate() {
            let mut a = *acc;
            for vv in c.clone() {
                let vv: &[u32; LANES] = vv.try_into().unwrap();
                for k in 0..LANES {
                    a[k] += (vv[k] > j as u32) as u32;
                }
            }
            for (k, &x) in tail.iter().enumerate() {
                a[k] += (x > j as u32) as u32;
            }
            *acc = a;
        }
    }

    /// Histogram of `n` values in `T + 1` bins: `#(v = j) = #(v > j − 1) − #(v > j)`.
    fn histogram<const B: usize>(&self, n: u32) -> [u32; B] {
        assert_eq!(B, T + 1);
        let above: [u32; T] = self.0.map(|lanes| lanes.iter().sum());
        std::array::from_fn(|j| if j == 0 { n } else { above[j - 1] } - if j < T { above[j] } else { 0 })
    }
}

/// Per-row scratch buffers: every pass over a row is a straight loop over equal-length slices (no
/// branches, no bounds checks), which the compiler vectorises, histograms included
/// (`LaneHistogram`, `LaneCumulativeCounts`).
struct Rows {
    gx: Vec<f32>,
    gy: Vec<f32>,
    mag: Vec<f32>,
    ow: Vec<f32>,
    obin: Vec<u32>,
    it: Vec<f32>,
    abs_it: Vec<f32>,
    dw: Vec<f32>,
    dbin: Vec<u32>,
    rgb: [Vec<f32>; 3],
    hbin: Vec<u32>,
    chroma: Vec<u32>,
    sat: Vec<u32>,
    val: Vec<u32>,
}

impl Rows {
    fn new(len: usize) -> Self {
        let f = || vec![0f32; len];
        let u = || vec![0u32; len];
        Self {
            gx: f(),
            gy: f(),
            mag: f(),
            ow: f(),
            obin: u(),
            it: f(),
            abs_it: f(),
            dw: f(),
            dbin: u(),
            rgb: [vec![0.0; len], vec![0.0; len], vec![0.0; len]],
            hbin: u(),
            chroma: u(),
            sat: u(),
            val: u(),
        }
    }
}

/// Everything a region's descriptor is computed from, summed over its pixels.
struct RegionSums {
    /// Sum of chroma `max − min` (0–255) per hue bin: exact.
    hue: LaneHistogram<u32, HUE_BINS>,
    /// Saturation and value bins (0–3) as cumulative counts: exact.
    sat: LaneCumulativeCounts<{ SV_BINS - 1 }>,
    val: LaneCumulativeCounts<{ SV_BINS - 1 }>,
    /// Gradient magnitude per orientation bin, and in total.
    orient: LaneHistogram<f32, ORIENT_BINS>,
    mag: f32,
    /// Moving-edge weight per direction bin; the Lucas–Kanade sums; Σ|I_t|.
    direction: LaneHistogram<f32, MOTION_BINS>,
    lk: [f32; 5],
    abs_t: f32,
}

/// Region rectangle `(x0, x1, y0, y1)` in pixels, x1 and y1 excluded.
type Rect = (usize, usize, usize, usize);

/// The sums of one region, row by row. Always inlined into `region_sums` and its AVX2 copy, so the
/// same code is compiled twice (see `region_sums`).
#[inline(always)]
fn region_sums_generic(frame: RgbView<'_>, luma: &[f32], prev: Option<&[f32]>, (x0, x1, y0, y1): Rect, rw: &mut Rows) -> RegionSums {
    let mut s = RegionSums {
        hue: LaneHistogram::new(),
        sat: LaneCumulativeCounts::new(),
        val: LaneCumulativeCounts::new(),
        orient: LaneHistogram::new(),
        mag: 0.0,
        direction: LaneHistogram::new(),
        lk: [0.0; 5],
        abs_t: 0.0,
    };
    let w = frame.width as usize;
    let pw = w + 2;
    let l = x1 - x0;
    for y in y0..y1 {
        // Padded luma rows above / at / below; column x of the region is padded column x + 1.
        let row = |r: usize, shift: usize| &luma[r * pw + x0 + shift..r * pw + x0 + shift + l];
        let (u0, u1, u2) = (row(y, 0), row(y, 1), row(y, 2));
        let (m0, m1, m2) = (row(y + 1, 0), row(y + 1, 1), row(y + 1, 2));
        let (d0, d1, d2) = (row(y + 2, 0), row(y + 2, 1), row(y + 2, 2));
        let Rows { gx, gy, mag, ow, obin, .. } = &mut *rw;
        let (gx, gy, mag, ow, obin) = (&mut gx[..l], &mut gy[..l], &mut mag[..l], &mut ow[..l], &mut obin[..l]);
        for i in 0..l {
            let x = ((u2[i] + 2.0 * m2[i] + d2[i]) - (u0[i] + 2.0 * m0[i] + d0[i])) * SOBEL_SCALE;
            let yv = ((d0[i] + 2.0 * d1[i] + d2[i]) - (u0[i] + 2.0 * u1[i] + u2[i])) * SOBEL_SCALE;
            let m = (x * x + yv * yv).sqrt();
            gx[i] = x;
            gy[i] = yv;
            mag[i] = m;
            ow[i] = if m > 1e-4 { m } else { 0.0 };
            obin[i] = orientation_bin_u32(x, yv);
        }
        s.orient.add(obin, ow);
        s.mag += lane_sum(mag);

        if let Some(p) = prev {
            let pm = &p[(y + 1) * pw + x0 + 1..(y + 1) * pw + x0 + 1 + l];
            let Rows { gx, gy, mag, it, abs_it, dw, dbin, .. } = &mut *rw;
            let (gx, gy, mag, it, abs_it, dw, dbin) = (&gx[..l], &gy[..l], &mag[..l], &mut it[..l], &mut abs_it[..l], &mut dw[..l], &mut dbin[..l]);
            for i in 0..l {
                let t = (m1[i] - pm[i]) * (1.0 / 255.0);
                let s = if t > 0.0 { -1.0 } else { 1.0 };
                let at = t.abs();
                it[i] = t;
                abs_it[i] = at;
                // Normal flow −I_t ∇I / |∇I|² points along −sign(I_t)·∇I; weighted by |I_t|·|∇I|
                // where both are above noise level.
                let counts = (mag[i] * mag[i] > 1e-4) & (at > 1e-3);
                dw[i] = if counts { at * mag[i] } else { 0.0 };
                dbin[i] = direction_bin(s * gx[i], s * gy[i]) as u32;
            }
            s.direction.add(dbin, dw);
            s.abs_t += lane_sum(abs_it);
            let it = &*it;
            for (acc, (a, b)) in s.lk.iter_mut().zip([(gx, gx), (gx, gy), (gy, gy), (gx, it), (gy, it)]) {
                *acc += lane_dot(a, b);
            }
        }

        // Colour, in exact integer arithmetic on the 8-bit values.
        let pixels = &frame.data[(y * w + x0) * 3..(y * w + x1) * 3];
        let Rows { rgb, hbin, chroma, sat, val, .. } = &mut *rw;
        let [rr, gg, bb] = rgb;
        for (i, p) in pixels.chunks_exact(3).enumerate() {
            rr[i] = p[0] as f32;
            gg[i] = p[1] as f32;
            bb[i] = p[2] as f32;
        }
        // Small integers held in f32 are exact, and f32 max/min/compare vectorise on baseline
        // x86-64 (SSE2 has no 32-bit integer max/min): the same exact integer arithmetic, in floats.
        let (rr, gg, bb) = (&rr[..l], &gg[..l], &bb[..l]);
        let (hbin, chroma, sat, val) = (&mut hbin[..l], &mut chroma[..l], &mut sat[..l], &mut val[..l]);
        for i in 0..l {
            let (r, g, b) = (rr[i], gg[i], bb[i]);
            let max = r.max(g).max(b);
            let d = max - r.min(g).min(b);
            hbin[i] = hue_bin_f32(r, g, b, max, d.max(1.0));
            chroma[i] = exact_u32(d); // saturation · value = d / 255 (0 for grays)
                                      // ⌊4·d/max⌋ and ⌊4·max/255⌋ (capped at 3) by comparisons (d = 0 ⇒ 0).
            let some = (d > 0.0) as u32;
            sat[i] = some * ((4.0 * d >= max) as u32 + (2.0 * d >= max) as u32 + (4.0 * d >= 3.0 * max) as u32);
            val[i] = (max >= 64.0) as u32 + (max >= 128.0) as u32 + (max >= 192.0) as u32;
        }
        s.hue.add(hbin, chroma);
        s.sat.add(sat);
        s.val.add(val);
    }
    s
}

/// `region_sums_generic`, compiled for AVX2 when the CPU has it (checked at run time, since the
/// binaries are distributed for baseline x86-64) and for the baseline otherwise. Both copies do the
/// same IEEE operations in the same order (Rust never fuses a multiply and an add by itself), so
/// the results are identical; only the vector width differs.
fn region_sums(frame: RgbView<'_>, luma: &[f32], prev: Option<&[f32]>, rect: Rect, rows: &mut Rows) -> RegionSums {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: `region_sums_avx2` only needs AVX2, which this CPU has (checked just above).
        return unsafe { region_sums_avx2(frame, luma, prev, rect, rows) };
    }
    region_sums_generic(frame, luma, prev, rect, rows)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn region_sums_avx2(frame: RgbView<'_>, luma: &[f32], prev: Option<&[f32]>, rect: Rect, rows: &mut Rows) -> RegionSums {
    region_sums_generic(frame, luma, prev, rect, rows)
}

fn region_descriptor(frame: RgbView<'_>, luma: &[f32], prev: Option<&[f32]>, rect: Rect, rw: &mut Rows) -> [f32; RAW_DIM] {
    let s = region_sums(frame, luma, prev, rect, rw);
    let (x0, x1, y0, y1) = rect;
    let pixels = ((x1 - x0) * (y1 - y0)) as u32;
    let n = pixels.max(1) as f32;
    let mut colour = [0f32; HUE_BINS + 2 * SV_BINS];
    for (c, v) in colour.iter_mut().zip(s.hue.totals()) {
        *c = v as f32 / (255.0 * n);
    }
    let sv = [s.sat.histogram::<SV_BINS>(pixels), s.val.histogram::<SV_BINS>(pixels)];
    for (c, &v) in colour[HUE_BINS..].iter_mut().zip(sv.as_flattened()) {
        *c = v as f32 / n;
    }
    let mut shape = [0f32; ORIENT_BINS + 1];
    shape[..ORIENT_BINS].copy_from_slice(&s.orient.totals());
    shape[ORIENT_BINS] = s.mag;
    shape.iter_mut().for_each(|c| *c /= n);
    let mut motion = [0f32; MOTION_BINS + 3];
    if prev.is_some() {
        motion[..MOTION_BINS].copy_from_slice(&s.direction.totals());
        motion[..MOTION_BINS].iter_mut().for_each(|c| *c /= n);
        // Moving-edge energy: scales the region flow so static or noisy regions contribute ~0.
        let energy: f32 = motion[..MOTION_BINS].iter().sum();
        let [sxx, sxy, syy, sxt, syt] = s.lk;
        let det = sxx * syy - sxy * sxy;
        if det.abs() > 1e-9 {
            let vx = -(syy * sxt - sxy * syt) / det;
            let vy = -(sxx * syt - sxy * sxt) / det;
            motion[MOTION_BINS] = vx.tanh() * energy;
            motion[MOTION_BINS + 1] = vy.tanh() * energy;
        }
        motion[MOTION_BINS + 2] = s.abs_t / n * energy.min(1.0);
    }
    l2_normalize(&mut colour);
    // Shape and motion keep their strength below a floor, so a flat or static region does not
    // blow its noise up to the size of a real edge or movement.
    soft_normalize(&mut shape, SHAPE_FLOOR);
    soft_normalize(&mut motion, MOTION_FLOOR);
    let mut out = [0f32; RAW_DIM];
    out[..20].copy_from_slice(&colour);
    out[20..33].copy_from_slice(&shape);
    out[33..].copy_from_slice(&motion);
    l2_normalize(&mut out);
    out
}

/// Builtin features of consecutive packed-RGB frames (`[n, h, w, 3]` bytes) → `[n, grid², dim]`.
/// Motion uses the previous frame of the sequence, exactly as during tokenization.
pub fn features_of_frames(rgb: &[u8], n: usize, width: u32, height: u32, opts: BuiltinOptions) -> crate::error::Result<Vec<f32>> {
    let frame_len = width as usize * height as usize * 3;
    if rgb.len() != n * frame_len {
        return Err(crate::error::Error::input("rgb", format!("expected {} bytes ([n={n}, h={height}, w={width}, 3]), got {}", n * frame_len, rgb.len())));
    }
    if opts.grid == 0 || width < opts.grid as u32 || height < opts.grid as u32 {
        return Err(crate::error::Error::config("grid", format!("must be in [1, min(width, height)], got {}", opts.grid)));
    }
    let per = opts.grid * opts.grid * opts.dim;
    let ex = BuiltinExtractor::new(opts);
    let frames: Vec<RgbView<'_>> = rgb.chunks_exact(frame_len).map(|data| RgbView { width, height, data }).collect();
    // Frames are independent given their luma and the previous frame's: blocks of frames run on
    // all cores, each block recomputing the luma of the frame before it (same result as in order).
    use rayon::prelude::*;
    const BLOCK: usize = 16;
    let mut out = vec![0f32; n * per];
    out.par_chunks_mut((BLOCK * per).max(1)).enumerate().for_each(|(b, dst)| {
        let first = b * BLOCK;
        let mut prev = (first > 0).then(|| padded_luma(frames[first - 1]));
        for (j, d) in dst.chunks_mut(per).enumerate() {
            let luma = padded_luma(frames[first + j]);
            ex.features_with(frames[first + j], &luma, prev.as_deref(), d);
            prev = Some(luma);
        }
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_and_comparison_bins_match_the_trigonometric_definition() {
        let mut rng = Rng::new(9);
        for _ in 0..20_000 {
            let (r, g, b) = (rng.below(256) as i32, rng.below(256) as i32, rng.below(256) as i32);
            let max = r.max(g).max(b);
            let d = max - r.min(g).min(b);
            if d > 0 {
                let (rf, gf, bf) = (r as f64 / 255.0, g as f64 / 255.0, b as f64 / 255.0);
                let df = d as f64 / 255.0;
                let hue = if max == r {
                    60.0 * ((gf - bf) / df).rem_euclid(6.0)
                } else if max == g {
                    60.0 * ((bf - rf) / df + 2.0)
                } else {
                    60.0 * ((rf - gf) / df + 4.0)
                };
                let want = ((hue / 30.0 + 1e-9).floor() as usize).min(11);
                assert_eq!(hue_bin(r, g, b, max, d), want, "rgb {r} {g} {b} hue {hue}");
                assert_eq!(hue_bin_f32(r as f32, g as f32, b as f32, max as f32, d as f32) as usize, want, "rgb {r} {g} {b} hue {hue}");
            }
            let (gx, gy) = (rng.normal() as f32, rng.normal() as f32);
            let theta = (gy as f64).atan2(gx as f64).rem_euclid(std::f64::consts::PI);
            let want = ((theta / std::f64::consts::PI * 12.0 + 0.5) as usize) % 12;
            let frac = (theta / std::f64::consts::PI * 12.0 + 0.5).fract();
            if frac > 1e-4 && frac < 1.0 - 1e-4 {
                assert_eq!(orientation_bin(gx, gy), want, "gradient {gx} {gy}");
                assert_eq!(orientation_bin_u32(gx, gy) as usize, want, "gradient {gx} {gy}");
            }
            let phi = (gy as f64).atan2(gx as f64).rem_euclid(2.0 * std::f64::consts::PI);
            let want = ((phi / (2.0 * std::f64::consts::PI) * 8.0 + 0.5) as usize) % 8;
            let frac = (phi / (2.0 * std::f64::consts::PI) * 8.0 + 0.5).fract();
            if frac > 1e-4 && frac < 1.0 - 1e-4 {
                assert_eq!(direction_bin(gx, gy), want, "direction {gx} {gy}");
            }
        }
    }

    #[test]
    fn lane_histograms_equal_the_scalar_scatter() {
        let mut rng = Rng::new(3);
        for len in [0, 1, 7, 8, 9, 56, 61] {
            // Long runs of one bin, as in flat areas, and random bins.
            let bins: Vec<u32> = (0..len).map(|i| if i < len / 2 { 5 } else { rng.below(HUE_BINS) as u32 }).collect();
            let wu: Vec<u32> = (0..len).map(|_| rng.below(256) as u32).collect();
            let wf: Vec<f32> = wu.iter().map(|&v| v as f32 / 7.0).collect();
            let (mut want_u, mut want_f) = ([0u32; HUE_BINS], [0f64; HUE_BINS]);
            for i in 0..len {
                want_u[bins[i] as usize] += wu[i];
                want_f[bins[i] as usize] += wf[i] as f64;
            }
            let (mut hu, mut hf) = (LaneHistogram::<u32, HUE_BINS>::new(), LaneHistogram::<f32, HUE_BINS>::new());
            hu.add(&bins, &wu);
            hf.add(&bins, &wf);
            assert_eq!(hu.totals(), want_u, "len {len}");
            for (got, want) in hf.totals().iter().zip(want_f) {
                assert!((*got as f64 - want).abs() < 1e-4 * (1.0 + want), "len {len}: {got} vs {want}");
            }
            let small: Vec<u32> = bins.iter().map(|&b| b % SV_BINS as u32).collect();
            let mut want = [0u32; SV_BINS];
            small.iter().for_each(|&v| want[v as usize] += 1);
            let mut c = LaneCumulativeCounts::<{ SV_BINS - 1 }>::new();
            c.add(&small);
            assert_eq!(c.histogram::<SV_BINS>(len as u32), want, "len {len}");
        }
    }

    /// Random pixels and a frame of flat bars with a gradient band, of a width that leaves tails.
    #[cfg(target_arch = "x86_64")]
    fn test_frames(w: usize, h: usize) -> Vec<RgbFrame> {
        let mut rng = Rng::new(4);
        let random = (0..w * h * 3).map(|_| rng.below(256) as u8).collect();
        let flat = (0..h)
            .flat_map(|y| (0..w).flat_map(move |x| if y % 20 < 5 { [(x * 255 / w) as u8; 3] } else { [(x * 37 % 256) as u8, 200, (y * 3) as u8] }))
            .collect();
        [random, flat].into_iter().map(|data| RgbFrame { width: w as u32, height: h as u32, data }).collect()
    }

    /// The AVX2 copies do the same operations in the same order: bit for bit the baseline's results.
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn avx2_and_baseline_copies_agree_bit_for_bit() {
        if !std::arch::is_x86_feature_detected!("avx2") {
            return;
        }
        let frames = test_frames(61, 45);
        let prev = padded_luma_generic(frames[0].view());
        for f in &frames {
            let luma = padded_luma_generic(f.view());
            // SAFETY: AVX2 is available (checked above).
            assert_eq!(luma, unsafe { padded_luma_avx2(f.view()) });
            for rect in [(0, 30, 0, 22), (30, 61, 22, 45)] {
                let n = ((rect.1 - rect.0) * (rect.3 - rect.2)) as u32;
                let bits = |s: RegionSums| {
                    let mut v: Vec<u32> = s.hue.totals().to_vec();
                    v.extend(s.sat.histogram::<SV_BINS>(n));
                    v.extend(s.val.histogram::<SV_BINS>(n));
                    let floats = s.orient.totals().into_iter().chain(s.direction.totals()).chain(s.lk).chain([s.mag, s.abs_t]);
                    v.extend(floats.map(f32::to_bits));
                    v
                };
                let mut rows = Rows::new(31);
                let base = region_sums_generic(f.view(), &luma, Some(&prev), rect, &mut rows);
                // SAFETY: AVX2 is available (checked above).
                let avx2 = unsafe { region_sums_avx2(f.view(), &luma, Some(&prev), rect, &mut rows) };
                assert_eq!(bits(base), bits(avx2));
            }
        }
    }
}
