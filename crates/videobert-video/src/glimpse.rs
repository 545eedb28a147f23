//! The shape block of the `builtin_v2` descriptor: an object-centred "glimpse" per region.
//!
//! A colour or orientation histogram over a whole region cannot tell a star from a plus: both have
//! edges of every orientation, and where they sit in the region changes as the object moves. The
//! glimpse describes the *arrangement* of edges around what moves, so it travels with the object:
//! 1. **where**: the pixels whose luma changed by more than sensor noise since the previous frame
//!    (|I_t| > 10/255), weighted by how much, within the region grown by half its size on every
//!    side (an object straddling two regions is seen whole by both). Their centroid is the window's
//!    centre and 1.25 × their spread (√(σx² + σy²)) its half-side, in [frame/16, frame/3]: a
//!    moving object's changed pixels are its contour, so the window scales with the object. With
//!    too little change (a static scene, a video's first frame) the window is the region itself.
//! 2. **what**: a 2×2 grid of cells over the window, per cell a histogram of unsigned gradient
//!    orientation (Sobel on luma, the 12 bins of the region's shape block, merged in pairs: 30° each) weighted by magnitude
//!    and divided by the window's pixel count — 24 values.
//!
//! The changed-pixel moments are summed once per frame in 8×8-pixel blocks and a region adds the
//! blocks whose centre lies in its grown rectangle.

use crate::builtin::{orientation_bin_u32, SOBEL_SCALE};

/// Cells per side of the window and orientation bins per cell (pairs of the 12 bins of
/// `orientation_bin_u32`: 30° each).
const CELLS: usize = 2;
const BINS: usize = 6;
pub const GLIMPSE_DIM: usize = CELLS * CELLS * BINS;

/// |I_t| (luma, 0–1) below this is noise (sensor noise and codec ringing), not movement.
const CHANGE_FLOOR: f32 = 10.0 / 255.0;
/// Fewer changed "pixels" (Σ of |I_t| − floor) than this: nothing moves in the region.
const MIN_CHANGE: f32 = 1.5;
const BLOCK: usize = 8;
const SPREAD_SCALE: f32 = 1.25;

/// Changed-pixel moments per 8×8 block: Σa, Σa·x, Σa·y, Σa·x², Σa·y² (pixel centres, frame coordinates).
pub struct ChangeMoments {
    blocks_x: usize,
    blocks_y: usize,
    moments: Vec<[f32; 5]>,
}

impl ChangeMoments {
    /// `luma`, `prev`: padded luma (`(w + 2) × (h + 2)`) of this frame and the previous one.
    pub fn new(w: usize, h: usize, luma: &[f32], prev: &[f32]) -> Self {
        let pw = w + 2;
        let (blocks_x, blocks_y) = (w.div_ceil(BLOCK), h.div_ceil(BLOCK));
        let mut moments = vec![[0f32; 5]; blocks_x * blocks_y];
        let mut a = vec![0f32; w];
        for y in 0..h {
            let (cur, old) = (&luma[(y + 1) * pw + 1..(y + 1) * pw + 1 + w], &prev[(y + 1) * pw + 1..(y + 1) * pw + 1 + w]);
            for i in 0..w {
                a[i] = ((cur[i] - old[i]).abs() * (1.0 / 255.0) - CHANGE_FLOOR).max(0.0);
            }
            let yc = y as f32 + 0.5;
            let row = &mut moments[(y / BLOCK) * blocks_x..(y / BLOCK + 1) * blocks_x];
            for (b, m) in row.iter_mut().enumerate() {
                let (x0, x1) = (b * BLOCK, ((b + 1) * BLOCK).min(w));
                for (x, &v) in (x0..x1).zip(&a[x0..x1]) {
                    let xc = x as f32 + 0.5;
                    m[0] += v;
                    m[1] += v * xc;
                    m[2] += v * yc;
                    m[3] += v * xc * xc;
                    m[4] += v * yc * yc;
                }
            }
        }
        Self { blocks_x, blocks_y, moments }
    }

    /// The moments of the blocks whose centre lies in `[x0, x1) × [y0, y1)`.
    fn sum(&self, (x0, x1, y0, y1): (f32, f32, f32, f32)) -> [f32; 5] {
        let mut s = [0f32; 5];
        for by in 0..self.blocks_y {
            let cy = (by * BLOCK) as f32 + BLOCK as f32 / 2.0;
            if cy < y0 || cy >= y1 {
                continue;
            }
            for bx in 0..self.blocks_x {
                let cx = (bx * BLOCK) as f32 + BLOCK as f32 / 2.0;
                if cx >= x0 && cx < x1 {
                    let m = &self.moments[by * self.blocks_x + bx];
                    s.iter_mut().zip(m).for_each(|(a, b)| *a += b);
                }
            }
        }
        s
    }
}

/// The window `(x0, x1, y0, y1)` (pixels, x1 and y1 excluded) a region's glimpse looks at.
pub fn window(w: usize, h: usize, (x0, x1, y0, y1): (usize, usize, usize, usize), change: Option<&ChangeMoments>) -> (usize, usize, usize, usize) {
    let (rw, rh) = ((x1 - x0) as f32, (y1 - y0) as f32);
    let grown = (x0 as f32 - rw / 2.0, x1 as f32 + rw / 2.0, y0 as f32 - rh / 2.0, y1 as f32 + rh / 2.0);
    let side = w.min(h) as f32;
    let (cx, cy, half) = match change.map(|c| c.sum(grown)) {
        Some([s, sx, sy, sxx, syy]) if s >= MIN_CHANGE => {
            let (mx, my) = (sx / s, sy / s);
            let var = (sxx / s - mx * mx).max(0.0) + (syy / s - my * my).max(0.0);
            (mx, my, (SPREAD_SCALE * var.sqrt()).clamp(side / 16.0, side / 3.0))
        }
        _ => ((x0 + x1) as f32 / 2.0, (y0 + y1) as f32 / 2.0, rw.max(rh) / 2.0),
    };
    let clip = |v: f32, n: usize| (v.round().max(0.0) as usize).min(n);
    let (wx0, wx1) = (clip(cx - half, w), clip(cx + half, w));
    let (wy0, wy1) = (clip(cy - half, h), clip(cy + half, h));
    // At least one pixel (a window pushed against the frame's edge).
    (wx0.min(w - 1), wx1.max(wx0.min(w - 1) + 1), wy0.min(h - 1), wy1.max(wy0.min(h - 1) + 1))
}

/// The 2×2 × 6 cell orientation histograms of `win` (padded luma, frame width `w`), each value
/// divided by the window's pixel count.
pub fn describe(w: usize, luma: &[f32], (x0, x1, y0, y1): (usize, usize, usize, usize)) -> [f32; GLIMPSE_DIM] {
    let pw = w + 2;
    let (ww, wh) = (x1 - x0, y1 - y0);
    let mut hist = [0f32; GLIMPSE_DIM];
    // Cell column of every window column (3·i / width), computed once.
    let cell_x: Vec<usize> = (0..ww).map(|i| CELLS * i / ww).collect();
    for y in y0..y1 {
        let row = |r: usize| &luma[r * pw + x0..r * pw + x0 + ww + 2];
        let (u, m, d) = (row(y), row(y + 1), row(y + 2));
        let cell_row = CELLS * (y - y0) / wh * CELLS;
        for i in 0..ww {
            let gx = ((u[i + 2] + 2.0 * m[i + 2] + d[i + 2]) - (u[i] + 2.0 * m[i] + d[i])) * SOBEL_SCALE;
            let gy = ((d[i] + 2.0 * d[i + 1] + d[i + 2]) - (u[i] + 2.0 * u[i + 1] + u[i + 2])) * SOBEL_SCALE;
            let mag = (gx * gx + gy * gy).sqrt();
            if mag > 1e-4 {
                hist[(cell_row + cell_x[i]) * BINS + orientation_bin_u32(gx, gy) as usize / 2] += mag;
            }
        }
    }
    let n = (ww * wh) as f32;
    hist.iter_mut().for_each(|v| *v /= n);
    hist
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtin::padded_luma;
    use crate::decode::RgbFrame;

    /// A 96×96 grey frame with a bright 20×20 shape (`inside` of its pixel offsets) whose top-left corner is at (x, y).
    fn shape_at(inside: fn(usize, usize) -> bool, x: usize, y: usize) -> RgbFrame {
        let (w, h) = (96usize, 96usize);
        let data = (0..h)
            .flat_map(|py| {
                (0..w).flat_map(move |px| if (x..x + 20).contains(&px) && (y..y + 20).contains(&py) && inside(px - x, py - y) { [220u8; 3] } else { [60u8; 3] })
            })
            .collect();
        RgbFrame { width: w as u32, height: h as u32, data }
    }
    fn square(_: usize, _: usize) -> bool {
        true
    }
    /// A T of 7-pixel-wide bars: edges of the same two orientations as the square's, arranged otherwise.
    fn tee(x: usize, y: usize) -> bool {
        y < 7 || (7..14).contains(&x)
    }
    fn square_at(x: usize, y: usize) -> RgbFrame {
        shape_at(square, x, y)
    }

    /// The glimpse of a shape moved 2 pixels right, at (x, y), in a frame-sized region.
    fn describe_at(inside: fn(usize, usize) -> bool, x: usize, y: usize) -> [f32; GLIMPSE_DIM] {
        let (prev, cur) = (shape_at(inside, x - 2, y), shape_at(inside, x, y));
        let (lp, lc) = (padded_luma(prev.view()), padded_luma(cur.view()));
        let change = ChangeMoments::new(96, 96, &lc, &lp);
        describe(96, &lc, window(96, 96, (0, 96, 0, 96), Some(&change)))
    }

    fn cosine(a: &[f32], b: &[f32]) -> f32 {
        let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
        dot / (a.iter().map(|x| x * x).sum::<f32>() * b.iter().map(|x| x * x).sum::<f32>()).sqrt()
    }

    #[test]
    fn the_window_follows_a_moving_object_and_its_size() {
        let (prev, cur) = (square_at(30, 50), square_at(33, 50));
        let (lp, lc) = (padded_luma(prev.view()), padded_luma(cur.view()));
        let change = ChangeMoments::new(96, 96, &lc, &lp);
        // The region is the top-left quarter; the square sits below it, inside its grown rectangle.
        let (x0, x1, y0, y1) = window(96, 96, (0, 48, 0, 48), Some(&change));
        let (cx, cy) = ((x0 + x1) as f32 / 2.0, (y0 + y1) as f32 / 2.0);
        assert!((cx - 41.5).abs() < 3.0 && (cy - 60.0).abs() < 3.0, "centre ({cx}, {cy})");
        assert!((18..=40).contains(&(x1 - x0)), "width {}", x1 - x0);
        // Nothing moved: the region itself.
        let still = ChangeMoments::new(96, 96, &lc, &lc);
        assert_eq!(window(96, 96, (48, 96, 0, 48), Some(&still)), (48, 96, 0, 48));
        assert_eq!(window(96, 96, (48, 96, 0, 48), None), (48, 96, 0, 48));
    }

    #[test]
    fn the_description_travels_with_the_object_and_sees_the_arrangement_of_its_edges() {
        let (a, b) = (describe_at(square, 20, 20), describe_at(square, 60, 52));
        assert!(cosine(&a, &b) > 0.98, "the same square elsewhere: cosine {}", cosine(&a, &b));
        // A square's edges are horizontal and vertical: bins 0 (vertical edge, horizontal gradient) and 3 (90°).
        let by_bin = |d: &[f32], bin: usize| (0..CELLS * CELLS).map(|c| d[c * BINS + bin]).sum::<f32>();
        assert!(by_bin(&a, 0) > 5.0 * by_bin(&a, 1) && by_bin(&a, 3) > 5.0 * by_bin(&a, 1));
        // A T has edges of the same orientations — one orientation histogram of the window cannot
        // tell them apart — but not in the same cells.
        let p = describe_at(tee, 40, 30);
        let hist = |d: &[f32]| (0..BINS).map(|bin| by_bin(d, bin)).collect::<Vec<f32>>();
        assert!(cosine(&hist(&a), &hist(&p)) > 0.95, "orientation histograms: cosine {}", cosine(&hist(&a), &hist(&p)));
        assert!(cosine(&a, &p) < cosine(&a, &b) - 0.1, "square vs T: cosine {}", cosine(&a, &p));
    }
}
