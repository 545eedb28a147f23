//! Subtitles and transcripts (videobert_video::subtitles): reading one file or track as captions,
//! listing a video's subtitle tracks, and pairing a folder of videos with their text into a manifest.

use std::path::{Path, PathBuf};

use napi::bindgen_prelude::*;
use napi_derive::napi;
use video::subtitles::{AlignOptions, AlignReport};
use videobert_video as video;

use crate::{spawn_promise, to_napi_error};

/// Align options from the optional fields (unset: the defaults); validated where they are used.
pub(crate) fn align_options(words: Option<u32>, gap: Option<f64>) -> AlignOptions {
    let d = AlignOptions::default();
    AlignOptions { max_words: words.map(|w| w as usize).unwrap_or(d.max_words), max_gap: gap.unwrap_or(d.max_gap) }
}

/// What turning cues into captions did, counted (the rule: docs/subtitles.md).
#[napi(object)]
pub struct NativeAlignReport {
    /// Cues read.
    pub cues: u32,
    /// Captions made.
    pub captions: u32,
    /// Cues with no spoken text (empty, or only a sound annotation such as `[Music]`), dropped.
    pub empty: u32,
    /// Cues out of time order in the file (sorted).
    pub reordered: u32,
    /// Rolling cues whose repeated lines were removed.
    pub repeated: u32,
    /// Cues overlapping the one before (kept).
    pub overlapping: u32,
    /// Cues merged into the caption before.
    pub merged: u32,
    /// Extra captions made by splitting long cues.
    pub split: u32,
    /// Captions starting at or after the video's end (dropped).
    pub past_end: u32,
    /// Captions running past the video's end (cut there).
    pub clipped: u32,
    /// Lines read as Windows-1252 because they were not UTF-8.
    pub latin_lines: u32,
}

impl From<AlignReport> for NativeAlignReport {
    fn from(r: AlignReport) -> Self {
        let n = |v: usize| v as u32;
        Self {
            cues: n(r.cues),
            captions: n(r.captions),
            empty: n(r.empty),
            reordered: n(r.reordered),
            repeated: n(r.repeated),
            overlapping: n(r.overlapping),
            merged: n(r.merged),
            split: n(r.split),
            past_end: n(r.past_end),
            clipped: n(r.clipped),
            latin_lines: n(r.latin_lines),
        }
    }
}

/// A caption: seconds from the video's first frame, and its text.
#[napi(object)]
pub struct NativeCaption {
    pub start: f64,
    pub end: f64,
    pub text: String,
}

#[napi(object)]
pub struct NativeSubtitles {
    pub captions: Vec<NativeCaption>,
    pub report: NativeAlignReport,
}

/// Options of `readSubtitles`.
#[napi(object)]
pub struct NativeSubtitleOptions {
    /// Read the video's n-th subtitle track instead of a sidecar file (`path` is then the video).
    pub track: Option<u32>,
    /// The most words of one caption. @default 16
    pub caption_words: Option<u32>,
    /// The longest silence (seconds) inside one merged caption. @default 1
    pub caption_gap: Option<f64>,
}

/// Read a SubRip, WebVTT or recogniser-JSON file (or a video's subtitle track) as aligned captions.
#[napi(ts_return_type = "Promise<NativeSubtitles>")]
pub fn read_subtitles(env: &Env, path: String, options: Option<NativeSubtitleOptions>) -> Result<Object<'_>> {
    let o = options.unwrap_or(NativeSubtitleOptions { track: None, caption_words: None, caption_gap: None });
    let align = align_options(o.caption_words, o.caption_gap);
    align.validate().map_err(to_napi_error)?;
    let source = match o.track {
        Some(t) => video::manifest::SubtitleSource { path: None, track: Some(t as usize), language: None },
        None => video::manifest::SubtitleSource { path: Some(PathBuf::from(&path)), track: None, language: None },
    };
    spawn_promise(env, move || {
        let (captions, report) = video::subtitles::read_source(Path::new(&path), &source, &align).map_err(to_napi_error)?;
        Ok(NativeSubtitles {
            captions: captions.into_iter().map(|c| NativeCaption { start: c.start, end: c.end, text: c.text }).collect(),
            report: report.into(),
        })
    })
}

/// A subtitle stream of a video.
#[napi(object)]
pub struct NativeSubtitleTrack {
    /// The n-th subtitle stream (a manifest's `{"track": n}`).
    pub track: u32,
    pub codec: String,
    pub language: Option<String>,
    /// Whether it holds text (bitmap tracks hold pictures of text and cannot be read).
    pub text: bool,
}

/// The subtitle streams of a video.
#[napi(ts_return_type = "Promise<NativeSubtitleTrack[]>")]
pub fn subtitle_tracks(env: &Env, video_path: String) -> Result<Object<'_>> {
    spawn_promise(env, move || {
        let t = video::subtitles::embedded::tracks(Path::new(&video_path)).map_err(to_napi_error)?;
        Ok(t.into_iter().map(|t| NativeSubtitleTrack { track: t.track as u32, codec: t.codec, language: t.language, text: t.text }).collect::<Vec<_>>())
    })
}

/// Options of `buildManifest`.
#[napi(object)]
pub struct NativeManifestBuildOptions {
    /// The language to pair (`en`, `de`, `pt-BR`). @default untagged files, else English, else any
    pub language: Option<String>,
    /// Look inside a video for a text subtitle track when it has no sidecar. @default true
    pub embedded: Option<bool>,
    pub caption_words: Option<u32>,
    pub caption_gap: Option<f64>,
}

/// A video `buildManifest` paired with text: its sidecar file or its subtitle track.
#[napi(object)]
pub struct NativePairedVideo {
    pub video: String,
    /// The sidecar file, when the text is one.
    pub subtitles: Option<String>,
    /// The subtitle track, when the text is inside the video.
    pub track: Option<u32>,
    pub language: Option<String>,
    /// Captions its text gives.
    pub captions: u32,
}

/// A video whose subtitles did not read: the source tried, the error code and message.
#[napi(object)]
pub struct NativeUnreadableSubtitles {
    pub video: String,
    pub source: String,
    pub code: String,
    pub message: String,
}

/// What `buildManifest` wrote and found.
#[napi(object)]
pub struct NativeManifestReport {
    pub out: String,
    pub videos: u32,
    pub paired: Vec<NativePairedVideo>,
    /// Videos with no readable text (not written to the manifest).
    pub without_text: Vec<String>,
    /// Subtitle files or tracks that were tried and could not be read.
    pub unreadable: Vec<NativeUnreadableSubtitles>,
}

/// Pair every video under `inputs` (directories, searched recursively, or video files) with its
/// sidecar subtitles or an embedded text track, and write the JSONL manifest `out`.
#[napi(ts_return_type = "Promise<NativeManifestReport>")]
pub fn build_manifest(env: &Env, inputs: Vec<String>, out: String, options: Option<NativeManifestBuildOptions>) -> Result<Object<'_>> {
    let o = options.unwrap_or(NativeManifestBuildOptions { language: None, embedded: None, caption_words: None, caption_gap: None });
    let opts = video::subtitles::sidecar::ManifestBuild {
        language: o.language,
        embedded: o.embedded.unwrap_or(true),
        align: align_options(o.caption_words, o.caption_gap),
    };
    spawn_promise(env, move || {
        let dirs: Vec<PathBuf> = inputs.into_iter().map(PathBuf::from).collect();
        let r = video::subtitles::sidecar::build_manifest(&dirs, Path::new(&out), &opts).map_err(to_napi_error)?;
        let s = |p: &Path| p.display().to_string();
        Ok(NativeManifestReport {
            out: s(&r.out),
            videos: r.videos as u32,
            paired: r
                .paired
                .iter()
                .map(|p| NativePairedVideo {
                    video: s(&p.video),
                    subtitles: p.source.path.as_deref().map(s),
                    track: p.source.track.map(|t| t as u32),
                    language: p.source.language.clone(),
                    captions: p.captions as u32,
                })
                .collect(),
            without_text: r.without_text.iter().map(|p| s(p)).collect(),
            unreadable: r
                .unreadable
                .into_iter()
                .map(|u| NativeUnreadableSubtitles { video: s(&u.video), source: u.source, code: u.code, message: u.message })
                .collect(),
        })
    })
}
