//! Decoding and segmenting real encoded video (fixtures from scripts/make-video-fixtures.sh).

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use videobert_video::decode::{decode_sampled, DecodeOptions, RgbFrame, DEFAULT_MAX_DURATION};
use videobert_video::segments::{tokenize_file, TokenizeOptions, TokenizedVideo};
use videobert_video::Error;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../__test__/fixtures/video").join(name)
}

fn tokenize(name: &str, opts: &TokenizeOptions) -> videobert_video::Result<TokenizedVideo> {
    tokenize_file(&fixture(name), opts, &AtomicBool::new(false), |_| {})
}

/// (file, codec, duration in seconds as ffprobe reports it)
const CLIPS: &[(&str, &str, f64)] = &[
    ("h264.mp4", "h264", 4.0),
    ("vp9.webm", "vp9", 3.0),
    ("mpeg4.avi", "mpeg4", 3.0),
    ("mjpeg.avi", "mjpeg", 4.0),
    ("theora.ogv", "theora", 2.0),
    ("av1.mkv", "av1", 2.0),
    ("hevc10.mkv", "hevc", 2.0),
    ("vfr.mkv", "h264", 3.84),
    ("rotated.mp4", "h264", 2.0),
    ("odd-97x61.mp4", "h264", 2.0),
    ("gray.mkv", "ffv1", 2.0),
    ("alpha.mkv", "png", 2.0),
    ("single-frame.mp4", "h264", 0.04),
    ("with spaces ünïcödé.mp4", "h264", 4.0),
];

#[test]
fn every_codec_gives_segment_counts_and_times_from_duration_and_fps() {
    for opts in [TokenizeOptions::default(), TokenizeOptions { fps: 7.5, frames_per_segment: 8, stride: 4, ..Default::default() }] {
        for &(name, codec, duration) in CLIPS {
            let v = tokenize(name, &opts).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(v.info.codec.contains(codec), "{name}: codec {}", v.info.codec);
            assert!((v.info.duration - duration).abs() < 1e-6, "{name}: duration {} vs {duration}", v.info.duration);
            // Sampled frames k with k / fps < duration.
            let frames = (duration * opts.fps - 1e-9).ceil() as usize;
            assert_eq!(v.info.sampled_frames, frames, "{name}: sampled frames");
            let (len, stride) = (opts.frames_per_segment, opts.stride);
            let expected = if frames >= len { (frames - len) / stride + 1 } else { 0 };
            assert_eq!(v.segments.len(), expected, "{name}: segments");
            for (i, s) in v.segments.iter().enumerate() {
                assert!((s.start - (i * stride) as f64 / opts.fps).abs() < 1e-9, "{name}: start of {i}");
                assert!((s.end - (i * stride + len) as f64 / opts.fps).abs() < 1e-9, "{name}: end of {i}");
                assert_eq!(s.frames, len);
                let f = opts.feature_dim();
                assert_eq!((f, s.regions.len()), (44, 4 * f));
                assert!(s.regions.iter().chain(&s.pooled).all(|x| x.is_finite()));
                let norm: f32 = s.regions[..f].iter().map(|x| x * x).sum::<f32>().sqrt();
                assert!(norm > 0.3 && norm <= 1.0 + 1e-5, "{name}: region norm {norm}");
            }
        }
    }
}

#[test]
fn the_last_partial_segment_is_dropped_or_kept() {
    let opts = TokenizeOptions { pad_last: true, ..Default::default() };
    let v = tokenize("h264.mp4", &opts).unwrap(); // 40 frames → 16 + 16 + 8
    assert_eq!(v.segments.len(), 3);
    let last = &v.segments[2];
    assert_eq!(last.frames, 8);
    assert!((last.start - 3.2).abs() < 1e-9 && (last.end - 4.0).abs() < 1e-9);
    let single = tokenize("single-frame.mp4", &opts).unwrap();
    assert_eq!(single.segments.len(), 1);
    assert_eq!(single.segments[0].frames, 1);
    assert!(tokenize("single-frame.mp4", &TokenizeOptions::default()).unwrap().segments.is_empty());
}

#[test]
fn features_are_deterministic_across_runs_and_decoder_threads() {
    for name in ["h264.mp4", "vp9.webm", "hevc10.mkv"] {
        let a = tokenize(name, &TokenizeOptions { threads: 1, ..Default::default() }).unwrap();
        let b = tokenize(name, &TokenizeOptions { threads: 0, ..Default::default() }).unwrap();
        let c = tokenize(name, &TokenizeOptions { threads: 4, ..Default::default() }).unwrap();
        assert_eq!(a.segments, b.segments, "{name}");
        assert_eq!(a.segments, c.segments, "{name}");
    }
}

fn frames(name: &str, fps: f64, width: u32, height: u32) -> Vec<RgbFrame> {
    let mut out = Vec::new();
    let opts = DecodeOptions { fps, width, height, threads: 0, cores: 0, skip_unsampled: true, max_duration: DEFAULT_MAX_DURATION };
    decode_sampled(&fixture(name), &opts, &AtomicBool::new(false), |k, f| {
        assert_eq!(k, out.len());
        out.push(f.clone());
        Ok(())
    })
    .unwrap();
    out
}

#[test]
fn rotation_metadata_is_honoured() {
    // The file stores 96x64 with a red block top-left and a display matrix turning it 90° counter-
    // clockwise (what FFmpeg's CLI shows): upright it is 64x96 with the block bottom-left.
    let f = &frames("rotated.mp4", 10.0, 64, 96)[0];
    let red = |x: usize, y: usize| {
        let p = &f.data[(y * 64 + x) * 3..(y * 64 + x) * 3 + 3];
        p[0] > 180 && p[2] < 90
    };
    assert!(red(4, 90), "bottom-left is red");
    assert!(!red(4, 4) && !red(60, 4) && !red(60, 90), "other corners are blue");
}

#[test]
fn variable_frame_rate_is_sampled_by_timestamp() {
    // vfr.mkv: frames every 40 ms for 1 s, then every 200 ms. Sampled at 25 fps, the first second
    // has 25 distinct frames; after it every source frame is held for 5 samples.
    let f = frames("vfr.mkv", 25.0, 48, 32);
    assert_eq!(f.len(), 96); // 3.84 s · 25
    for k in 1..25 {
        assert_ne!(f[k].data, f[k - 1].data, "frame {k} is a new picture");
    }
    for k in 26..30 {
        assert_eq!(f[k].data, f[25].data, "frame {k} holds the picture shown at 1.0 s");
    }
    assert_ne!(f[30].data, f[29].data);
}

#[test]
fn odd_sizes_gray_alpha_and_ten_bit_decode_to_the_requested_size() {
    for name in ["odd-97x61.mp4", "gray.mkv", "alpha.mkv", "hevc10.mkv"] {
        let f = frames(name, 10.0, 33, 17);
        assert_eq!(f.len(), 20, "{name}");
        assert!(f.iter().all(|x| x.width == 33 && x.height == 17 && x.data.len() == 33 * 17 * 3), "{name}");
        let mean = f[0].data.iter().map(|&v| v as f64).sum::<f64>() / f[0].data.len() as f64;
        assert!(mean > 10.0 && mean < 245.0, "{name}: a real picture, mean {mean}");
    }
    let gray = &frames("gray.mkv", 10.0, 16, 16)[0];
    assert!(gray.data.chunks(3).all(|p| p[0] == p[1] && p[1] == p[2]), "gray stays gray");
}

#[test]
fn bad_inputs_are_coded_errors() {
    let opts = TokenizeOptions::default();
    let kind = |name: &str| match tokenize(name, &opts) {
        Err(Error::Decode { reason, .. }) => format!("Decode: {reason}"),
        Err(Error::NoVideoStream { .. }) => "NoVideoStream".into(),
        Err(Error::Io { source, .. }) => format!("Io: {source}"),
        Err(e) => panic!("{name}: unexpected {e:?}"),
        Ok(v) => panic!("{name}: unexpectedly decoded {} segments", v.segments.len()),
    };
    assert!(kind("zero-bytes.mp4").starts_with("Decode: empty file"));
    assert!(kind("random-bytes.mp4").starts_with("Decode"));
    assert!(kind("header-only.mp4").starts_with("Decode"));
    assert!(kind("truncated.mp4").starts_with("Decode"));
    assert_eq!(kind("audio-only.m4a"), "NoVideoStream");
    assert!(kind("does-not-exist.mp4").starts_with("Io"));
    assert!(kind("").starts_with("Io: is a directory"));
}

/// `n` frames of a red 16×16 block moving right by 4 px a frame over a grey 64×48 background.
fn moving_block(n: usize) -> Vec<u8> {
    let (w, h) = (64usize, 48usize);
    let mut out = vec![0u8; n * w * h * 3];
    for f in 0..n {
        for y in 0..h {
            for x in 0..w {
                let on = (16..32).contains(&y) && (4 * f..4 * f + 16).contains(&x);
                let rgb = if on { [220, 30, 30] } else { [90, 90, 90] };
                out[((f * h + y) * w + x) * 3..][..3].copy_from_slice(&rgb);
            }
        }
    }
    out
}

#[test]
fn encoded_video_decodes_back_to_the_same_pictures() {
    use videobert_video::{encode_rgb_frames, EncodeOptions, VideoCodec};
    let dir = std::env::temp_dir().join(format!("vb-encode-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rgb = moving_block(10);
    for (codec, file, name) in [(VideoCodec::Mpeg4, "clip.mp4", "mpeg4"), (VideoCodec::Mjpeg, "clip.avi", "mjpeg"), (VideoCodec::Mpeg4, "clip.mov", "mpeg4")] {
        let path = dir.join(file);
        let opts = EncodeOptions { width: 64, height: 48, frame_rate: 10, codec, quality: 2, gop: 10 };
        let written = encode_rgb_frames(&path, &rgb, &opts).unwrap();
        assert_eq!((written.frames, written.codec.as_str()), (10, name));
        assert!(written.bytes > 500, "{file}: {} bytes", written.bytes);
        // The same frames give the same bytes (single-threaded encoding).
        let again = dir.join(format!("again-{file}"));
        encode_rgb_frames(&again, &rgb, &opts).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), std::fs::read(&again).unwrap(), "{file}");

        let mut decoded = Vec::new();
        let info = decode_sampled(
            &path,
            &DecodeOptions { fps: 10.0, width: 64, height: 48, threads: 1, cores: 0, skip_unsampled: true, max_duration: DEFAULT_MAX_DURATION },
            &AtomicBool::new(false),
            |_, f| {
                decoded.push(f.clone());
                Ok(())
            },
        )
        .unwrap();
        assert_eq!((info.codec.as_str(), decoded.len()), (name, 10), "{file}: {info:?}");
        assert!((info.duration - 1.0).abs() < 1e-6, "{file}: {}", info.duration);
        // Lossy, but close: mean absolute error per channel, and the block is where it was drawn.
        let mae: f64 = decoded.iter().flat_map(|f| f.data.iter()).zip(&rgb).map(|(a, b)| (*a as f64 - *b as f64).abs()).sum::<f64>() / rgb.len() as f64;
        assert!(mae < 4.0, "{file}: mean abs error {mae}");
        let px = |f: &RgbFrame, x: usize, y: usize| f.data[(y * 64 + x) * 3];
        assert!(px(&decoded[5], 28, 24) > 180 && px(&decoded[5], 50, 24) < 120, "{file}");
    }
    let bad = encode_rgb_frames(&dir.join("odd.mp4"), &rgb, &EncodeOptions { width: 63, height: 48, ..Default::default() }).unwrap_err();
    assert_eq!(bad.code(), "InvalidConfig");
    let short = encode_rgb_frames(&dir.join("short.mp4"), &rgb[..100], &EncodeOptions { width: 64, height: 48, ..Default::default() }).unwrap_err();
    assert_eq!(short.code(), "InvalidInput");
    let nowhere = encode_rgb_frames(&dir.join("no/such/dir/x.mp4"), &rgb, &EncodeOptions { width: 64, height: 48, ..Default::default() }).unwrap_err();
    assert_eq!(nowhere.code(), "Io");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Skipping disposable packets no sample time falls in changes nothing the sampler emits: the same
/// frames, bit for bit, and the same duration, at several sampling rates, on every decodable
/// fixture; on H.264 with B-frames it does skip (25 fps sampled at 10 and 4 fps).
#[test]
fn skipping_unsampled_disposable_frames_changes_no_sampled_frame() {
    let run = |name: &str, fps: f64, skip: bool| {
        let mut out = Vec::new();
        let opts = DecodeOptions { fps, width: 32, height: 24, threads: 1, cores: 0, skip_unsampled: skip, max_duration: DEFAULT_MAX_DURATION };
        let info = decode_sampled(&fixture(name), &opts, &AtomicBool::new(false), |_, f| {
            out.push(f.clone());
            Ok(())
        });
        info.map(|i| (i, out))
    };
    let mut skipped_h264 = 0;
    for name in
        ["h264.mp4", "hevc10.mkv", "vp9.webm", "av1.mkv", "mpeg4.avi", "vfr.mkv", "rotated.mp4", "odd-97x61.mp4", "single-frame.mp4", "theora.ogv", "mjpeg.avi"]
    {
        for fps in [10.0, 4.0, 30.0] {
            let (Ok((a, fa)), Ok((b, fb))) = (run(name, fps, true), run(name, fps, false)) else { panic!("{name} decodes") };
            assert_eq!(fa, fb, "{name} at {fps} fps: sampled frames differ with skipping");
            assert_eq!((a.duration, a.sampled_frames), (b.duration, b.sampled_frames), "{name} at {fps} fps");
            assert_eq!(a.decoded_frames + a.skipped_frames, b.decoded_frames, "{name} at {fps} fps: every packet decoded or skipped");
            assert_eq!(b.skipped_frames, 0);
            if name == "h264.mp4" && fps < 25.0 {
                skipped_h264 += a.skipped_frames;
            }
        }
    }
    assert!(skipped_h264 > 0, "H.264 with B-frames sampled below its rate skips some frames");
}

/// Sample-and-hold turns a timestamp jump into repeated frames, so a small file whose timestamps
/// claim hours would cost hours; `max_duration` (default 4 h) refuses it as soon as a timestamp
/// crosses the bound. The fuzzer found the first such file (a mutated `mjpeg.avi`: 52 frames, 773 s).
#[test]
fn timestamps_past_max_duration_are_a_decode_error_found_early() {
    let dir = std::env::temp_dir().join(format!("vb-max-duration-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // The video stream header's time base (dwScale / dwRate) set to 20 000 s per frame.
    let mut slow = std::fs::read(fixture("mjpeg.avi")).unwrap();
    let strh = slow.windows(4).position(|w| w == b"strh").unwrap();
    slow[strh + 28..strh + 32].copy_from_slice(&20_000u32.to_le_bytes());
    slow[strh + 32..strh + 36].copy_from_slice(&1u32.to_le_bytes());
    let path = dir.join("slow.avi");
    std::fs::write(&path, &slow).unwrap();

    let mut sampled = 0;
    let err = tokenize_file(&path, &TokenizeOptions::default(), &AtomicBool::new(false), |n| sampled = n).unwrap_err();
    assert!(matches!(err, Error::Decode { .. }) && err.to_string().contains("maxDuration"), "{err}");
    // Refused at the second frame (20 000 s > 4 h), before a single frame was sampled.
    assert_eq!(sampled, 0);

    // The same bound on the real clip (4 s): over its length, decoded; under it, refused.
    let ok = tokenize("mjpeg.avi", &TokenizeOptions { max_duration: 5.0, ..Default::default() }).unwrap();
    assert!((ok.info.duration - 4.0).abs() < 0.1, "{}", ok.info.duration);
    let err = tokenize("mjpeg.avi", &TokenizeOptions { max_duration: 3.0, ..Default::default() }).unwrap_err();
    assert!(err.to_string().contains("maxDuration"), "{err}");
    for bad in [0.0, -1.0, f64::NAN] {
        let err = tokenize("mjpeg.avi", &TokenizeOptions { max_duration: bad, ..Default::default() }).unwrap_err();
        assert_eq!(err.code(), "InvalidConfig", "{bad}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
