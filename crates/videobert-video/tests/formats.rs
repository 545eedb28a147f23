//! The format matrix: every fixture of `__test__/fixtures/formats` (made once by
//! scripts/make-format-fixtures.mjs with Debian 12's FFmpeg CLI) decoded by the linked FFmpeg and
//! sampled as the tokenizer samples, frame by frame against the frames Debian's FFmpeg decodes
//! (reference.json: 16×12 RGB, FFmpeg's area scaler); the formats left out on purpose refused by
//! name; damaged copies ending as coded errors or fewer frames.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use serde::Deserialize;
use videobert_video::decode::{decode_sampled, DecodeOptions, DEFAULT_MAX_DURATION};
use videobert_video::{formats, Error};

#[derive(Deserialize)]
struct Reference {
    fps: f64,
    width: u32,
    height: u32,
    fixtures: Vec<Fixture>,
}

#[derive(Deserialize)]
struct Fixture {
    name: String,
    file: String,
    container: Option<String>,
    codec: Option<String>,
    /// Sampled frames as Debian's FFmpeg decodes them (base64 of packed RGB24).
    frames: Option<Vec<String>>,
    duration: Option<f64>,
    /// The first words of the error a left-out format must give.
    error: Option<String>,
    #[serde(rename = "damagedFrom")]
    damaged_from: Option<String>,
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../__test__/fixtures/formats")
}

fn reference() -> Reference {
    serde_json::from_str(&std::fs::read_to_string(dir().join("reference.json")).expect("reference.json")).expect("reference.json parses")
}

fn base64(s: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let digits: Vec<u8> = s.bytes().filter(|&c| c != b'=').map(value).collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &d)| n | (u32::from(d) << (18 - 6 * i)));
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}

fn options(r: &Reference) -> DecodeOptions {
    DecodeOptions { fps: r.fps, width: r.width, height: r.height, threads: 1, cores: 0, skip_unsampled: true, max_duration: DEFAULT_MAX_DURATION }
}

/// Largest and mean absolute difference, 0–255 per channel.
fn difference(a: &[u8], b: &[u8]) -> (u8, f64) {
    assert_eq!(a.len(), b.len());
    let d = a.iter().zip(b).map(|(&x, &y)| x.abs_diff(y));
    let max = d.clone().max().unwrap_or(0);
    (max, d.map(f64::from).sum::<f64>() / a.len() as f64)
}

#[test]
fn every_format_decodes_the_frames_debians_ffmpeg_decodes() {
    let r = reference();
    let mut rows = Vec::new();
    for f in r.fixtures.iter().filter(|f| f.frames.is_some()) {
        let want = f.frames.as_ref().expect("frames");
        let mut got = Vec::new();
        let info = decode_sampled(&dir().join(&f.file), &options(&r), &AtomicBool::new(false), |k, frame| {
            assert_eq!(k, got.len());
            got.push(frame.data.clone());
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{} ({}): {e}", f.name, f.file));
        let duration = f.duration.expect("duration");
        assert!((info.duration - duration).abs() < 1e-6, "{}: duration {} vs Debian's {duration}", f.name, info.duration);
        assert_eq!(got.len(), want.len(), "{}: sampled frames", f.name);
        let (mut max, mut mean) = (0u8, 0f64);
        for (k, (g, w)) in got.iter().zip(want).enumerate() {
            let (m, a) = difference(g, &base64(w));
            // Same FFmpeg version, same scaler: a decoder that read the stream differently (a wrong
            // frame, a lost reference, a wrong colour layout) is off by tens; rounding in SIMD paths
            // that differ between builds by a count or two.
            assert!(m <= 6 && a <= 1.0, "{} frame {k}: differs from Debian's FFmpeg by up to {m} (mean {a:.2})", f.name);
            (max, mean) = (max.max(m), mean.max(a));
        }
        // The decoder's name, where it differs from the stream's codec name ffprobe reports.
        let codec = match f.codec.as_deref().expect("codec") {
            "msmpeg4v3" => "msmpeg4",
            "flv1" => "flv",
            c => c,
        };
        assert_eq!(info.codec, codec, "{}: decoder", f.name);
        rows.push(format!(
            "{:<40} {:<28} {:<10} {} frames, max diff {max}, mean {mean:.3}",
            f.name,
            f.container.as_deref().unwrap_or(""),
            info.codec,
            got.len()
        ));
    }
    assert!(rows.len() >= 35, "only {} decodable fixtures", rows.len());
    println!("{}", rows.join("\n"));
}

#[test]
fn formats_left_out_on_purpose_are_refused_by_name() {
    let r = reference();
    let refused: Vec<_> = r.fixtures.iter().filter(|f| f.error.is_some()).collect();
    assert_eq!(refused.len(), 2);
    for f in refused {
        let err = decode_sampled(&dir().join(&f.file), &options(&r), &AtomicBool::new(false), |_, _| Ok(())).expect_err(&f.name);
        let Error::Decode { reason, .. } = &err else { panic!("{}: {err:?}", f.name) };
        assert!(reason.starts_with(f.error.as_deref().expect("error")), "{}: {reason}", f.name);
        let listed = formats::list().left_out.into_iter().any(|l| reason == l.reason);
        assert!(listed, "{}: the reason is one of formats::list().left_out", f.name);
    }
}

#[test]
fn damaged_files_end_as_coded_errors_or_fewer_frames() {
    let r = reference();
    for f in r.fixtures.iter().filter(|f| f.damaged_from.is_some()) {
        let original = r.fixtures.iter().find(|o| Some(&o.file) == f.damaged_from.as_ref()).expect("original");
        let full = original.frames.as_ref().expect("frames").len();
        let mut n = 0;
        let result = decode_sampled(&dir().join(&f.file), &options(&r), &AtomicBool::new(false), |_, _| {
            n += 1;
            Ok(())
        });
        match (f.file.as_str(), result) {
            // A cut file keeps the frames before the cut.
            ("damaged-truncated.mpg", Ok(info)) => {
                assert!(info.sampled_frames >= 1 && info.sampled_frames < full, "{}: {} of {full} frames", f.name, info.sampled_frames)
            }
            // FFmpeg's GIF demuxer gives up on the cut block (Debian's CLI decodes 0 frames too).
            ("damaged-truncated.gif", Err(Error::Decode { reason, .. })) => assert_eq!(reason, "no decodable video frames"),
            // No ASF header: nothing in this build recognises the file, and the message says where to look.
            ("damaged-header.wmv", Err(Error::Decode { reason, .. })) => assert!(reason.contains("videobert formats"), "{reason}"),
            // Corrupt ProRes slices: the frames still come, wrong in places, as with FFmpeg's CLI.
            ("damaged-bitflip.mov", Ok(info)) => assert_eq!(info.sampled_frames, full, "{}", f.name),
            (file, other) => panic!("{file}: unexpected {other:?} after {n} frames"),
        }
    }
}

#[test]
fn the_build_lists_its_containers_codecs_and_configure_line() {
    let f = formats::list();
    assert!(f.ffmpeg_version.starts_with('5') || f.ffmpeg_version.starts_with('n'), "{}", f.ffmpeg_version);
    assert!(f.configuration.contains("--enable-"), "{}", f.configuration);
    let has = |list: &[formats::Format], name: &str| list.iter().any(|c| c.name == name);
    for c in ["mpeg2video", "prores", "gif", "wmv2", "dvvideo", "dnxhd", "h264", "hevc", "vp9"] {
        assert!(has(&f.video_codecs, c), "decoder {c}");
    }
    for d in ["mpeg", "mpegvideo", "asf", "dv", "gif", "mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm", "image2", "yuv4mpegpipe"] {
        assert!(has(&f.containers, d), "demuxer {d}");
    }
    assert!(!f.video_codecs.iter().any(|c| c.name == "aac"), "audio decoders are not listed as video codecs");
    let mov = f.containers.iter().find(|c| c.name.starts_with("mov")).expect("mov");
    assert!(mov.extensions.is_empty() || mov.extensions.iter().all(|e| !e.contains(',')));
}
