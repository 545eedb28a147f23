//! Tokenizing a manifest into shards: bad files are reported and the batch finishes; output is
//! independent of workers and of the `--shard i/n` split; re-runs resume; the reader gives back
//! exactly what was computed.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use videobert_video::kmeans::{Codebook, KMeansOptions};
use videobert_video::manifest::{entries_from_paths, read_manifest};
use videobert_video::segments::{tokenize_file, TokenizeOptions};
use videobert_video::shards::{FeatureDType, TokenShards};
use videobert_video::tokenize::{tokenize_manifest, ManifestOptions, Progress};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../__test__/fixtures/video")
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("vb-tok-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

const GOOD: &[&str] = &["h264.mp4", "vp9.webm", "mpeg4.avi", "theora.ogv", "with spaces ünïcödé.mp4", "hevc10.mkv"];
const BAD: &[(&str, &str)] = &[
    ("zero-bytes.mp4", "Decode"),
    ("random-bytes.mp4", "Decode"),
    ("truncated.mp4", "Decode"),
    ("header-only.mp4", "Decode"),
    ("audio-only.m4a", "NoVideoStream"),
    ("missing.mp4", "Io"),
    (".", "Io"),
];

fn manifest(dir: &Path) -> PathBuf {
    let mut lines = Vec::new();
    for (i, name) in GOOD.iter().enumerate() {
        let video = fixtures().join(name);
        lines.push(format!(r#"{{"video": {:?}, "id": "good-{i}", "captions": [{{"start": 0.0, "end": 1.0, "text": "first words"}}, {{"start": 1.7, "end": 2.9, "text": "later"}}], "label": "L{i}"}}"#, video.display().to_string()));
    }
    for (name, _) in BAD {
        lines.push(format!(r#"{{"video": {:?}}}"#, fixtures().join(name).display().to_string()));
    }
    let path = dir.join("manifest.jsonl");
    std::fs::write(&path, lines.join("\n")).unwrap();
    path
}

fn run(
    entries: &[videobert_video::manifest::ManifestEntry],
    out: &Path,
    workers: usize,
    shard: (usize, usize),
    dtype: FeatureDType,
    codebook: Option<PathBuf>,
) -> videobert_video::tokenize::Summary {
    let opts = ManifestOptions { out: out.into(), workers, shard, videos_per_shard: 4, dtype, codebook, ..Default::default() };
    tokenize_manifest(entries, &opts, &AtomicBool::new(false), &|_: &Progress| {}).unwrap()
}

fn shard_bytes(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("shard-"))
        .map(|p| (p.file_name().unwrap().to_string_lossy().to_string(), std::fs::read(&p).unwrap()))
        .collect();
    files.sort();
    files
}

#[test]
fn a_batch_with_bad_files_finishes_and_reports_them() {
    let dir = tmp("batch");
    let entries = read_manifest(&manifest(&dir)).unwrap();
    assert_eq!(entries.len(), GOOD.len() + BAD.len());
    let summary = run(&entries, &dir.join("out"), 2, (0, 1), FeatureDType::F32, None);
    assert_eq!(summary.progress.videos_done, entries.len());
    assert_eq!(summary.progress.videos_failed, BAD.len());
    let codes: Vec<(String, String)> =
        summary.failures.iter().map(|f| (f.path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default(), f.code.clone())).collect();
    for (name, code) in BAD {
        let name = Path::new(&fixtures().join(name)).file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        assert!(codes.contains(&(name.clone(), code.to_string())), "{name} → {code} in {codes:?}");
    }
    let jsonl = std::fs::read_to_string(dir.join("out/failures.jsonl")).unwrap();
    assert_eq!(jsonl.lines().count(), BAD.len());
    assert!(jsonl.lines().all(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["message"].as_str().unwrap().len() > 5));

    // The reader returns exactly what tokenize_file computes, with caption spans and labels.
    let shards = TokenShards::open(dir.join("out")).unwrap();
    assert_eq!(shards.len(), GOOD.len());
    for (i, name) in GOOD.iter().enumerate() {
        let direct = tokenize_file(&fixtures().join(name), &TokenizeOptions::default(), &AtomicBool::new(false), |_| {}).unwrap();
        let rec = shards.video(i).unwrap();
        assert_eq!(rec.id, format!("good-{i}"));
        assert_eq!(rec.label, Some(serde_json::json!(format!("L{i}"))));
        assert_eq!(rec.num_segments, direct.segments.len());
        let regions: Vec<f32> = direct.segments.iter().flat_map(|s| s.regions.clone()).collect();
        let pooled: Vec<f32> = direct.segments.iter().flat_map(|s| s.pooled.clone()).collect();
        assert_eq!(shards.regions(i).unwrap(), regions, "{name}");
        assert_eq!(shards.pooled(i).unwrap(), pooled, "{name}");
        // Segments are 1.6 s long: [0, 1] overlaps segment 0 only; [1.7, 2.9] overlaps segment 1.
        if rec.num_segments >= 2 {
            assert_eq!(rec.captions[0].segments, Some([0, 0]));
            assert_eq!(rec.captions[1].segments, Some([1, 1]));
        }
    }
    assert_eq!(shards.failures().count(), BAD.len());
}

#[test]
fn output_is_independent_of_workers_and_shard_split_and_resumes() {
    let dir = tmp("determinism");
    let entries = read_manifest(&manifest(&dir)).unwrap();
    run(&entries, &dir.join("one"), 1, (0, 1), FeatureDType::F16, None);
    run(&entries, &dir.join("three"), 3, (0, 1), FeatureDType::F16, None);
    run(&entries, &dir.join("split"), 2, (1, 2), FeatureDType::F16, None);
    run(&entries, &dir.join("split"), 2, (0, 2), FeatureDType::F16, None);
    let one = shard_bytes(&dir.join("one"));
    assert_eq!(one.len(), 2 * 4); // 13 entries, 4 per shard → chunks 0..3, json + safetensors each
    assert_eq!(shard_bytes(&dir.join("three")), one);
    assert_eq!(shard_bytes(&dir.join("split")), one);
    // A re-run skips every complete chunk.
    let again = run(&entries, &dir.join("one"), 2, (0, 1), FeatureDType::F16, None);
    assert_eq!(again.progress.videos_skipped, entries.len());
    assert_eq!(again.progress.frames, 0);
    assert_eq!(shard_bytes(&dir.join("one")), one);
    // Other parameters into the same directory are refused.
    let opts =
        ManifestOptions { out: dir.join("one"), videos_per_shard: 4, tokenize: TokenizeOptions { fps: 5.0, ..Default::default() }, ..Default::default() };
    let err = tokenize_manifest(&entries, &opts, &AtomicBool::new(false), &|_: &Progress| {}).unwrap_err();
    assert!(err.to_string().contains("other parameters"), "{err}");
    // f16 storage is f32 rounded to half precision.
    let f16 = TokenShards::open(dir.join("one")).unwrap();
    let direct = tokenize_file(&fixtures().join(GOOD[0]), &TokenizeOptions::default(), &AtomicBool::new(false), |_| {}).unwrap();
    let back = f16.pooled(0).unwrap();
    for (a, b) in back.iter().zip(direct.segments.iter().flat_map(|s| s.pooled.iter())) {
        assert!((a - b).abs() <= 1e-3 * b.abs().max(1e-2), "{a} vs {b}");
    }
}

#[test]
fn visual_words_are_assigned_with_a_codebook() {
    let dir = tmp("words");
    let entries = entries_from_paths(&[fixtures().join("h264.mp4"), fixtures().join("vp9.webm"), fixtures().join("mjpeg.avi")]).unwrap();
    run(&entries, &dir.join("plain"), 2, (0, 1), FeatureDType::F32, None);
    let plain = TokenShards::open(dir.join("plain")).unwrap();
    let sample: Vec<f32> = (0..plain.len()).flat_map(|i| plain.pooled(i).unwrap()).collect();
    let cb = Codebook::fit(&sample, plain.params.feature_dim, &KMeansOptions { branching: 2, depth: 2, iterations: 10, seed: 1, standardize: false }).unwrap();
    let cb_path = dir.join("codebook.safetensors");
    cb.save(&cb_path).unwrap();
    run(&entries, &dir.join("words"), 2, (0, 1), FeatureDType::F32, Some(cb_path));
    let words = TokenShards::open(dir.join("words")).unwrap();
    assert!(words.params.codebook.is_some());
    for i in 0..words.len() {
        let w = words.visual_words(i).unwrap().expect("visual words stored");
        assert_eq!(w, cb.assign(&words.pooled(i).unwrap()).unwrap());
        assert!(w.iter().all(|&x| x < 4));
    }
    assert!(plain.visual_words(0).unwrap().is_none());
    drop(plain);

    // Assigning in place afterwards gives the same shards as tokenizing with the codebook; twice is a no-op.
    let cb_path = dir.join("codebook.safetensors");
    let n = videobert_video::codebook::assign_visual_words(&dir.join("plain"), &cb_path).unwrap();
    assert_eq!(n, (0..words.len()).map(|i| words.video(i).unwrap().num_segments).sum::<usize>());
    assert_eq!(shard_bytes(&dir.join("plain")), shard_bytes(&dir.join("words")));
    assert_eq!(std::fs::read(dir.join("plain/index.json")).unwrap(), std::fs::read(dir.join("words/index.json")).unwrap());
    videobert_video::codebook::assign_visual_words(&dir.join("plain"), &cb_path).unwrap();
    assert_eq!(shard_bytes(&dir.join("plain")), shard_bytes(&dir.join("words")));
    // fit_on_shards samples deterministically.
    let (a, used) =
        videobert_video::codebook::fit_on_shards(&dir.join("words"), 5, &KMeansOptions { branching: 2, depth: 1, iterations: 5, seed: 3, standardize: false })
            .unwrap();
    assert_eq!(used, 5);
    assert_eq!(
        a,
        videobert_video::codebook::fit_on_shards(&dir.join("words"), 5, &KMeansOptions { branching: 2, depth: 1, iterations: 5, seed: 3, standardize: false })
            .unwrap()
            .0
    );
}

#[test]
fn relative_paths_resolve_against_the_manifest_and_become_absolute() {
    let dir = tmp("relative");
    std::fs::create_dir_all(dir.join("videos")).unwrap();
    std::fs::copy(fixtures().join("h264.mp4"), dir.join("videos/a.mp4")).unwrap();
    std::fs::write(dir.join("m.jsonl"), "{\"video\": \"videos/a.mp4\", \"captions\": []}\n").unwrap();
    std::fs::write(dir.join("m.csv"), "video,start,end,text\nvideos/a.mp4,0,1,hello\n").unwrap();
    // The manifest named relative to the working directory, which is not its own directory (the
    // working directory is process-wide, so it is not changed here: the path climbs to / instead).
    let cwd = std::env::current_dir().unwrap();
    let up = PathBuf::from("../".repeat(cwd.components().count() - 1));
    let relative = up.join(dir.strip_prefix("/").unwrap());
    for name in ["m.jsonl", "m.csv"] {
        let entries = read_manifest(&relative.join(name)).unwrap();
        assert_eq!(entries.len(), 1);
        let e = &entries[0];
        assert!(e.video.is_absolute(), "{}", e.video.display());
        assert_eq!(e.video.canonicalize().unwrap(), dir.join("videos/a.mp4").canonicalize().unwrap());
        assert_eq!(e.id, "videos/a.mp4", "the id is the path as written, whatever the working directory");
    }
    let given = relative.join("videos/a.mp4");
    let entries = entries_from_paths(std::slice::from_ref(&given)).unwrap();
    assert!(entries[0].video.is_absolute());
    assert_eq!(entries[0].id, given.display().to_string());
    // Shards made from it record the absolute path.
    let out = dir.join("shards");
    let summary = run(&read_manifest(&relative.join("m.jsonl")).unwrap(), &out, 1, (0, 1), FeatureDType::F32, None);
    assert!(summary.failures.is_empty(), "{:?}", summary.failures);
    let shards = TokenShards::open(&out).unwrap();
    assert!(shards.video(0).unwrap().path.is_absolute());
}

#[test]
fn a_directory_of_another_manifests_shards_is_refused_not_reused() {
    let dir = tmp("other-manifest");
    let entries = entries_from_paths(&["h264.mp4", "vp9.webm", "mpeg4.avi", "mjpeg.avi", "theora.ogv", "hevc10.mkv"].map(|n| fixtures().join(n))).unwrap();
    let out = dir.join("shards");
    let opts = ManifestOptions { out: out.clone(), workers: 2, videos_per_shard: 4, ..Default::default() };
    let go = |e: &[videobert_video::manifest::ManifestEntry]| tokenize_manifest(e, &opts, &AtomicBool::new(false), &|_: &Progress| {});
    go(&entries).unwrap();
    // The same manifest again resumes: both chunks are skipped.
    assert_eq!(go(&entries).unwrap().progress.videos_skipped, 6);
    // Other videos in the first chunk: refused, nothing overwritten.
    let mut other = entries.clone();
    other.swap(0, 5);
    let err = go(&other).unwrap_err();
    assert_eq!(err.code(), "InvalidConfig");
    assert!(err.to_string().contains("another manifest"), "{err}");
    // A shorter manifest (one chunk): index.json records 6 videos, so it is refused as well.
    let err = go(&entries[..3]).unwrap_err();
    assert!(err.to_string().contains("holds shards of a manifest of 6 videos, this one has 3"), "{err}");
    assert_eq!(TokenShards::open(&out).unwrap().len(), 6);
}

#[test]
fn extra_manifest_fields_are_kept_as_metadata_and_a_malformed_line_names_its_field() {
    let dir = tmp("metadata");
    std::fs::create_dir_all(dir.join("videos")).unwrap();
    std::fs::copy(fixtures().join("h264.mp4"), dir.join("videos/a.mp4")).unwrap();
    let jsonl = dir.join("m.jsonl");
    std::fs::write(&jsonl, "{\"video\": \"videos/a.mp4\", \"id\": \"a\", \"source\": \"camera 3\", \"tags\": [\"park\", 2]}\n").unwrap();
    let entries = read_manifest(&jsonl).unwrap();
    let want: serde_json::Map<String, serde_json::Value> = serde_json::from_str(r#"{"source": "camera 3", "tags": ["park", 2]}"#).unwrap();
    assert_eq!(entries[0].metadata, want);
    // CSV: the columns besides video/start/end/text/label/id.
    let csv = dir.join("m.csv");
    std::fs::write(&csv, "video,start,end,text,location\nvideos/a.mp4,0,1,hello,park\nvideos/a.mp4,1,2,again,park\n").unwrap();
    let from_csv = read_manifest(&csv).unwrap();
    assert_eq!((from_csv.len(), from_csv[0].captions.len()), (1, 2));
    assert_eq!(from_csv[0].metadata, serde_json::from_str::<serde_json::Map<_, _>>(r#"{"location": "park"}"#).unwrap());
    // The shards keep it with the video.
    let out = dir.join("shards");
    run(&entries, &out, 1, (0, 1), FeatureDType::F32, None);
    assert_eq!(TokenShards::open(&out).unwrap().video(0).unwrap().metadata, want);
    // A malformed line still names the file, the line and the field.
    std::fs::write(
        &jsonl,
        "{\"video\": \"videos/a.mp4\"}\n{\"video\": \"videos/a.mp4\", \"captions\": [{\"start\": \"zero\", \"end\": 1, \"text\": \"x\"}]}\n",
    )
    .unwrap();
    let err = read_manifest(&jsonl).unwrap_err().to_string();
    assert!(err.contains("m.jsonl:2") && err.contains("captions"), "{err}");
}

/// A shard whose index points past its data, or whose safetensors header claims bytes outside the
/// file, is a coded error — not a panic, nor an allocation of what the index claims.
#[test]
fn a_hostile_shard_index_or_header_is_a_coded_error() {
    let dir = tmp("hostile");
    let entries = entries_from_paths(&[fixtures().join("h264.mp4")]).unwrap();
    run(&entries, &dir.join("out"), 1, (0, 1), FeatureDType::F32, None);
    let out = dir.join("out");
    let index_path = out.join("shard-00000.json");
    let original = std::fs::read_to_string(&index_path).unwrap();
    let open_error = |out: &Path| match TokenShards::open(out) {
        Err(videobert_video::error::Error::InvalidInput { reason, .. }) => reason,
        Err(other) => panic!("expected an InvalidInput error, got {other:?}"),
        Ok(_) => panic!("a hostile shard opened"),
    };
    for (from, to, needle) in [
        ("\"offset\":0", "\"offset\":1000000", "points past the tensor's data"),
        ("\"num_segments\":", "\"num_segments\":9999999999999", "segment times for 9999999999999 segments"),
        ("\"offset\":0", "\"offset\":18446744073709551615", "overflows"),
    ] {
        assert!(original.contains(from.split(':').next().unwrap()), "{from} not in the index");
        std::fs::write(&index_path, regex_replace(&original, from, to)).unwrap();
        let reason = open_error(&out);
        assert!(reason.contains("corrupt shard") && reason.contains(needle), "{to}: {reason}");
    }
    std::fs::write(&index_path, &original).unwrap();
    let shards = TokenShards::open(&out).unwrap();
    assert!(!shards.regions(0).unwrap().is_empty());
    // A header whose tensor claims bytes past the end of the file (the file cut short).
    let st = out.join("shard-00000.safetensors");
    let bytes = std::fs::read(&st).unwrap();
    std::fs::write(&st, &bytes[..bytes.len() - 16]).unwrap();
    let reason = open_error(&out);
    assert!(reason.contains("corrupt shard"), "{reason}");
}

/// Replace the first `key:number` matching `from`'s key with `to` (the index is compact JSON).
fn regex_replace(text: &str, from: &str, to: &str) -> String {
    let key = from.split(':').next().unwrap();
    let start = text.find(key).unwrap();
    let value_start = start + key.len() + 1;
    let value_end = value_start + text[value_start..].find(|c: char| !c.is_ascii_digit()).unwrap();
    format!("{}{}{}", &text[..start], to, &text[value_end..])
}
