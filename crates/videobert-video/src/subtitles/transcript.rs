//! Speech-recogniser JSON, in its two common shapes:
//! - segment lists: `{"segments": [{"start", "end", "text", "words"?: [{"word", "start"?, "end"?}]}]}`
//!   (Whisper and its ports; words without times, as WhisperX writes for numbers, are kept untimed),
//!   or a bare array of such segments;
//! - word lists: `[{"word", "start", "end"}]`, `{"words": […]}`, or Vosk/Kaldi's
//!   `{"result": [{"word", "start", "end", "conf"}], "text"}` — several such objects one after another
//!   (one per utterance, as Vosk prints them) are read in turn. Each word is a cue; `align` joins them
//!   into sentences.
//!
//! Times are seconds (finite, ≥ 0, at most 100 hours) and `end ≥ start`; anything else is an error
//! naming the line, as is JSON that is neither shape.

use std::path::Path;

use serde::Deserialize;

use super::{Cue, TimedWord, MAX_SECONDS};
use crate::error::{Error, Result};

/// Seconds, checked while parsing (so the error carries the JSON's line).
#[derive(Clone, Copy)]
struct Seconds(f64);

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let v = f64::deserialize(d)?;
        if !(v.is_finite() && (0.0..=MAX_SECONDS).contains(&v)) {
            return Err(serde::de::Error::custom(format!("time {v} is not in [0, {MAX_SECONDS}] seconds")));
        }
        Ok(Seconds(v))
    }
}

#[derive(Deserialize)]
#[serde(try_from = "RawSegment")]
struct Segment(Cue);

#[derive(Deserialize)]
struct RawSegment {
    start: Seconds,
    end: Seconds,
    text: String,
    #[serde(default)]
    words: Vec<RawWord>,
}

#[derive(Deserialize)]
struct RawWord {
    #[serde(alias = "text")]
    word: String,
    start: Option<Seconds>,
    end: Option<Seconds>,
}

fn span(start: f64, end: f64) -> std::result::Result<(), String> {
    if end < start {
        return Err(format!("end {end} is before start {start}"));
    }
    Ok(())
}

impl TryFrom<RawSegment> for Segment {
    type Error = String;
    fn try_from(r: RawSegment) -> std::result::Result<Self, String> {
        span(r.start.0, r.end.0)?;
        let mut words = Vec::with_capacity(r.words.len());
        for w in r.words {
            if let (Some(s), Some(e)) = (w.start, w.end) {
                span(s.0, e.0).map_err(|m| format!("word {:?}: {m}", w.word.trim()))?;
            }
            words.push(TimedWord { text: w.word.trim().to_string(), start: w.start.map(|s| s.0), end: w.end.map(|e| e.0) });
        }
        words.retain(|w| !w.text.is_empty());
        Ok(Segment(Cue { start: r.start.0, end: r.end.0, text: r.text.split_whitespace().collect::<Vec<_>>().join(" "), line: 0, words }))
    }
}

#[derive(Deserialize)]
#[serde(try_from = "RawTimedWord")]
struct Word(Cue);

#[derive(Deserialize)]
struct RawTimedWord {
    #[serde(alias = "text")]
    word: String,
    start: Seconds,
    end: Seconds,
}

impl TryFrom<RawTimedWord> for Word {
    type Error = String;
    fn try_from(r: RawTimedWord) -> std::result::Result<Self, String> {
        span(r.start.0, r.end.0).map_err(|m| format!("word {:?}: {m}", r.word.trim()))?;
        let text = r.word.trim().to_string();
        Ok(Word(Cue {
            start: r.start.0,
            end: r.end.0,
            line: 0,
            words: vec![TimedWord { text: text.clone(), start: Some(r.start.0), end: Some(r.end.0) }],
            text,
        }))
    }
}

#[derive(Deserialize)]
struct Segments {
    segments: Vec<Segment>,
}
#[derive(Deserialize)]
struct Words {
    words: Vec<Word>,
}
#[derive(Deserialize)]
struct Vosk {
    #[serde(default)]
    result: Vec<Word>,
}

enum Shape {
    Segments,
    SegmentArray,
    WordArray,
    Words,
    Vosk,
}

fn shape(v: &serde_json::Value) -> Option<Shape> {
    let first_has = |a: &Vec<serde_json::Value>, key: &str| a.first().and_then(|x| x.as_object()).is_some_and(|o| o.contains_key(key));
    match v {
        serde_json::Value::Object(o) if o.contains_key("segments") => Some(Shape::Segments),
        serde_json::Value::Object(o) if o.contains_key("words") => Some(Shape::Words),
        serde_json::Value::Object(o) if o.contains_key("result") || (o.contains_key("text") && o.len() <= 2) => Some(Shape::Vosk),
        serde_json::Value::Array(a) if a.is_empty() || first_has(a, "word") => Some(Shape::WordArray),
        serde_json::Value::Array(a) if first_has(a, "text") => Some(Shape::SegmentArray),
        _ => None,
    }
}

pub fn parse(path: &Path, text: &str) -> Result<Vec<Cue>> {
    let mut cues = Vec::new();
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<serde_json::Value>();
    let mut values = 0;
    loop {
        let begin = stream.byte_offset();
        let value = match stream.next() {
            None => break,
            Some(Ok(v)) => v,
            Some(Err(e)) => return Err(Error::subtitles(path, e.line(), format!("not valid JSON: {e}"))),
        };
        values += 1;
        let slice = &text[begin..stream.byte_offset()];
        let line0 = text[..begin].matches('\n').count();
        let at = |e: serde_path_to_error::Error<serde_json::Error>| {
            let line = line0 + e.inner().line();
            let p = e.path().to_string();
            let msg = e.into_inner().to_string();
            let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
            Error::subtitles(path, line, if p == "." { msg } else { format!("{p}: {msg}") })
        };
        let line_of_value = line0 + 1 + slice[..slice.len() - slice.trim_start().len()].matches('\n').count();
        let got: Vec<Cue> = match shape(&value) {
            Some(Shape::Segments) => serde_path_to_error::deserialize::<_, Segments>(&mut serde_json::Deserializer::from_str(slice)).map_err(at)?.segments.into_iter().map(|s| s.0).collect(),
            Some(Shape::SegmentArray) => serde_path_to_error::deserialize::<_, Vec<Segment>>(&mut serde_json::Deserializer::from_str(slice)).map_err(at)?.into_iter().map(|s| s.0).collect(),
            Some(Shape::WordArray) => serde_path_to_error::deserialize::<_, Vec<Word>>(&mut serde_json::Deserializer::from_str(slice)).map_err(at)?.into_iter().map(|w| w.0).collect(),
            Some(Shape::Words) => serde_path_to_error::deserialize::<_, Words>(&mut serde_json::Deserializer::from_str(slice)).map_err(at)?.words.into_iter().map(|w| w.0).collect(),
            Some(Shape::Vosk) => serde_path_to_error::deserialize::<_, Vosk>(&mut serde_json::Deserializer::from_str(slice)).map_err(at)?.result.into_iter().map(|w| w.0).collect(),
            None => {
                return Err(Error::subtitles(
                    path,
                    line_of_value,
                    "JSON that is not a transcript: expected {\"segments\": [{start, end, text}]} (Whisper), [{word, start, end}], {\"words\": […]} or {\"result\": […]} (Vosk)",
                ))
            }
        };
        cues.extend(got);
    }
    if values == 0 {
        return Err(Error::subtitles(path, 1, "empty file: no JSON"));
    }
    Ok(cues)
}
