//! Speed of the builtin descriptors (`builtin_v2`, the default, and `builtin`, version 1) on 200
//! frames of 112×112, single thread and all cores.
//! `cargo run --release -p videobert-video --example features_speed [-- FRAMES.rgb]`
//!
//! Two (or three) kinds of frames, because the histogram loops behave very differently on them:
//! - `random`: uniformly random bytes (every pixel in its own bin: the worst case for the arithmetic);
//! - `scene`: synthetic video-like frames: flat colour rectangles, a gradient and moving shapes, so
//!   that neighbouring pixels usually fall in the same histogram bin (like real footage);
//! - an optional raw rgb24 file of 112×112 frames, e.g. FFmpeg's test pattern as in the Node bench:
//!   `ffmpeg -f lavfi -i testsrc2=size=1280x720:rate=30:duration=20 -vf fps=10,scale=112:112:flags=area -f rawvideo -pix_fmt rgb24 out.rgb`
//!
//! With `FEATURES_DUMP=DIR` the features of each kind are written to `DIR/KIND.f32` (to compare
//! two implementations).
use std::time::Instant;

use videobert_video::builtin::{features_of_frames, padded_luma, BuiltinExtractor, BuiltinOptions, BuiltinVersion};
use videobert_video::decode::RgbFrame;
use videobert_video::rng::Rng;

const SIZE: usize = 112;
const FRAMES: usize = 200;

fn random_frames() -> Vec<RgbFrame> {
    let mut rng = Rng::new(1);
    (0..FRAMES).map(|_| RgbFrame { width: SIZE as u32, height: SIZE as u32, data: (0..SIZE * SIZE * 3).map(|_| rng.below(256) as u8).collect() }).collect()
}

/// Video-like frames: a background of eight flat colour bars, a horizontal grey gradient band,
/// a square and a disc that move a few pixels per frame, and mild noise on a few pixels.
fn scene_frames() -> Vec<RgbFrame> {
    const BARS: [[u8; 3]; 8] = [[192, 192, 192], [192, 192, 0], [0, 192, 192], [0, 192, 0], [192, 0, 192], [192, 0, 0], [0, 0, 192], [16, 16, 16]];
    let mut rng = Rng::new(2);
    (0..FRAMES)
        .map(|t| {
            let mut data = vec![0u8; SIZE * SIZE * 3];
            let (sq_x, sq_y) = ((t * 3) % (SIZE - 24), 20 + (t % 40));
            let (cx, cy) = ((SIZE - 1 - (t * 2) % SIZE) as i32, 70);
            for y in 0..SIZE {
                for x in 0..SIZE {
                    let mut p = if (84..96).contains(&y) {
                        let v = (x * 255 / (SIZE - 1)) as u8;
                        [v, v, v]
                    } else {
                        BARS[x * 8 / SIZE]
                    };
                    if (sq_x..sq_x + 24).contains(&x) && (sq_y..sq_y + 24).contains(&y) {
                        p = [255, 128, 0];
                    }
                    let (dx, dy) = (x as i32 - cx, y as i32 - cy);
                    if dx * dx + dy * dy < 100 {
                        p = [40, 80, 220];
                    }
                    if rng.below(50) == 0 {
                        p = p.map(|c| c.saturating_add(rng.below(8) as u8));
                    }
                    data[(y * SIZE + x) * 3..][..3].copy_from_slice(&p);
                }
            }
            RgbFrame { width: SIZE as u32, height: SIZE as u32, data }
        })
        .collect()
}

fn file_frames(path: &str) -> Vec<RgbFrame> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let frame_len = SIZE * SIZE * 3;
    assert!(bytes.len() >= frame_len, "{path}: fewer bytes than one {SIZE}×{SIZE} rgb24 frame");
    bytes.chunks_exact(frame_len).cycle().take(FRAMES).map(|data| RgbFrame { width: SIZE as u32, height: SIZE as u32, data: data.to_vec() }).collect()
}

fn bench(name: &str, frames: &[RgbFrame], version: BuiltinVersion) {
    let opts = BuiltinOptions::of(version);
    let ex = BuiltinExtractor::new(opts);
    let mut out = vec![0f32; 4 * opts.dim];
    let flat: Vec<u8> = frames.iter().flat_map(|f| f.data.iter().copied()).collect();
    let (mut best_all, mut best_one) = (f64::MAX, f64::MAX);
    for _ in 0..5 {
        let t0 = Instant::now();
        let feats = features_of_frames(&flat, frames.len(), SIZE as u32, SIZE as u32, opts).unwrap();
        best_all = best_all.min(t0.elapsed().as_secs_f64());
        if let Some(dir) = std::env::var_os("FEATURES_DUMP") {
            // For comparing implementations: the features as little-endian f32, one file per kind.
            let bytes: Vec<u8> = feats.iter().flat_map(|v| v.to_le_bytes()).collect();
            std::fs::write(std::path::Path::new(&dir).join(format!("{name}-{}.f32", version.name())), bytes).unwrap();
        }
        std::hint::black_box(feats);
    }
    for _ in 0..5 {
        let t0 = Instant::now();
        let lumas: Vec<Vec<f32>> = frames.iter().map(|f| padded_luma(f.view())).collect();
        for i in 0..frames.len() {
            ex.features_with(frames[i].view(), &lumas[i], if i > 0 { Some(&lumas[i - 1]) } else { None }, &mut out);
        }
        best_one = best_one.min(t0.elapsed().as_secs_f64());
        std::hint::black_box(&out);
    }
    let pixels = (frames.len() * SIZE * SIZE) as f64;
    println!(
        "{:>10} {name:>6}: one thread {:.2} ns/pixel ({:.0} frames/s); features_of_frames (all cores) {:.2} ms for {} frames (best of 5)",
        version.name(),
        best_one * 1e9 / pixels,
        frames.len() as f64 / best_one,
        best_all * 1e3,
        frames.len()
    );
}

fn main() {
    let file = std::env::args().nth(1).map(|p| file_frames(&p));
    for version in BuiltinVersion::ALL {
        bench("random", &random_frames(), version);
        bench("scene", &scene_frames(), version);
        if let Some(frames) = &file {
            bench("file", frames, version);
        }
    }
}
