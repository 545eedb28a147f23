//! The subtitle and transcript readers on a matrix of ordinary, odd and broken files: each is read
//! as what it says, or is an `Error::Subtitles` naming its line, or is one of the documented
//! leniencies (docs/subtitles.md) with the counter that reports it. Nothing panics.

use std::path::{Path, PathBuf};

use videobert_video::error::Error;
use videobert_video::manifest::Caption;
use videobert_video::subtitles::{read_file, AlignOptions, AlignReport};

/// What a case must give.
enum Want {
    /// These caption texts, and a check of the report.
    Texts(&'static [&'static str], fn(&AlignReport) -> bool),
    /// Captions satisfying a check (for generated files).
    Check(fn(&[Caption], &AlignReport) -> bool),
    /// An error on this line whose message contains this.
    Error(usize, &'static str),
}
use Want::*;

fn any(_: &AlignReport) -> bool {
    true
}

fn dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("videobert-subtitle-matrix-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn big_cue() -> Vec<u8> {
    let mut s = b"1\n00:00:00,000 --> 01:00:00,000\n".to_vec();
    while s.len() < (1 << 20) {
        s.extend_from_slice(b"and then we keep talking about the same thing ");
    }
    s
}

fn latin1() -> Vec<u8> {
    b"1\n00:00:01,000 --> 00:00:02,000\nCaf\xe9 cr\xe8me \x93quoted\x94.\n".to_vec()
}

fn mixed() -> Vec<u8> {
    b"1\n00:00:01,000 --> 00:00:02,000\nna\xc3\xafve line.\n\n2\n00:00:03,000 --> 00:00:04,000\nd\xe9j\xe0 vu.\n".to_vec()
}

fn utf16le() -> Vec<u8> {
    let mut b = vec![0xFF, 0xFE];
    b.extend("1\r\n00:00:01,000 --> 00:00:02,000\r\nÜber alles.\r\n".encode_utf16().flat_map(|u| u.to_le_bytes()));
    b
}

fn cases() -> Vec<(&'static str, Vec<u8>, Want)> {
    let t = |s: &str| s.as_bytes().to_vec();
    vec![
        ("basic.srt", t("1\n00:00:01,000 --> 00:00:02,500\nHello there.\n\n2\n00:00:03,000 --> 00:00:04,000\nSecond line\nof the cue.\n"), Texts(&["Hello there.", "Second line of the cue."], |r| r.cues == 2)),
        ("bom-crlf.srt", t("\u{feff}1\r\n00:00:01,000 --> 00:00:02,000\r\nWindows file.\r\n\r\n"), Texts(&["Windows file."], any)),
        ("no-numbers.srt", t("00:00:01,000 --> 00:00:02,000\nNo index.\n\n00:00:03,000 --> 00:00:04,000\nStill fine.\n"), Texts(&["No index.", "Still fine."], any)),
        ("dot-and-hoursless.srt", t("1\n00:01.000 --> 00:02.500\nShort times.\n"), Texts(&["Short times."], any)),
        ("blank-line-in-cue.srt", t("1\n00:00:01,000 --> 00:00:02,000\nFirst part\n\nsecond part.\n\n2\n00:00:03,000 --> 00:00:04,000\nNext.\n"), Texts(&["First part second part.", "Next."], any)),
        ("positions.srt", t("1\n00:00:01,000 --> 00:00:02,000 X1:100 X2:200 Y1:10 Y2:20\nPositioned.\n"), Texts(&["Positioned."], any)),
        ("markup.srt", t("1\n00:00:01,000 --> 00:00:02,000\n{\\an8}<i>Tom</i> &amp; <font color=\"red\">Jerry</font> &lt;3.\n"), Texts(&["Tom & Jerry <3."], any)),
        ("annotations.srt", t("1\n00:00:01,000 --> 00:00:02,000\n[Music]\n\n2\n00:00:02,000 --> 00:00:03,000\n(applause)\nThank you.\n"), Texts(&["Thank you."], |r| r.empty == 1)),
        ("unsorted.srt", t("2\n00:00:05,000 --> 00:00:06,000\nLater.\n\n1\n00:00:01,000 --> 00:00:02,000\nEarlier.\n"), Texts(&["Earlier.", "Later."], |r| r.reordered == 1)),
        ("overlapping.srt", t("1\n00:00:01,000 --> 00:00:05,000\nSpeaker one.\n\n2\n00:00:03,000 --> 00:00:06,000\nSpeaker two.\n"), Texts(&["Speaker one.", "Speaker two."], |r| r.overlapping == 1)),
        ("merged-fragments.srt", t("1\n00:00:01,000 --> 00:00:02,000\nso what we do\n\n2\n00:00:02,200 --> 00:00:03,000\nis knead it.\n"), Texts(&["so what we do is knead it."], |r| r.merged == 1)),
        ("truncated-after-timing.srt", t("1\n00:00:01,000 --> 00:00:02,000\nComplete.\n\n2\n00:00:03,000 --> 00:00:04,000\n"), Texts(&["Complete."], |r| r.empty == 1)),
        ("latin1.srt", latin1(), Texts(&["Café crème “quoted”."], |r| r.latin_lines == 1)),
        ("mixed-encodings.srt", mixed(), Texts(&["naïve line.", "déjà vu."], |r| r.latin_lines == 1)),
        ("utf16le.srt", utf16le(), Texts(&["Über alles."], any)),
        ("one-megabyte-cue.srt", big_cue(), Check(|c, r| c.len() > 1000 && c.iter().all(|c| c.text.split(' ').count() <= 16 && c.end >= c.start) && r.split == c.len() - 1)),
        ("empty.srt", vec![], Error(1, "no cue")),
        ("whitespace-only.srt", t("\n\n   \n"), Error(1, "no cue")),
        ("garbage-first.srt", t("hello world\nthis is not subtitles\n"), Error(1, "expected a cue number or a timing line")),
        ("truncated-timing.srt", t("1\n00:00:01,000 --> 00:00:02,000\nok\n\n2\n00:00:03,000 --> 00:00:0"), Error(6, "ends (0 s) before it starts (3 s)")),
        ("end-before-start.srt", t("1\n00:00:05,000 --> 00:00:02,000\nbackwards\n"), Error(2, "ends (2 s) before it starts (5 s)")),
        ("negative-time.srt", t("1\n-00:00:01,000 --> 00:00:02,000\nnegative\n"), Error(2, "bad start time")),
        ("absurd-time.srt", t("1\n999:00:00,000 --> 999:00:01,000\nfar future\n"), Error(2, "past 100 hours")),
        ("minute-61.srt", t("1\n00:61:00,000 --> 00:62:00,000\nno such minute\n"), Error(2, "bad start time")),
        ("two-arrows.srt", t("1\n00:00:01,000 --> 00:00:02,000 --> 00:00:03,000\nx\n"), Error(2, "one `-->`")),
        ("binary.srt", t("1\n00:00:01,000 --> 00:00:02,000\nab\0cd\n"), Error(3, "NUL byte")),
        ("only-annotations.srt", t("1\n00:00:01,000 --> 00:00:02,000\n[Music]\n"), Error(3, "no spoken text")),
        (
            "features.vtt",
            t("WEBVTT - a title\nKind: captions\n\nSTYLE\n::cue { color: yellow }\n\nREGION\nid:fred\n\nNOTE a comment\nover two lines\n\nintro\n00:01.000 --> 00:02.000 align:start position:10%\n<v Roger Bingham>We are <b>live</b>.\n\n00:00:03.000 --> 00:00:04.000 line:0\n<c.loud>Hours</c> and &gt; entities.\n"),
            Texts(&["We are live.", "Hours and > entities."], |r| r.cues == 2),
        ),
        ("header-no-blank.vtt", t("WEBVTT\n00:01.000 --> 00:02.000\nRight after the header.\n"), Texts(&["Right after the header."], any)),
        (
            "youtube-rolling.vtt",
            t("WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nso today we are\n\n00:00:02.000 --> 00:00:02.010\nso today we are\n\n00:00:02.010 --> 00:00:04.000\nso today we are\nmaking bread.\n"),
            Texts(&["so today we are making bread."], |r| r.repeated == 2),
        ),
        ("inline-timestamps.vtt", t("WEBVTT\n\n00:00:00.000 --> 00:00:03.000\nso<00:00:01.000><c> this</c><00:00:02.000><c> works.</c>\n"), Texts(&["so this works."], any)),
        ("no-header.vtt", t("00:01.000 --> 00:02.000\nhello\n"), Error(1, "first line must be `WEBVTT`")),
        ("header-only.vtt", t("WEBVTT\n\nNOTE nothing here\n"), Error(3, "no cue")),
        ("identifier-without-timing.vtt", t("WEBVTT\n\ncue-1\nno timing here\n"), Error(4, "no timing line")),
        ("bad-time.vtt", t("WEBVTT\n\n00:01.000 --> 00:0x.000\nhello\n"), Error(3, "bad end time")),
        (
            "whisper.json",
            t(r#"{"text": " Hello world. Next.", "segments": [{"id": 0, "start": 0.0, "end": 2.0, "text": " Hello world.", "words": [{"word": " Hello", "start": 0.0, "end": 0.8, "probability": 0.9}, {"word": " world.", "start": 0.9, "end": 2.0}]}, {"id": 1, "start": 2.5, "end": 3.5, "text": " Next."}], "language": "en"}"#),
            Texts(&["Hello world.", "Next."], any),
        ),
        (
            "whisperx-untimed-word.json",
            t(r#"{"segments": [{"start": 0.0, "end": 4.0, "text": "In 1990 we left.", "words": [{"word": "In", "start": 0.0, "end": 0.5}, {"word": "1990"}, {"word": "we", "start": 2.0, "end": 2.5}, {"word": "left.", "start": 2.6, "end": 4.0}]}]}"#),
            Texts(&["In 1990 we left."], any),
        ),
        ("segment-array.json", t(r#"[{"start": 1, "end": 2, "text": "bare array."}]"#), Texts(&["bare array."], any)),
        ("word-list.json", t(r#"[{"word": "we", "start": 0.0, "end": 0.3}, {"word": "knead", "start": 0.4, "end": 0.8}, {"word": "it.", "start": 0.9, "end": 1.2}, {"word": "Then", "start": 5.0, "end": 5.3}, {"word": "bake", "start": 5.4, "end": 5.8}]"#), Texts(&["we knead it.", "Then bake"], |r| r.cues == 5 && r.merged == 3)),
        ("words-object.json", t(r#"{"words": [{"text": "hello", "start": 0.0, "end": 0.5}, {"text": "there", "start": 0.6, "end": 1.0}]}"#), Texts(&["hello there"], any)),
        (
            "vosk-utterances.json",
            t("{\"result\": [{\"conf\": 1.0, \"end\": 0.5, \"start\": 0.1, \"word\": \"first\"}], \"text\": \"first\"}\n{\"text\": \"\"}\n{\"result\": [{\"conf\": 0.9, \"end\": 9.5, \"start\": 9.0, \"word\": \"second\"}], \"text\": \"second\"}\n"),
            Texts(&["first", "second"], |r| r.cues == 2),
        ),
        ("truncated.json", t("{\"segments\": [\n  {\"start\": 0.0, \"end\": 1.0, \"text\": \"ok\"},\n  {\"start\": 1.0, \"end\""), Error(3, "not valid JSON")),
        ("negative.json", t("{\"segments\": [\n  {\"start\": 0.0, \"end\": 1.0, \"text\": \"ok\"},\n  {\"start\": -1.0, \"end\": 1.0, \"text\": \"bad\"}\n]}"), Error(3, "segments[1].start: time -1 is not in [0, 360000] seconds")),
        ("end-before-start.json", t("{\"segments\": [\n  {\"start\": 5.0, \"end\": 1.0, \"text\": \"bad\"}\n]}"), Error(3, "segments[0]: end 1 is before start 5")),
        ("huge-number.json", t("[{\"word\": \"x\", \"start\": 1e999, \"end\": 2}]"), Error(1, "not valid JSON")),
        ("not-a-transcript.json", t("\n\n{\"title\": \"my video\", \"duration\": 12}"), Error(3, "not a transcript")),
        ("missing-text.json", t("{\"segments\": [{\"start\": 0, \"end\": 1}]}"), Error(1, "missing field `text`")),
        ("empty.json", t("  \n"), Error(1, "empty file")),
    ]
}

#[test]
fn every_file_of_the_matrix_is_read_or_a_coded_error_on_its_line() {
    let dir = dir();
    let cases = cases();
    assert!(cases.len() >= 25, "the issue asks for at least 25 odd files");
    let mut failures = Vec::new();
    for (name, bytes, want) in &cases {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        let got = read_file(&path, &AlignOptions::default());
        let ok = match (want, &got) {
            (Texts(texts, check), Ok((c, r))) => c.iter().map(|c| c.text.as_str()).collect::<Vec<_>>() == *texts && check(r),
            (Check(check), Ok((c, r))) => check(c, r),
            (Error(line, needle), Err(e @ Error::Subtitles { path: p, line: l, reason })) => {
                p == &path && l == line && reason.contains(needle) && e.code() == "Subtitles"
            }
            _ => false,
        };
        if !ok {
            let shown = match &got {
                Ok((c, r)) => format!("Ok({:?}, {r:?})", c.iter().map(|c| &c.text).take(4).collect::<Vec<_>>()),
                Err(e) => format!("Err({e:?})"),
            };
            failures.push(format!("{name}: got {shown}"));
        }
    }
    std::fs::remove_dir_all(&dir).ok();
    assert!(failures.is_empty(), "{} of {} cases:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[test]
fn times_are_kept_and_the_format_is_sniffed_without_an_extension() {
    let dir = dir().join("sniff");
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("captions.txt");
    std::fs::write(&p, "WEBVTT\n\n01:02.250 --> 01:04.000\nSniffed.\n").unwrap();
    let (c, _) = read_file(&p, &AlignOptions::default()).unwrap();
    assert_eq!(c, [Caption { start: 62.25, end: 64.0, text: "Sniffed.".into() }]);
    let p = dir.join("transcript");
    std::fs::write(&p, r#"{"segments": [{"start": 1.5, "end": 2.5, "text": "json"}]}"#).unwrap();
    assert_eq!(read_file(&p, &AlignOptions::default()).unwrap().0[0].start, 1.5);
    let missing = read_file(Path::new("/nonexistent/x.srt"), &AlignOptions::default()).unwrap_err();
    assert_eq!(missing.code(), "Io");
    std::fs::remove_dir_all(&dir).ok();
}

/// Found by the `subtitle_tracks` fuzz target: an MP4 with a mov_text track whose demuxer returns a
/// read error on every call. ffmpeg-next's packet iterator retried it forever; it is now a decode
/// error after 64 in a row (or the cues before it), within a second.
/// `__test__/fixtures/subtitles/mov-text.mp4` with the two bytes a fuzzer changed in the video
/// track's sample sizes (`stsz`): sample 11 of size 0 and sample 12 of 0x2800_0000 bytes more (about
/// 640 MiB, past the file), so that every read of it fails to allocate — the subtitle-track reader
/// then retried forever (`ffmpeg-next`'s packet iterator never gives up on a read error).
fn every_read_failing_mp4() -> PathBuf {
    let mut d = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../__test__/fixtures/subtitles/mov-text.mp4")).unwrap();
    let stsz = d.windows(4).position(|w| w == b"stsz").expect("the video track's sample sizes");
    let entry = |k: usize| stsz + 16 + 4 * k..stsz + 20 + 4 * k;
    let twelve = u32::from_be_bytes(d[entry(12)].try_into().unwrap());
    assert!(twelve < 1 << 24, "sample 12 of the fixture is small ({twelve} bytes)");
    d[entry(11)].copy_from_slice(&0u32.to_be_bytes());
    d[entry(12)].copy_from_slice(&(twelve + 0x2800_0000).to_be_bytes());
    let out = std::env::temp_dir().join(format!("videobert-every-read-fails-{}.mp4", std::process::id()));
    std::fs::write(&out, d).unwrap();
    out
}

#[test]
fn a_track_whose_every_read_fails_ends() {
    use videobert_video::subtitles::embedded::{read_track, tracks};
    let path = every_read_failing_mp4();
    let t0 = std::time::Instant::now();
    let listed = tracks(&path).unwrap();
    assert_eq!(listed.iter().map(|t| (t.codec.as_str(), t.text)).collect::<Vec<_>>(), [("mov_text", true)]);
    let read = read_track(&path, 0);
    assert!(t0.elapsed().as_secs_f64() < 5.0, "took {:?}", t0.elapsed());
    match read {
        Ok(cues) => assert!(cues.iter().all(|c| c.start >= 0.0 && c.end >= c.start), "{cues:?}"),
        Err(e) => assert!(matches!(e, Error::Decode { .. } | Error::Subtitles { .. }), "{e:?}"),
    }
}
