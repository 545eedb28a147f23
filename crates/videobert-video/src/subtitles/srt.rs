//! SubRip (`.srt`): blocks of an optional cue number, a timing line `HH:MM:SS,mmm --> HH:MM:SS,mmm`
//! (anything after the end time, such as `X1:… Y2:…` positions, ignored) and text lines, separated
//! by blank lines.
//!
//! Leniencies: `.` for `,` and hours-less times; a missing cue number; text after a blank line inside
//! a cue (no number and no timing line follows) continues that cue, as players show it. Errors: a
//! timing line that does not parse, text before the first cue, a file with no cue.

use std::path::Path;

use super::text::clean_cue;
use super::{timing_line, Cue};
use crate::error::{Error, Result};

pub fn parse(path: &Path, lines: &[String]) -> Result<Vec<Cue>> {
    let mut cues: Vec<Cue> = Vec::new();
    // (timing, its line number, text lines) of the cue being read
    let mut open: Option<(f64, f64, usize, Vec<&str>)> = None;
    let mut i = 0;
    let close = |open: &mut Option<(f64, f64, usize, Vec<&str>)>, cues: &mut Vec<Cue>| {
        if let Some((start, end, line, text)) = open.take() {
            cues.push(Cue { start, end, line, text: clean_cue(&text), words: vec![] });
        }
    };
    while i < lines.len() {
        let line = lines[i].trim();
        if line.is_empty() {
            i += 1;
            continue;
        }
        // A block starts with a number and a timing line, or a timing line alone.
        let numbered = line.bytes().all(|b| b.is_ascii_digit()) && lines.get(i + 1).is_some_and(|n| n.contains("-->"));
        let t = if numbered { i + 1 } else { i };
        if lines[t].contains("-->") {
            close(&mut open, &mut cues);
            let (start, end) = timing_line(path, t + 1, &lines[t])?;
            let mut text = Vec::new();
            i = t + 1;
            while i < lines.len() && !lines[i].trim().is_empty() {
                text.push(lines[i].trim());
                i += 1;
            }
            open = Some((start, end, t + 1, text));
            continue;
        }
        match open.as_mut() {
            Some((_, _, _, text)) => {
                // text after a blank line inside a cue
                while i < lines.len() && !lines[i].trim().is_empty() && !lines[i].contains("-->") {
                    text.push(lines[i].trim());
                    i += 1;
                }
            }
            None => {
                return Err(Error::subtitles(
                    path,
                    i + 1,
                    format!("expected a cue number or a timing line (`00:00:01,000 --> 00:00:02,000`), found {:?}", short(line)),
                ))
            }
        }
    }
    close(&mut open, &mut cues);
    if cues.is_empty() {
        return Err(Error::subtitles(path, super::last_line(lines), "no cue in the file (empty, or not SubRip)"));
    }
    Ok(cues)
}

/// At most 40 characters of `s`, for error messages.
pub(super) fn short(s: &str) -> String {
    let mut out: String = s.chars().take(40).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}
