//! Features/s of an ImageNet backbone (MobileNetV2, EfficientNet-Lite0) in the addon on real frames, for `npm run bench`
//! (`benches/backbone.bench.ts` runs PyTorch on the same frames beside it).
//!   cargo run --release -p videobert-video --example backbone_speed -- WEIGHTS.pth FOOTAGE_DIR OUT_DIR
//! Decodes the clips of `scripts/fetch-real-footage.sh` at 224² (the frames the parity test uses,
//! `tests/backbone_real.rs`), writes them to OUT_DIR/frames.bin (packed RGB24) for the reference, and
//! prints `{"frames": N, "threads": T, "frames_per_second": X}`: the best of 3 forward passes over
//! all N frames on rayon's pool (RAYON_NUM_THREADS sets T).
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use videobert_video::backbone::Backbone;
use videobert_video::decode::{decode_sampled, DecodeOptions, RgbFrame};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [weights, footage, out] = args.as_slice() else {
        eprintln!("usage: backbone_speed WEIGHTS.pth FOOTAGE_DIR OUT_DIR");
        std::process::exit(2);
    };
    let backbone = Backbone::load(Path::new(weights), 1, None).expect("load the weights");
    let side = backbone.frame_size();
    let mut frames: Vec<RgbFrame> = Vec::new();
    for (clip, fps) in [("carphone.mp4", 2.0), ("bikes.mp4", 2.0), ("big-buck-bunny.mp4", 0.5), ("bunny.mp4", 1.0)] {
        let opts = DecodeOptions { fps, width: side, height: side, threads: 0, cores: 0, skip_unsampled: true, max_duration: 3600.0 };
        decode_sampled(&Path::new(footage).join(clip), &opts, &AtomicBool::new(false), |_, f| {
            frames.push(f.clone());
            Ok(())
        })
        .expect("decode a clip");
    }
    std::fs::create_dir_all(out).expect("create OUT_DIR");
    std::fs::write(Path::new(out).join("frames.bin"), frames.iter().flat_map(|f| f.data.iter().copied()).collect::<Vec<u8>>()).expect("write frames.bin");
    let refs: Vec<&RgbFrame> = frames.iter().collect();
    backbone.imagenet_forward(&refs).expect("forward");
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let t0 = Instant::now();
        backbone.imagenet_forward(&refs).expect("forward");
        best = best.min(t0.elapsed().as_secs_f64());
    }
    println!("{{\"frames\": {}, \"threads\": {}, \"frames_per_second\": {}}}", frames.len(), rayon::current_num_threads(), frames.len() as f64 / best);
}
