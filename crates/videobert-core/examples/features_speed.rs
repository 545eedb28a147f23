//! Single-thread speed of the builtin descriptor on synthetic 112×112 frames.
//! `cargo run --release -p videobert-core --example features_speed`
use std::time::Instant;

use videobert_core::rng::Rng;
use videobert_core::video::builtin::{padded_luma, BuiltinExtractor, BuiltinOptions};
use videobert_core::video::decode::RgbFrame;

fn main() {
    let mut rng = Rng::new(1);
    let frames: Vec<RgbFrame> = (0..200)
        .map(|_| RgbFrame { width: 112, height: 112, data: (0..112 * 112 * 3).map(|_| rng.below(256) as u8).collect() })
        .collect();
    let ex = BuiltinExtractor::new(BuiltinOptions::default());
    let mut out = vec![0f32; 4 * 44];
    let flat: Vec<u8> = frames.iter().flat_map(|f| f.data.iter().copied()).collect();
    for round in 0..3 {
        let t0 = Instant::now();
        let out = videobert_core::video::builtin::features_of_frames(&flat, 200, 112, 112, BuiltinOptions::default()).unwrap();
        println!("round {round}: features_of_frames (all cores) {:.2} ms ({} values)", t0.elapsed().as_secs_f64() * 1e3, out.len());
    }
    for round in 0..3 {
        let t0 = Instant::now();
        let lumas: Vec<Vec<f32>> = frames.iter().map(|f| padded_luma(f.view())).collect();
        let t1 = Instant::now();
        for i in 0..frames.len() {
            ex.features_with(frames[i].view(), &lumas[i], if i > 0 { Some(&lumas[i - 1]) } else { None }, &mut out);
        }
        let t2 = Instant::now();
        println!(
            "round {round}: luma {:.2} ms, features {:.2} ms → {:.1} ns/pixel, {:.0} frames/s (one thread)",
            (t1 - t0).as_secs_f64() * 1e3,
            (t2 - t1).as_secs_f64() * 1e3,
            (t2 - t0).as_secs_f64() * 1e9 / (200.0 * 112.0 * 112.0),
            200.0 / (t2 - t0).as_secs_f64()
        );
    }
}
