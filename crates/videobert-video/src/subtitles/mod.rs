//! Timed text a user already has, read as captions: SubRip and WebVTT sidecar files, speech-recogniser
//! JSON (Whisper segment lists, Vosk/Kaldi word lists) and subtitle tracks inside the video
//! (`embedded`), turned into the manifest's timed captions by `align` (the rule is documented there).
//!
//! Every reader is fuzzed (`fuzz/fuzz_targets/subtitles.rs`); a file that cannot be read is an
//! `Error::Subtitles` naming the file and the line, and what a reader was lenient about is counted
//! in the `AlignReport`, never silently guessed.

pub mod align;
pub mod embedded;
pub mod sidecar;
mod srt;
mod text;
mod transcript;
mod vtt;

use std::path::Path;

use serde::{Deserialize, Serialize};

pub use align::{align, clip_to_duration, AlignOptions, AlignReport};

use crate::error::{Error, Result};
use crate::manifest::Caption;

/// The latest time accepted anywhere in a subtitle file: 100 hours.
pub const MAX_SECONDS: f64 = 360_000.0;
/// The largest subtitle file read (a sanity bound: a 10-hour lecture's SRT is about 1 MB).
pub const MAX_FILE_BYTES: u64 = 64 << 20;

/// A word with the times a recogniser gave it (None: untimed, interpolated when a cue is split).
#[derive(Debug, Clone, PartialEq)]
pub struct TimedWord {
    pub text: String,
    pub start: Option<f64>,
    pub end: Option<f64>,
}

/// One cue as written in the file: its span, its plain text (lines separated by `\n`), the line it
/// starts on (0 when the format has no lines to name) and, from a recogniser, its timed words.
#[derive(Debug, Clone, PartialEq)]
pub struct Cue {
    pub start: f64,
    pub end: f64,
    pub text: String,
    pub line: usize,
    pub words: Vec<TimedWord>,
}

/// The formats of sidecar files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubtitleFormat {
    Srt,
    Vtt,
    Json,
}

impl SubtitleFormat {
    /// By extension (`.srt`, `.vtt`, `.json`), case-insensitive.
    pub fn from_path(p: &Path) -> Option<Self> {
        match p.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "srt" => Some(Self::Srt),
            "vtt" => Some(Self::Vtt),
            "json" => Some(Self::Json),
            _ => None,
        }
    }
}

/// The line an error about the whole file names: its last line with text (1 when it has none).
pub(crate) fn last_line(lines: &[String]) -> usize {
    lines.iter().rposition(|l| !l.trim().is_empty()).map_or(1, |i| i + 1)
}

/// `start --> end[ settings]` of SubRip and WebVTT, checked.
pub(crate) fn timing_line(path: &Path, line_no: usize, line: &str) -> Result<(f64, f64)> {
    let bad = |why: &str| Error::subtitles(path, line_no, format!("{why}: {:?}", srt::short(line.trim())));
    let mut parts = line.split("-->");
    let (Some(a), Some(b), None) = (parts.next(), parts.next(), parts.next()) else { return Err(bad("a timing line has one `-->`")) };
    let b = b.split_whitespace().next().unwrap_or("");
    let start = text::parse_timestamp(a).ok_or_else(|| bad("bad start time (expected HH:MM:SS,mmm or MM:SS.mmm)"))?;
    let end = text::parse_timestamp(b).ok_or_else(|| bad("bad end time (expected HH:MM:SS,mmm or MM:SS.mmm)"))?;
    if start > MAX_SECONDS || end > MAX_SECONDS {
        return Err(bad("a time past 100 hours"));
    }
    if end < start {
        return Err(Error::subtitles(path, line_no, format!("the cue ends ({end} s) before it starts ({start} s)")));
    }
    Ok((start, end))
}

/// The cues of a file's bytes, in the given format; with how many lines were read as Windows-1252.
pub fn parse(path: &Path, bytes: &[u8], format: SubtitleFormat) -> Result<(Vec<Cue>, usize)> {
    let (lines, decoded) = text::decode_lines(path, bytes)?;
    let cues = match format {
        SubtitleFormat::Srt => srt::parse(path, &lines)?,
        SubtitleFormat::Vtt => vtt::parse(path, &lines)?,
        SubtitleFormat::Json => transcript::parse(path, &lines.join("\n"))?,
    };
    if !cues.iter().any(|c| !c.text.trim().is_empty()) {
        return Err(Error::subtitles(path, last_line(&lines), "no spoken text in the file (every cue is empty or a sound annotation)"));
    }
    Ok((cues, decoded.latin_lines))
}

/// A sidecar file read and aligned into captions. The format is the extension's, else sniffed
/// (`WEBVTT` → WebVTT, `{`/`[` → JSON, otherwise SubRip).
pub fn read_file(path: &Path, opts: &AlignOptions) -> Result<(Vec<Caption>, AlignReport)> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(Error::subtitles(path, 1, format!("{} bytes: larger than the {} MiB a subtitle file may be", meta.len(), MAX_FILE_BYTES >> 20)));
    }
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let format = SubtitleFormat::from_path(path).unwrap_or_else(|| sniff(&bytes));
    let (cues, latin) = parse(path, &bytes, format)?;
    let (captions, mut report) = align(cues, opts);
    report.latin_lines = latin;
    Ok((captions, report))
}

/// The captions of one manifest subtitle source of `video`.
pub fn read_source(video: &Path, s: &crate::manifest::SubtitleSource, opts: &AlignOptions) -> Result<(Vec<Caption>, AlignReport)> {
    match (&s.path, s.track) {
        (Some(p), _) => read_file(p, opts),
        (None, Some(track)) => Ok(align(embedded::read_track(video, track)?, opts)),
        (None, None) => Err(Error::input("subtitles", "a subtitle source needs `path` or `track`")),
    }
}

fn sniff(bytes: &[u8]) -> SubtitleFormat {
    let start = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    let first = start.iter().find(|b| !b.is_ascii_whitespace());
    if start.starts_with(b"WEBVTT") {
        SubtitleFormat::Vtt
    } else if matches!(first, Some(b'{') | Some(b'[')) {
        SubtitleFormat::Json
    } else {
        SubtitleFormat::Srt
    }
}
