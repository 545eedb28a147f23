//! The `builtin` frame descriptor: deterministic, needs no weights.
//!
//! Each frame (packed RGB, default 112×112) is cut into a `g×g` grid of regions. Per region:
//! - colour (20): hue histogram, 12 bins, weighted by saturation·value; saturation and value
//!   histograms, 4 bins each; fractions of the region's pixels;
//! - shape (13): histogram of unsigned gradient orientation (Sobel on luma), 12 bins over [0°, 180°) centred on 0°, 15°, …
//!   weighted by magnitude, plus the mean gradient magnitude;
//! - motion (11, zeros on a video's first frame): histogram of normal-flow direction
//!   `−I_t ∇I / |∇I|²`, 8 bins centred on 0°, 45°, …, weighted by |I_t|·|∇I| (moving edges, not sensor noise);
//!   the region's Lucas–Kanade flow `(v_x, v_y)` squashed by tanh and the mean |I_t|, both scaled
//!   by the moving-edge energy (the histogram's sum).
//! Colour is L2-normalised; shape and motion are divided by max(norm, floor) (floors 0.05 and 0.002)
//! so that flat or static regions stay near zero instead of amplifying noise. The 44 values are
//! concatenated and L2-normalised. When `dim != 44` a fixed Gaussian random projection (seed 0x5eed,
//! Johnson–Lindenstrauss) maps them to `dim` values, L2-normalised again.

use super::decode::RgbFrame;
use crate::rng::Rng;

pub const RAW_DIM: usize = 44;
const HUE_BINS: usize = 12;
const SV_BINS: usize = 4;
const ORIENT_BINS: usize = 12;
const MOTION_BINS: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BuiltinOptions {
    /// Regions per side; R = grid².
    pub grid: usize,
    /// Output feature size F.
    pub dim: usize,
    /// Input frame size (square).
    pub size: u32,
}

impl Default for BuiltinOptions {
    fn default() -> Self {
        Self { grid: 2, dim: RAW_DIM, size: 112 }
    }
}

pub struct BuiltinExtractor {
    opts: BuiltinOptions,
    projection: Option<Vec<f32>>, // [dim, RAW_DIM]
    prev_luma: Option<Vec<f32>>,
}

impl BuiltinExtractor {
    pub fn new(opts: BuiltinOptions) -> Self {
        let projection = (opts.dim != RAW_DIM).then(|| {
            let mut rng = Rng::new(0x5eed);
            let s = 1.0 / (opts.dim as f64).sqrt();
            (0..opts.dim * RAW_DIM).map(|_| (rng.normal() * s) as f32).collect()
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
        let (w, h) = (frame.width as usize, frame.height as usize);
        let g = self.opts.grid;
        assert_eq!(out.len(), g * g * self.opts.dim, "output buffer size");
        let luma: Vec<f32> = frame
            .data
            .chunks_exact(3)
            .map(|p| 0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32)
            .collect();
        let prev = self.prev_luma.as_deref();
        for gy in 0..g {
            for gx in 0..g {
                let (x0, x1) = (gx * w / g, (gx + 1) * w / g);
                let (y0, y1) = (gy * h / g, (gy + 1) * h / g);
                let raw = region_descriptor(frame, &luma, prev, w, h, (x0, x1, y0, y1));
                let r = gy * g + gx;
                let dst = &mut out[r * self.opts.dim..(r + 1) * self.opts.dim];
                match &self.projection {
                    None => dst.copy_from_slice(&raw),
                    Some(p) => {
                        for (i, d) in dst.iter_mut().enumerate() {
                            *d = p[i * RAW_DIM..(i + 1) * RAW_DIM].iter().zip(&raw).map(|(a, b)| a * b).sum();
                        }
                        l2_normalize(dst);
                    }
                }
            }
        }
        self.prev_luma = Some(luma);
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

/// Bin of a circular quantity `turns` in [0, 1) with bin 0 *centred* on 0, so that the axis
/// directions (0°, 90°, …) fall in the middle of a bin rather than on a boundary.
fn centred_bin(turns: f32, bins: usize) -> usize {
    ((turns * bins as f32 + 0.5) as usize) % bins
}

fn rgb_to_hsv(r: f32, g: f32, b: f32) -> (f32, f32, f32) {
    let max = r.max(g).max(b);
    let min = r.min(g).min(b);
    let d = max - min;
    let h = if d <= 1e-6 {
        0.0
    } else if max == r {
        60.0 * ((g - b) / d).rem_euclid(6.0)
    } else if max == g {
        60.0 * ((b - r) / d + 2.0)
    } else {
        60.0 * ((r - g) / d + 4.0)
    };
    let s = if max <= 1e-6 { 0.0 } else { d / max };
    (h, s, max)
}

fn region_descriptor(frame: &RgbFrame, luma: &[f32], prev: Option<&[f32]>, w: usize, h: usize, (x0, x1, y0, y1): (usize, usize, usize, usize)) -> [f32; RAW_DIM] {
    let mut colour = [0f32; HUE_BINS + 2 * SV_BINS];
    let mut shape = [0f32; ORIENT_BINS + 1];
    let mut motion = [0f32; MOTION_BINS + 3];
    let n = ((x1 - x0) * (y1 - y0)).max(1) as f32;
    let (mut sxx, mut sxy, mut syy, mut sxt, mut syt, mut abs_t) = (0f32, 0f32, 0f32, 0f32, 0f32, 0f32);
    let at = |x: usize, y: usize| luma[y.min(h - 1) * w + x.min(w - 1)];
    for y in y0..y1 {
        for x in x0..x1 {
            let i = y * w + x;
            let p = &frame.data[i * 3..i * 3 + 3];
            let (hue, s, v) = rgb_to_hsv(p[0] as f32 / 255.0, p[1] as f32 / 255.0, p[2] as f32 / 255.0);
            colour[((hue / 360.0 * HUE_BINS as f32) as usize).min(HUE_BINS - 1)] += s * v;
            colour[HUE_BINS + ((s * SV_BINS as f32) as usize).min(SV_BINS - 1)] += 1.0;
            colour[HUE_BINS + SV_BINS + ((v * SV_BINS as f32) as usize).min(SV_BINS - 1)] += 1.0;

            // Sobel gradients (borders clamp).
            let (xm, xp, ym, yp) = (x.saturating_sub(1), x + 1, y.saturating_sub(1), y + 1);
            let gx = (at(xp, ym) + 2.0 * at(xp, y) + at(xp, yp)) - (at(xm, ym) + 2.0 * at(xm, y) + at(xm, yp));
            let gy = (at(xm, yp) + 2.0 * at(x, yp) + at(xp, yp)) - (at(xm, ym) + 2.0 * at(x, ym) + at(xp, ym));
            let (gx, gy) = (gx / (8.0 * 255.0), gy / (8.0 * 255.0));
            let mag2 = gx * gx + gy * gy;
            let mag = mag2.sqrt();
            if mag > 1e-4 {
                let theta = gy.atan2(gx).rem_euclid(std::f32::consts::PI);
                shape[centred_bin(theta / std::f32::consts::PI, ORIENT_BINS)] += mag;
            }
            shape[ORIENT_BINS] += mag;

            if let Some(prev) = prev {
                let it = (luma[i] - prev[i]) / 255.0;
                abs_t += it.abs();
                sxx += gx * gx;
                sxy += gx * gy;
                syy += gy * gy;
                sxt += gx * it;
                syt += gy * it;
                if mag2 > 1e-4 && it.abs() > 1e-3 {
                    // Weighted by |I_t|·|∇I|: moving edges count, sensor noise (weak gradients) barely.
                    let (vx, vy) = (-it * gx / mag2, -it * gy / mag2);
                    let phi = vy.atan2(vx).rem_euclid(2.0 * std::f32::consts::PI);
                    motion[centred_bin(phi / (2.0 * std::f32::consts::PI), MOTION_BINS)] += it.abs() * mag;
                }
            }
        }
    }
    colour.iter_mut().for_each(|c| *c /= n);
    shape.iter_mut().for_each(|c| *c /= n);
    if prev.is_some() {
        motion[..MOTION_BINS].iter_mut().for_each(|c| *c /= n);
        // Moving-edge energy: scales the region flow so static or noisy regions contribute ~0.
        let energy: f32 = motion[..MOTION_BINS].iter().sum();
        let det = sxx * syy - sxy * sxy;
        if det.abs() > 1e-9 {
            let vx = -(syy * sxt - sxy * syt) / det;
            let vy = -(sxx * syt - sxy * sxt) / det;
            motion[MOTION_BINS] = vx.tanh() * energy;
            motion[MOTION_BINS + 1] = vy.tanh() * energy;
        }
        motion[MOTION_BINS + 2] = abs_t / n * energy.min(1.0);
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
