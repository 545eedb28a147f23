//! WebVTT (`.vtt`): the `WEBVTT` header, then blocks separated by blank lines — `NOTE`, `STYLE` and
//! `REGION` blocks (skipped), and cues: an optional identifier line, a timing line
//! `[HH:]MM:SS.mmm --> [HH:]MM:SS.mmm [settings]` (the cue settings ignored) and the cue's text
//! (voice `<v Speaker>`, class and style tags and inline timestamps removed: `text.rs`).
//!
//! Leniencies: `,` for `.`; a timing line right after the header without a blank line. Errors: no
//! `WEBVTT` header, an identifier not followed by a timing line, a timing line that does not parse,
//! a file with no cue.

use std::path::Path;

use super::srt::short;
use super::text::clean_cue;
use super::{timing_line, Cue};
use crate::error::{Error, Result};

pub fn parse(path: &Path, lines: &[String]) -> Result<Vec<Cue>> {
    let first = lines.first().map(|l| l.as_str()).unwrap_or("");
    if !(first == "WEBVTT" || first.starts_with("WEBVTT ") || first.starts_with("WEBVTT\t")) {
        return Err(Error::subtitles(path, 1, format!("not WebVTT: the first line must be `WEBVTT`, found {:?}", short(first))));
    }
    let mut cues = Vec::new();
    // the header block runs to the first blank line (or to a timing line)
    let mut i = 1;
    while i < lines.len() && !lines[i].trim().is_empty() && !lines[i].contains("-->") {
        i += 1;
    }
    while i < lines.len() {
        let line = lines[i].trim();
        if line.is_empty() {
            i += 1;
            continue;
        }
        let word = line.split([' ', '\t']).next().unwrap_or("");
        if matches!(word, "NOTE" | "STYLE" | "REGION") && !line.contains("-->") {
            while i < lines.len() && !lines[i].trim().is_empty() {
                i += 1;
            }
            continue;
        }
        let t = if line.contains("-->") { i } else { i + 1 };
        if !lines.get(t).is_some_and(|l| l.contains("-->")) {
            return Err(Error::subtitles(
                path,
                t.min(lines.len() - 1) + 1,
                format!("cue {:?} has no timing line (`00:01.000 --> 00:02.000`) after it", short(line)),
            ));
        }
        let (start, end) = timing_line(path, t + 1, &lines[t])?;
        let mut text = Vec::new();
        i = t + 1;
        while i < lines.len() && !lines[i].trim().is_empty() {
            text.push(lines[i].trim());
            i += 1;
        }
        cues.push(Cue { start, end, line: t + 1, text: clean_cue(&text), words: vec![] });
    }
    if cues.is_empty() {
        return Err(Error::subtitles(path, super::last_line(lines), "no cue in the file"));
    }
    Ok(cues)
}
