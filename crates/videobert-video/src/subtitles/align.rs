//! Cues → captions, the way the VideoBERT paper pairs speech with video: timed sentences, each later
//! mapped by its timestamps to the segments it overlaps (`shards::caption_segments`). The rule:
//!
//! 1. Cues are ordered by start time (a stable sort; out-of-order cues are counted as `reordered`).
//!    Cues with no spoken text are dropped (`empty`).
//! 2. Rolling captions (a video site's automatic captions repeat the previous cue's last line as the
//!    next cue's first line): a cue that starts within 0.1 s of the previous one's end loses its
//!    leading lines equal to that cue's trailing lines (`repeated`; a cue left empty is dropped).
//!    Other cues that overlap in time are kept as they are (`overlapping`).
//! 3. Short cues are merged into sentences: the next cue joins the current caption while the caption
//!    does not end a sentence (`.`, `?`, `!`, `…`, `。`, `？`, `！`), the gap between them is at most
//!    `max_gap` seconds and the two hold at most `max_words` words together (`merged`).
//! 4. A caption of more than `max_words` words is split at sentence ends, then into near-equal pieces
//!    of at most `max_words` words (`split`). A piece's times are its words' own where the recogniser
//!    gave them, else interpolated by character position within the cue.
//! 5. When the video's length is known (tokenization), captions that start at or after its end are
//!    dropped (`past_end`) and those that run past it are cut at the end (`clipped`).

use serde::{Deserialize, Serialize};

use super::{Cue, TimedWord};
use crate::error::{Error, Result};
use crate::manifest::Caption;

/// How cues become captions (step 3 and 4 of the rule).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AlignOptions {
    /// The most words of one caption. Default 16 (the `small` preset reads 32 word pieces).
    pub max_words: usize,
    /// The longest silence, seconds, inside a merged caption. Default 1.0.
    pub max_gap: f64,
}

impl Default for AlignOptions {
    fn default() -> Self {
        Self { max_words: 16, max_gap: 1.0 }
    }
}

impl AlignOptions {
    pub fn validate(&self) -> Result<()> {
        if !(1..=512).contains(&self.max_words) {
            return Err(Error::config("captionWords", format!("must be in [1, 512], got {}", self.max_words)));
        }
        if !(self.max_gap.is_finite() && (0.0..=60.0).contains(&self.max_gap)) {
            return Err(Error::config("captionGap", format!("must be in [0, 60] seconds, got {}", self.max_gap)));
        }
        Ok(())
    }
}

/// What aligning did, counted (summed over the videos of a tokenization).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlignReport {
    /// Cues read.
    pub cues: usize,
    /// Captions made.
    pub captions: usize,
    pub empty: usize,
    pub reordered: usize,
    pub repeated: usize,
    pub overlapping: usize,
    pub merged: usize,
    pub split: usize,
    pub past_end: usize,
    pub clipped: usize,
    /// Lines read as Windows-1252 because they were not UTF-8.
    pub latin_lines: usize,
}

impl AlignReport {
    pub fn add(&mut self, o: &AlignReport) {
        self.cues += o.cues;
        self.captions += o.captions;
        self.empty += o.empty;
        self.reordered += o.reordered;
        self.repeated += o.repeated;
        self.overlapping += o.overlapping;
        self.merged += o.merged;
        self.split += o.split;
        self.past_end += o.past_end;
        self.clipped += o.clipped;
        self.latin_lines += o.latin_lines;
    }
}

fn ends_sentence(text: &str) -> bool {
    let t = text.trim_end_matches(['"', '\'', ')', ']', '”', '’', '»', ' ']);
    t.ends_with(['.', '?', '!', '…', '。', '？', '！'])
}

/// Lines the rolling cue `next` repeats from `prev` at its start.
fn repeated_lines(prev: &str, next: &str) -> usize {
    let (p, n): (Vec<&str>, Vec<&str>) = (prev.lines().collect(), next.lines().collect());
    (1..=p.len().min(n.len())).rev().find(|&k| p[p.len() - k..] == n[..k]).unwrap_or(0)
}

/// A cue's words with times: its recogniser's where every word has them, else interpolated by
/// character position over the cue's span.
fn timed_words(c: &Cue) -> Vec<(String, f64, f64)> {
    // a recogniser's "word" may hold spaces ("New York"): each part is a word with its times
    if !c.words.is_empty() && c.words.iter().all(|w| w.start.is_some() && w.end.is_some()) {
        return c
            .words
            .iter()
            .flat_map(|w| {
                let (s, e) = (w.start.unwrap_or(c.start), w.end.unwrap_or(c.end));
                w.text.split_whitespace().map(move |part| (part.to_string(), s, e.max(s)))
            })
            .collect();
    }
    let words: Vec<&str> =
        if c.words.is_empty() { c.text.split_whitespace().collect() } else { c.words.iter().flat_map(|w: &TimedWord| w.text.split_whitespace()).collect() };
    let total: usize = words.iter().map(|w| w.chars().count() + 1).sum::<usize>().max(1);
    let span = c.end - c.start;
    let mut at = 0usize;
    words
        .into_iter()
        .map(|w| {
            let n = w.chars().count() + 1;
            let (a, b) = (c.start + span * at as f64 / total as f64, c.start + span * (at + n) as f64 / total as f64);
            at += n;
            (w.to_string(), a, b.min(c.end))
        })
        .collect()
}

/// Near-equal pieces of at most `max` words, cut at sentence ends first.
fn pieces(words: &[(String, f64, f64)], max: usize) -> Vec<&[(String, f64, f64)]> {
    let mut sentences = Vec::new();
    let mut from = 0;
    for (i, w) in words.iter().enumerate() {
        if ends_sentence(&w.0) || i + 1 == words.len() {
            sentences.push(&words[from..=i]);
            from = i + 1;
        }
    }
    let mut out = Vec::new();
    for s in sentences {
        let n = s.len().div_ceil(max);
        let size = s.len().div_ceil(n);
        out.extend(s.chunks(size));
    }
    out
}

/// The captions of a file's cues (the module's rule, steps 1–4).
pub fn align(mut cues: Vec<Cue>, opts: &AlignOptions) -> (Vec<Caption>, AlignReport) {
    let mut r = AlignReport { cues: cues.len(), ..Default::default() };
    r.reordered = cues.windows(2).filter(|w| w[1].start < w[0].start).count();
    cues.sort_by(|a, b| a.start.total_cmp(&b.start).then(a.end.total_cmp(&b.end)));
    let before = cues.len();
    cues.retain(|c| !c.text.trim().is_empty());
    r.empty = before - cues.len();

    let mut kept: Vec<Cue> = Vec::with_capacity(cues.len());
    for mut c in cues {
        if let Some(prev) = kept.last() {
            if c.words.is_empty() && prev.words.is_empty() && c.start <= prev.end + 0.1 {
                let k = repeated_lines(&prev.text, &c.text);
                if k > 0 {
                    r.repeated += 1;
                    c.text = c.text.lines().skip(k).collect::<Vec<_>>().join("\n");
                    if c.text.trim().is_empty() {
                        continue;
                    }
                }
            }
            if c.start < prev.end - 1e-6 {
                r.overlapping += 1;
            }
        }
        kept.push(c);
    }

    let words_of = |c: &Cue| c.text.split_whitespace().count();
    let mut groups: Vec<Vec<Cue>> = Vec::new();
    let mut count = 0;
    for c in kept {
        let n = words_of(&c);
        if let Some(g) = groups.last_mut() {
            let last = g.last().expect("groups are never empty");
            let text_end = &last.text;
            if !ends_sentence(text_end) && c.start - last.end <= opts.max_gap && count + n <= opts.max_words {
                count += n;
                r.merged += 1;
                g.push(c);
                continue;
            }
        }
        count = n;
        groups.push(vec![c]);
    }

    let mut out = Vec::new();
    for g in groups {
        let n: usize = g.iter().map(words_of).sum();
        if n <= opts.max_words {
            let text = g.iter().map(|c| c.text.split_whitespace().collect::<Vec<_>>().join(" ")).collect::<Vec<_>>().join(" ");
            let (start, end) = (g[0].start, g.iter().map(|c| c.end).fold(g[0].end, f64::max));
            out.push(Caption { start, end, text });
            continue;
        }
        let words: Vec<(String, f64, f64)> = g.iter().flat_map(timed_words).collect();
        let parts = pieces(&words, opts.max_words);
        r.split += parts.len().saturating_sub(1);
        for p in parts {
            let start = p[0].1;
            let end = p.iter().map(|w| w.2).fold(start, f64::max);
            out.push(Caption { start, end, text: p.iter().map(|w| w.0.as_str()).collect::<Vec<_>>().join(" ") });
        }
    }
    r.captions = out.len();
    (out, r)
}

/// Step 5: captions against the video's length.
pub fn clip_to_duration(captions: &mut Vec<Caption>, duration: f64, r: &mut AlignReport) {
    let before = captions.len();
    captions.retain(|c| c.start < duration);
    r.past_end += before - captions.len();
    for c in captions.iter_mut() {
        if c.end > duration {
            c.end = duration;
            r.clipped += 1;
        }
    }
    r.captions = r.captions.saturating_sub(before - captions.len());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cue(start: f64, end: f64, text: &str) -> Cue {
        Cue { start, end, text: text.into(), line: 0, words: vec![] }
    }
    fn texts(c: &[Caption]) -> Vec<&str> {
        c.iter().map(|c| c.text.as_str()).collect()
    }

    #[test]
    fn short_cues_merge_into_sentences() {
        let (c, r) =
            align(vec![cue(0.0, 1.0, "so today we"), cue(1.2, 2.0, "make bread."), cue(2.1, 3.0, "First"), cue(5.0, 6.0, "flour")], &AlignOptions::default());
        assert_eq!(texts(&c), ["so today we make bread.", "First", "flour"], "a sentence end and a 2 s gap both end a caption");
        assert_eq!((c[0].start, c[0].end), (0.0, 2.0));
        assert_eq!(r.merged, 1);
    }

    #[test]
    fn long_cues_split_with_interpolated_times() {
        let text = (0..40).map(|i| format!("w{i:02}")).collect::<Vec<_>>().join(" ");
        let (c, r) = align(vec![cue(10.0, 50.0, &text)], &AlignOptions { max_words: 16, max_gap: 1.0 });
        assert_eq!(c.len(), 3, "40 words → 3 pieces of 14, 14, 12");
        assert_eq!(c.iter().map(|c| c.text.split(' ').count()).collect::<Vec<_>>(), [14, 14, 12]);
        assert_eq!(r.split, 2);
        assert_eq!(c[0].start, 10.0);
        assert!((c[1].start - 24.0).abs() < 1e-9, "words of equal length: piece 2 starts at 14/40 of the span, got {}", c[1].start);
        assert!((c[2].end - 50.0).abs() < 1e-9);
    }

    #[test]
    fn rolling_captions_lose_their_repeated_lines() {
        let (c, r) =
            align(vec![cue(0.0, 2.0, "hello world"), cue(2.0, 2.01, "hello world"), cue(2.01, 4.0, "hello world\nhow are you.")], &AlignOptions::default());
        assert_eq!(texts(&c), ["hello world how are you."]);
        assert_eq!(r.repeated, 2);
    }

    #[test]
    fn unsorted_overlapping_and_past_the_end() {
        let (mut c, mut r) = align(vec![cue(5.0, 7.0, "b."), cue(0.0, 6.0, "a."), cue(20.0, 21.0, "c.")], &AlignOptions::default());
        assert_eq!(texts(&c), ["a.", "b.", "c."]);
        assert_eq!((r.reordered, r.overlapping), (1, 1));
        clip_to_duration(&mut c, 6.5, &mut r);
        assert_eq!(texts(&c), ["a.", "b."]);
        assert_eq!((r.past_end, r.clipped, c[1].end, r.captions), (1, 1, 6.5, 2));
    }

    #[test]
    fn recogniser_word_times_are_used() {
        let words = ["one", "two.", "three", "four"]
            .iter()
            .enumerate()
            .map(|(i, w)| TimedWord { text: w.to_string(), start: Some(i as f64 * 10.0), end: Some(i as f64 * 10.0 + 1.0) })
            .collect();
        let c = Cue { start: 0.0, end: 31.0, text: "one two. three four".into(), line: 0, words };
        let (c, _) = align(vec![c], &AlignOptions { max_words: 3, max_gap: 1.0 });
        assert_eq!(texts(&c), ["one two.", "three four"]);
        assert_eq!((c[1].start, c[1].end), (20.0, 31.0));
    }
}
