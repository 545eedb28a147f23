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
//! Bins are found by comparisons with precomputed tangents instead of atan2 (identical except for
//! float ties at bin edges; see the unit test). Colour is L2-normalised; shape and motion are divided by max(norm, floor) (floors 0.05 and 0.002)
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

/// Luma with a one-pixel replicated border, `(w + 2) × (h + 2)`: Sobel needs no bounds checks.
pub fn padded_luma(frame: &RgbFrame) -> Vec<f32> {
    let (w, h) = (frame.width as usize, frame.height as usize);
    let pw = w + 2;
    let mut out = vec![0f32; pw * (h + 2)];
    for y in 0..h {
        let row = &frame.data[y * w * 3..(y + 1) * w * 3];
        let dst = &mut out[(y + 1) * pw..(y + 2) * pw];
        for (x, p) in row.chunks_exact(3).enumerate() {
            dst[x + 1] = 0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32;
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
        let luma = padded_luma(frame);
        self.features_with(frame, &luma, self.prev_luma.as_deref(), out);
        self.prev_luma = Some(luma);
    }

    /// Stateless form: `luma` / `prev` are `padded_luma` of this and the previous frame.
    pub fn features_with(&self, frame: &RgbFrame, luma: &[f32], prev: Option<&[f32]>, out: &mut [f32]) {
        let (w, h) = (frame.width as usize, frame.height as usize);
        let g = self.opts.grid;
        assert_eq!(out.len(), g * g * self.opts.dim, "output buffer size");
        for gy in 0..g {
            for gx in 0..g {
                let rect = (gx * w / g, (gx + 1) * w / g, gy * h / g, (gy + 1) * h / g);
                let raw = region_descriptor(frame, luma, prev, w, rect);
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
#[inline]
fn floor_div_2(v: i32, d: i32) -> i32 {
    (v >= 2 * d) as i32 + (v >= d) as i32 + (v >= 0) as i32 + (v >= -d) as i32 - 2
}

/// Hue bin (12 bins of 30°, bin 0 = [0°, 30°)) of an RGB pixel with chroma `d > 0`, computed exactly
/// in integers: hue/60 = ((g−b)/d mod 6 | (b−r)/d + 2 | (r−g)/d + 4) and bin = ⌊2·hue/60⌋.
#[inline]
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

/// tan of the boundaries between the orientation bins centred on 0°, 15°, …, 90° (7.5°, 22.5°, …, 82.5°).
const ORIENT_TAN: [f32; 6] = [0.131_652_5, 0.414_213_57, 0.767_326_96, 1.303_225_4, 2.414_213_6, 7.595_754];
const TAN_22_5: f32 = 0.414_213_57;

/// Unsigned orientation bin of the gradient (gx, gy): 12 bins centred on 0°, 15°, …, 165°
/// (the same as ⌊θ/15° + ½⌋ mod 12 for θ = atan2(gy, gx) mod 180°, without the atan2).
#[inline]
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

const SOBEL_SCALE: f32 = 1.0 / (8.0 * 255.0);

fn region_descriptor(frame: &RgbFrame, luma: &[f32], prev: Option<&[f32]>, w: usize, (x0, x1, y0, y1): (usize, usize, usize, usize)) -> [f32; RAW_DIM] {
    // Integer accumulators: hue weights (sums of chroma d), saturation and value counts.
    let mut hue = [0u32; HUE_BINS];
    let mut sv = [0u32; 2 * SV_BINS];
    let mut shape = [0f32; ORIENT_BINS + 1];
    let mut motion = [0f32; MOTION_BINS + 3];
    let n = ((x1 - x0) * (y1 - y0)).max(1) as f32;
    let (mut sxx, mut sxy, mut syy, mut sxt, mut syt, mut abs_t) = (0f32, 0f32, 0f32, 0f32, 0f32, 0f32);
    let pw = w + 2;
    for y in y0..y1 {
        let (up, mid, down) = (&luma[y * pw..(y + 1) * pw], &luma[(y + 1) * pw..(y + 2) * pw], &luma[(y + 2) * pw..(y + 3) * pw]);
        let prev_mid = prev.map(|p| &p[(y + 1) * pw..(y + 2) * pw]);
        let pixels = &frame.data[(y * w + x0) * 3..(y * w + x1) * 3];
        for (x, p) in (x0..x1).zip(pixels.chunks_exact(3)) {
            // Colour, in exact integer arithmetic on the 8-bit values.
            let (r, g, b) = (p[0] as i32, p[1] as i32, p[2] as i32);
            let max = r.max(g).max(b);
            let d = max - r.min(g).min(b);
            hue[hue_bin(r, g, b, max, d.max(1))] += d as u32; // saturation · value = d / 255 (0 for grays)
            // ⌊4·d/max⌋ and ⌊4·max/255⌋ (capped at 3) by comparisons.
            let sat = (4 * d >= max && d > 0) as usize + (2 * d >= max && d > 0) as usize + (4 * d >= 3 * max && d > 0) as usize;
            let val = (max >= 64) as usize + (max >= 128) as usize + (max >= 192) as usize;
            sv[sat] += 1;
            sv[SV_BINS + val] += 1;

            // Sobel on the padded luma (column c = x + 1).
            let c = x + 1;
            let gx = ((up[c + 1] + 2.0 * mid[c + 1] + down[c + 1]) - (up[c - 1] + 2.0 * mid[c - 1] + down[c - 1])) * SOBEL_SCALE;
            let gy = ((down[c - 1] + 2.0 * down[c] + down[c + 1]) - (up[c - 1] + 2.0 * up[c] + up[c + 1])) * SOBEL_SCALE;
            let mag2 = gx * gx + gy * gy;
            let mag = mag2.sqrt();
            shape[orientation_bin(gx, gy)] += if mag > 1e-4 { mag } else { 0.0 };
            shape[ORIENT_BINS] += mag;

            if let Some(pm) = prev_mid {
                let it = (mid[c] - pm[c]) / 255.0;
                abs_t += it.abs();
                sxx += gx * gx;
                sxy += gx * gy;
                syy += gy * gy;
                sxt += gx * it;
                syt += gy * it;
                // Normal flow −I_t ∇I / |∇I|² points along −sign(I_t)·∇I; weighted by |I_t|·|∇I|
                // where both are above noise level.
                let s = if it > 0.0 { -1.0 } else { 1.0 };
                let counts = (mag2 > 1e-4) & (it.abs() > 1e-3);
                motion[direction_bin(s * gx, s * gy)] += if counts { it.abs() * mag } else { 0.0 };
            }
        }
    }
    let mut colour = [0f32; HUE_BINS + 2 * SV_BINS];
    for (c, &v) in colour.iter_mut().zip(hue.iter()) {
        *c = v as f32 / (255.0 * n);
    }
    for (c, &v) in colour[HUE_BINS..].iter_mut().zip(sv.iter()) {
        *c = v as f32 / n;
    }
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
                let hue = if max == r { 60.0 * ((gf - bf) / df).rem_euclid(6.0) } else if max == g { 60.0 * ((bf - rf) / df + 2.0) } else { 60.0 * ((rf - gf) / df + 4.0) };
                let want = ((hue / 30.0 + 1e-9).floor() as usize).min(11);
                assert_eq!(hue_bin(r, g, b, max, d), want, "rgb {r} {g} {b} hue {hue}");
            }
            let (gx, gy) = (rng.normal() as f32, rng.normal() as f32);
            let theta = (gy as f64).atan2(gx as f64).rem_euclid(std::f64::consts::PI);
            let want = ((theta / std::f64::consts::PI * 12.0 + 0.5) as usize) % 12;
            let frac = (theta / std::f64::consts::PI * 12.0 + 0.5).fract();
            if frac > 1e-4 && frac < 1.0 - 1e-4 {
                assert_eq!(orientation_bin(gx, gy), want, "gradient {gx} {gy}");
            }
            let phi = (gy as f64).atan2(gx as f64).rem_euclid(2.0 * std::f64::consts::PI);
            let want = ((phi / (2.0 * std::f64::consts::PI) * 8.0 + 0.5) as usize) % 8;
            let frac = (phi / (2.0 * std::f64::consts::PI) * 8.0 + 0.5).fract();
            if frac > 1e-4 && frac < 1.0 - 1e-4 {
                assert_eq!(direction_bin(gx, gy), want, "direction {gx} {gy}");
            }
        }
    }
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
    let frames: Vec<RgbFrame> = rgb.chunks_exact(frame_len).map(|c| RgbFrame { width, height, data: c.to_vec() }).collect();
    // Frames are independent given their luma and the previous frame's: all cores, same result.
    use rayon::prelude::*;
    let lumas: Vec<Vec<f32>> = frames.par_iter().map(padded_luma).collect();
    let mut out = vec![0f32; n * per];
    out.par_chunks_mut(per.max(1)).enumerate().for_each(|(i, dst)| {
        let prev = if i > 0 { Some(lumas[i - 1].as_slice()) } else { None };
        ex.features_with(&frames[i], &lumas[i], prev, dst);
    });
    Ok(out)
}
