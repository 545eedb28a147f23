//! `videobert manifest DIR`: every video under a directory paired with its timed text — a sidecar
//! named after it, else a text subtitle track inside it — written as a JSONL manifest.
//!
//! Sidecars of `talk.mp4` are the files beside it named `talk.srt`, `talk.vtt`, `talk.json`, or
//! with a language tag, `talk.en.vtt`, `talk.pt-BR.srt`. One is chosen per video: of the language
//! asked for (`language`: a tag, matched exactly or as a prefix, `en` ⊂ `en-US`) else the untagged
//! file, else English, else the first tag in order; of that language JSON first (a recogniser's, with
//! word times), then WebVTT, then SubRip. A candidate that does not read is reported and the next one
//! tried. Videos with no readable text are listed, not written (`without_text`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{embedded, read_file, AlignOptions, SubtitleFormat};
use crate::error::{Error, Result};
use crate::manifest::{is_video_path, walk, SubtitleSource};

/// A sidecar file of a video.
#[derive(Debug, Clone, PartialEq)]
pub struct Sidecar {
    pub path: PathBuf,
    pub language: Option<String>,
    pub format: SubtitleFormat,
}

/// The language tag of a sidecar name's middle part (`en`, `pt-BR`, `eng`), if it is one.
fn language_tag(s: &str) -> Option<&str> {
    let ok = !s.is_empty()
        && s.len() <= 12
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && s.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
    (ok && !s.eq_ignore_ascii_case("info")).then_some(s)
}

/// The sidecar candidates of `video` among `names` (the file names of its directory).
pub fn candidates(video: &Path, names: &[String]) -> Vec<Sidecar> {
    let Some(stem) = video.file_stem().and_then(|s| s.to_str()) else { return vec![] };
    let dir = video.parent().unwrap_or(Path::new(""));
    let mut out = Vec::new();
    for name in names {
        let Some(rest) = name.strip_prefix(stem).and_then(|r| r.strip_prefix('.')) else { continue };
        let path = dir.join(name);
        let Some(format) = SubtitleFormat::from_path(&path) else { continue };
        let middle = &rest[..rest.rfind('.').unwrap_or(0)];
        let language = match middle {
            "" => None,
            m => match language_tag(m) {
                Some(t) => Some(t.to_string()),
                None => continue,
            },
        };
        out.push(Sidecar { path, language, format });
    }
    out
}

fn matches(tag: &str, wanted: &str) -> bool {
    let (t, w) = (tag.to_ascii_lowercase().replace('_', "-"), wanted.to_ascii_lowercase().replace('_', "-"));
    t == w || t.starts_with(&format!("{w}-"))
}

/// Candidates in the order they are tried (see the module notes).
pub fn preference(mut c: Vec<Sidecar>, language: Option<&str>) -> Vec<Sidecar> {
    let rank_lang = |s: &Sidecar| -> (u8, String) {
        let tag = s.language.clone().unwrap_or_default();
        let r = match (&s.language, language) {
            (Some(t), Some(w)) if matches(t, w) => 0,
            (_, Some(_)) => 9, // another language than the one asked for: never chosen
            (None, None) => 0,
            (Some(t), None) if matches(t, "en") || matches(t, "eng") => 1,
            (Some(_), None) => 2,
        };
        (r, tag)
    };
    let rank_format = |s: &Sidecar| match s.format {
        SubtitleFormat::Json => 0,
        SubtitleFormat::Vtt => 1,
        SubtitleFormat::Srt => 2,
    };
    c.retain(|s| rank_lang(s).0 < 9);
    c.sort_by_key(|s| (rank_lang(s), rank_format(s)));
    c
}

/// What `build_manifest` found for one video.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Paired {
    pub video: PathBuf,
    pub source: SubtitleSource,
    pub captions: usize,
}

/// A candidate that could not be read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unreadable {
    pub video: PathBuf,
    pub source: String,
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestReport {
    pub out: PathBuf,
    pub videos: usize,
    pub paired: Vec<Paired>,
    pub without_text: Vec<PathBuf>,
    pub unreadable: Vec<Unreadable>,
}

/// Options of `build_manifest`.
#[derive(Debug, Clone, Default)]
pub struct ManifestBuild {
    /// The language to pair (a tag: `en`, `de`, `pt-BR`); None: untagged, else English, else any.
    pub language: Option<String>,
    /// Also look inside each video for a text subtitle track when it has no sidecar.
    pub embedded: bool,
    pub align: AlignOptions,
}

/// `p` relative to `base` when under it (so the set moves with its manifest), else absolute.
fn portable(p: &Path, base: &Path) -> PathBuf {
    p.strip_prefix(base).map(Path::to_path_buf).unwrap_or_else(|_| p.to_path_buf())
}

/// Pair every video under `dirs` with its text and write the manifest to `out` (atomically).
pub fn build_manifest(dirs: &[PathBuf], out: &Path, opts: &ManifestBuild) -> Result<ManifestReport> {
    opts.align.validate()?;
    let mut videos = Vec::new();
    for d in dirs {
        if d.is_dir() {
            walk(d, &mut videos)?;
        } else if is_video_path(d) && d.is_file() {
            videos.push(d.clone());
        } else {
            return Err(Error::io(d, std::io::Error::new(std::io::ErrorKind::NotFound, "not a directory or a video file")));
        }
    }
    let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let base = abs(out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")));
    let mut listings: BTreeMap<PathBuf, Vec<String>> = BTreeMap::new();
    let mut report = ManifestReport { out: abs(out), videos: videos.len(), paired: vec![], without_text: vec![], unreadable: vec![] };
    let mut lines = String::new();
    for video in videos {
        let video = abs(&video);
        let dir = video.parent().unwrap_or(Path::new("/")).to_path_buf();
        let names = listings.entry(dir.clone()).or_insert_with(|| {
            let mut n: Vec<String> = std::fs::read_dir(&dir).map(|r| r.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect()).unwrap_or_default();
            n.sort();
            n
        });
        let mut found: Option<(SubtitleSource, usize)> = None;
        for s in preference(candidates(&video, names), opts.language.as_deref()) {
            match read_file(&s.path, &opts.align) {
                Ok((c, _)) => {
                    found = Some((SubtitleSource { path: Some(s.path), track: None, language: s.language }, c.len()));
                    break;
                }
                Err(e) => report.unreadable.push(Unreadable {
                    video: video.clone(),
                    source: s.path.display().to_string(),
                    code: e.code().into(),
                    message: e.to_string(),
                }),
            }
        }
        if found.is_none() && opts.embedded {
            found = embedded_track(&video, opts, &mut report);
        }
        match found {
            Some((source, captions)) => {
                let written = SubtitleSource { path: source.path.as_deref().map(|p| portable(p, &base)), ..source.clone() };
                let subtitles = if written.track.is_none() && written.language.is_none() {
                    serde_json::json!(written.path)
                } else {
                    serde_json::to_value(&written).expect("a source serialises")
                };
                // `video` first, as a person writes a manifest line
                let video_json = serde_json::to_string(&portable(&video, &base)).expect("a path serialises");
                lines.push_str(&format!("{{\"video\":{video_json},\"subtitles\":{subtitles}}}\n"));
                report.paired.push(Paired { video, source, captions });
            }
            None => report.without_text.push(video),
        }
    }
    crate::fsio::write_atomic(out, lines.as_bytes())?;
    Ok(report)
}

/// The first text track of the asked language (any, when none is asked) that reads.
fn embedded_track(video: &Path, opts: &ManifestBuild, report: &mut ManifestReport) -> Option<(SubtitleSource, usize)> {
    let tracks = match embedded::tracks(video) {
        Ok(t) => t,
        Err(e) => {
            report.unreadable.push(Unreadable { video: video.into(), source: "(subtitle tracks)".into(), code: e.code().into(), message: e.to_string() });
            return None;
        }
    };
    for t in tracks.into_iter().filter(|t| t.text) {
        if let (Some(w), Some(l)) = (opts.language.as_deref(), t.language.as_deref()) {
            if !(matches(l, w) || (w.len() == 2 && l.len() == 3 && l.starts_with(w))) {
                continue;
            }
        }
        match embedded::read_track(video, t.track).map(|c| super::align(c, &opts.align)) {
            Ok((c, _)) if !c.is_empty() => return Some((SubtitleSource { path: None, track: Some(t.track), language: t.language }, c.len())),
            Ok(_) => {}
            Err(e) => {
                report.unreadable.push(Unreadable { video: video.into(), source: format!("track {}", t.track), code: e.code().into(), message: e.to_string() })
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn sidecars_are_found_by_name_and_ranked() {
        let v = Path::new("/d/talk.mp4");
        let all = names(&["talk.mp4", "talk.srt", "talk.en.vtt", "talk.de.srt", "talk.info.json", "talk2.srt", "talk.json", "talk.txt", "talks.srt"]);
        let c = candidates(v, &all);
        let files = |c: &[Sidecar]| c.iter().map(|s| s.path.file_name().unwrap().to_str().unwrap().to_string()).collect::<Vec<_>>();
        assert_eq!(files(&c), ["talk.srt", "talk.en.vtt", "talk.de.srt", "talk.json"]);
        assert_eq!(files(&preference(c.clone(), None)), ["talk.json", "talk.srt", "talk.en.vtt", "talk.de.srt"]);
        assert_eq!(files(&preference(c.clone(), Some("de"))), ["talk.de.srt"]);
        assert_eq!(files(&preference(candidates(v, &names(&["talk.en-US.vtt", "talk.fr.srt"])), Some("en"))), ["talk.en-US.vtt"]);
        assert_eq!(files(&preference(candidates(v, &names(&["talk.fr.srt", "talk.en.srt"])), None)), ["talk.en.srt", "talk.fr.srt"]);
    }
}
