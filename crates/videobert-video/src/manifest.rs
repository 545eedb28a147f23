//! Dataset manifests (SPEC §2.3): JSONL, one video per line
//! `{ "video": path, "id"?: str, "captions"?: [{ "start": s, "end": s, "text": str }],
//!    "subtitles"?: source | [source], "label"?: any }`
//! where a subtitle source is a sidecar path (`"talk.srt"`, `.vtt`, recogniser `.json`), or
//! `{ "path": "talk.en.vtt", "language": "en" }`, or a track inside the video `{ "track": 0 }` (the
//! video's first subtitle stream); every source listed is read (`subtitles::read_source`) and aligned
//! into captions when the video is tokenized, so a bad file fails that video alone. Or CSV with a
//! header containing `video` and optionally `start`, `end`, `text`, `label`, `id`, `subtitles`
//! (one row per caption, rows of a video grouped by path). Relative paths are resolved against the
//! manifest's directory, and every entry's `video` is made absolute, so shards and checkpoints made
//! from it work from any working directory; an entry without an `id` is named by its path as written
//! in the manifest (or on the command line), which does not depend on where the job ran. Files and
//! directories can be given instead (directories are searched recursively for video files; such
//! entries have no captions).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Caption {
    pub start: f64,
    pub end: f64,
    pub text: String,
}

/// Where a video's timed text is: a sidecar file or a subtitle track of the video itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubtitleSource {
    /// A SubRip, WebVTT or recogniser-JSON file (absolute once read from a manifest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// The n-th subtitle stream of the video (0 = the first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub track: Option<usize>,
    /// The text's language as written (`en`, `eng`, `pt-BR`); kept, not interpreted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged, expecting = "a subtitle file path, {\"path\": …, \"language\"?: …}, {\"track\": n}, or a list of them")]
enum SubtitleSpec {
    Path(PathBuf),
    Source(SubtitleSource),
    List(Vec<SubtitleItem>),
}

#[derive(Deserialize)]
#[serde(untagged, expecting = "a subtitle file path, or {\"path\": …, \"language\"?: …} or {\"track\": n}")]
enum SubtitleItem {
    Path(PathBuf),
    Source(SubtitleSource),
}

impl SubtitleSpec {
    fn sources(self) -> Vec<SubtitleSource> {
        let one = |i: SubtitleItem| match i {
            SubtitleItem::Path(p) => SubtitleSource { path: Some(p), track: None, language: None },
            SubtitleItem::Source(s) => s,
        };
        match self {
            SubtitleSpec::Path(p) => vec![one(SubtitleItem::Path(p))],
            SubtitleSpec::Source(s) => vec![s],
            SubtitleSpec::List(l) => l.into_iter().map(one).collect(),
        }
    }
}

fn check_source(src: &Path, line: usize, s: &SubtitleSource) -> Result<()> {
    if s.path.is_some() == s.track.is_some() {
        return Err(Error::input(
            format!("{}:{line}", src.display()),
            "a subtitle source has either `path` (a sidecar file) or `track` (a stream of the video), not both or neither",
        ));
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestEntry {
    pub id: String,
    pub video: PathBuf,
    #[serde(default)]
    pub captions: Vec<Caption>,
    /// Timed text read when the video is tokenized (paths absolute); its captions join `captions`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subtitles: Vec<SubtitleSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<serde_json::Value>,
    /// Every other field of the manifest line (or other column of the CSV row): kept with the video
    /// in the shards, never interpreted.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

#[derive(Deserialize)]
struct JsonLine {
    video: PathBuf,
    id: Option<String>,
    #[serde(default)]
    captions: Vec<Caption>,
    subtitles: Option<SubtitleSpec>,
    label: Option<serde_json::Value>,
    #[serde(flatten)]
    metadata: serde_json::Map<String, serde_json::Value>,
}

/// What a directory given to `tokenize` is searched for (the bundled FFmpeg reads more: `videobert formats`).
pub const VIDEO_EXTENSIONS: &[&str] = &[
    "mp4", "m4v", "mov", "qt", "mkv", "webm", "avi", "divx", "ogv", "ogg", "mpg", "mpeg", "m1v", "m2v", "mpv", "vob", "ts", "m2ts", "mts", "mxf", "flv", "f4v",
    "wmv", "asf", "rm", "rmvb", "3gp", "3g2", "dv", "y4m", "nut", "ivf", "mjpeg", "mjpg", "gif", "apng",
];

/// `p` against `base` (when relative), made absolute against the working directory.
fn resolve(base: &Path, p: &Path) -> PathBuf {
    let joined = if p.is_absolute() { p.to_path_buf() } else { base.join(p) };
    std::path::absolute(&joined).unwrap_or(joined)
}

fn check_caption(src: &Path, line: usize, c: &Caption) -> Result<()> {
    if !(c.start.is_finite() && c.end.is_finite() && c.start >= 0.0 && c.end >= c.start) {
        return Err(Error::input(format!("{}:{line}", src.display()), format!("caption times must satisfy 0 <= start <= end, got {}..{}", c.start, c.end)));
    }
    Ok(())
}

/// Read a `.jsonl` / `.json` or `.csv` manifest.
pub fn read_manifest(path: &Path) -> Result<Vec<ManifestEntry>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let base = path.parent().unwrap_or(Path::new("."));
    let is_csv = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let mut out: Vec<ManifestEntry> = Vec::new();
    if is_csv {
        let mut rdr = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(text.as_bytes());
        let headers = rdr.headers().map_err(|e| Error::input(path.display().to_string(), e.to_string()))?.clone();
        let col = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
        let video_col = col("video").ok_or_else(|| Error::input(path.display().to_string(), "CSV header has no `video` column"))?;
        let (start, end, text_col, label, id, subs) = (col("start"), col("end"), col("text"), col("label"), col("id"), col("subtitles"));
        // The other columns are the video's metadata (the values of its first row).
        let known = [Some(video_col), start, end, text_col, label, id, subs];
        let extra: Vec<(usize, String)> = headers.iter().enumerate().filter(|(i, _)| !known.contains(&Some(*i))).map(|(i, h)| (i, h.to_string())).collect();
        for (i, rec) in rdr.records().enumerate() {
            let line = i + 2;
            let rec = rec.map_err(|e| Error::input(format!("{}:{line}", path.display()), e.to_string()))?;
            let get = |c: Option<usize>| c.and_then(|c| rec.get(c)).filter(|s| !s.is_empty());
            let written = get(Some(video_col)).ok_or_else(|| Error::input(format!("{}:{line}", path.display()), "empty `video`"))?;
            let video = resolve(base, Path::new(written));
            let idx = match out.last() {
                Some(last) if last.video == video => out.len() - 1,
                _ => {
                    out.push(ManifestEntry {
                        id: get(id).map(String::from).unwrap_or_else(|| written.to_string()),
                        video: video.clone(),
                        captions: vec![],
                        subtitles: get(subs)
                            .map(|p| SubtitleSource { path: Some(resolve(base, Path::new(p))), track: None, language: None })
                            .into_iter()
                            .collect(),
                        label: get(label).map(|l| serde_json::Value::String(l.to_string())),
                        metadata: extra.iter().filter_map(|(i, h)| Some((h.clone(), serde_json::Value::String(get(Some(*i))?.to_string())))).collect(),
                    });
                    out.len() - 1
                }
            };
            if let Some(t) = get(text_col) {
                let num = |c: Option<usize>, name: &str| -> Result<f64> {
                    get(c)
                        .ok_or_else(|| Error::input(format!("{}:{line}", path.display()), format!("`{name}` missing")))?
                        .parse::<f64>()
                        .map_err(|e| Error::input(format!("{}:{line}", path.display()), format!("`{name}`: {e}")))
                };
                let c = Caption { start: num(start, "start")?, end: num(end, "end")?, text: t.to_string() };
                check_caption(path, line, &c)?;
                out[idx].captions.push(c);
            }
        }
    } else {
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let de = &mut serde_json::Deserializer::from_str(line);
            let j: JsonLine = serde_path_to_error::deserialize(de)
                .map_err(|e| Error::input(format!("{}:{}", path.display(), i + 1), format!("{} ({})", e.inner(), e.path())))?;
            for c in &j.captions {
                check_caption(path, i + 1, c)?;
            }
            let video = resolve(base, &j.video);
            let mut subtitles = j.subtitles.map(SubtitleSpec::sources).unwrap_or_default();
            for s in &mut subtitles {
                check_source(path, i + 1, s)?;
                s.path = s.path.as_deref().map(|p| resolve(base, p));
            }
            out.push(ManifestEntry {
                id: j.id.unwrap_or_else(|| j.video.display().to_string()),
                video,
                captions: j.captions,
                subtitles,
                label: j.label,
                metadata: j.metadata,
            });
        }
    }
    Ok(out)
}

/// Whether `p` has one of `VIDEO_EXTENSIONS`.
pub fn is_video_path(p: &Path) -> bool {
    p.extension().and_then(|e| e.to_str()).is_some_and(|e| VIDEO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// The video files under `dir`, recursively, sorted.
pub fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut items: Vec<PathBuf> = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?.filter_map(|e| e.ok().map(|e| e.path())).collect();
    items.sort();
    for p in items {
        if p.is_dir() {
            walk(&p, out)?;
        } else if is_video_path(&p) {
            out.push(p);
        }
    }
    Ok(())
}

impl ManifestEntry {
    /// The entry's captions with those of its subtitle sources (read and aligned), by start time.
    pub fn timed_captions(&self, opts: &crate::subtitles::AlignOptions) -> Result<(Vec<Caption>, crate::subtitles::AlignReport)> {
        let mut captions = self.captions.clone();
        let mut report = crate::subtitles::AlignReport::default();
        for s in &self.subtitles {
            let (c, r) = crate::subtitles::read_source(&self.video, s, opts)?;
            captions.extend(c);
            report.add(&r);
        }
        if !self.subtitles.is_empty() {
            captions.sort_by(|a, b| a.start.total_cmp(&b.start));
        }
        Ok((captions, report))
    }
}

/// Entries for plain files and directories (recursively, video extensions only, sorted).
pub fn entries_from_paths(paths: &[PathBuf]) -> Result<Vec<ManifestEntry>> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut files)?;
        } else {
            files.push(p.clone()); // missing files are reported per video, not here
        }
    }
    Ok(files
        .into_iter()
        .map(|given| ManifestEntry {
            id: given.display().to_string(),
            video: resolve(Path::new(""), &given),
            captions: vec![],
            subtitles: vec![],
            label: None,
            metadata: Default::default(),
        })
        .collect())
}
