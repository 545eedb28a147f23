//! Bytes → lines of text, and a cue's markup → plain words.
//!
//! Encodings (each a documented leniency, never a silent guess): a UTF-8 or UTF-16 byte-order mark
//! decides; without one, each line that is valid UTF-8 is read as UTF-8 and any other line as
//! Windows-1252 (files edited in two tools mix the two). A NUL byte outside UTF-16 means the file is
//! not text: an error.
//!
//! Markup removed from cue text: HTML-like tags (`<i>`, `<b>`, `<u>`, `<c.class>`, `<v Speaker>`,
//! `<font …>`, `<ruby>`/`<rt>`, WebVTT's inline timestamps `<00:01.500>`), ASS/SSA override blocks
//! (`{\an8}`, `{\i1}`) and their `\N`/`\n`/`\h`; HTML entities (`&amp;`, `&#233;`, `&#xE9;`, …;
//! unknown ones are kept as written). Lines that are only a sound annotation (`[Music]`, `(applause)`,
//! `♪`) are dropped: no speech in them. Whitespace is collapsed.

use std::path::Path;

use crate::error::{Error, Result};

/// What reading the bytes had to be lenient about.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Decoded {
    /// Lines read as Windows-1252 because they were not valid UTF-8.
    pub latin_lines: usize,
    pub utf16: bool,
}

/// The file's lines (no line terminators; `\r\n`, `\n` and a lone `\r` all end a line).
pub fn decode_lines(path: &Path, bytes: &[u8]) -> Result<(Vec<String>, Decoded)> {
    let mut info = Decoded::default();
    let text: String = if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        decode_mixed(path, rest, &mut info)?
    } else if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        info.utf16 = true;
        utf16(path, rest, u16::from_le_bytes)?
    } else if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        info.utf16 = true;
        utf16(path, rest, u16::from_be_bytes)?
    } else {
        decode_mixed(path, bytes, &mut info)?
    };
    let lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).flat_map(|l| l.split('\r')).map(str::to_string).collect();
    Ok((lines, info))
}

fn utf16(path: &Path, bytes: &[u8], word: fn([u8; 2]) -> u16) -> Result<String> {
    if bytes.len() % 2 != 0 {
        return Err(Error::subtitles(path, line_of(bytes, bytes.len()), "UTF-16 text with an odd number of bytes (truncated)"));
    }
    let units: Vec<u16> = bytes.chunks_exact(2).map(|c| word([c[0], c[1]])).collect();
    String::from_utf16(&units).map_err(|_| Error::subtitles(path, 1, "invalid UTF-16 (an unpaired surrogate)"))
}

fn line_of(bytes: &[u8], at: usize) -> usize {
    1 + bytes[..at.min(bytes.len())].iter().filter(|&&b| b == b'\n').count()
}

fn decode_mixed(path: &Path, bytes: &[u8], info: &mut Decoded) -> Result<String> {
    if let Some(at) = bytes.iter().position(|&b| b == 0) {
        return Err(Error::subtitles(path, line_of(bytes, at), "a NUL byte: this is not a text file (UTF-16 needs its byte-order mark)"));
    }
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Ok(s.to_string());
    }
    let mut out = String::with_capacity(bytes.len() + bytes.len() / 8);
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        match std::str::from_utf8(line) {
            Ok(s) => out.push_str(s),
            Err(_) => {
                info.latin_lines += 1;
                out.extend(line.iter().map(|&b| windows_1252(b)));
            }
        }
    }
    Ok(out)
}

/// Windows-1252 (a superset of Latin-1's printable range); the five unassigned bytes map to U+FFFD.
fn windows_1252(b: u8) -> char {
    const HIGH: [char; 32] = [
        '€', '\u{FFFD}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{FFFD}', 'Ž', '\u{FFFD}', '\u{FFFD}', '‘', '’', '“', '”', '•', '–', '—',
        '˜', '™', 'š', '›', 'œ', '\u{FFFD}', 'ž', 'Ÿ',
    ];
    match b {
        0x80..=0x9F => HIGH[(b - 0x80) as usize],
        _ => b as char,
    }
}

/// The plain words of a cue's lines, one line of them per line kept (see the module notes; `align`
/// compares lines to find the lines rolling captions repeat); "" when nothing spoken is left.
pub fn clean_cue(lines: &[&str]) -> String {
    let mut words: Vec<String> = Vec::new();
    for line in lines {
        let plain = entities(&strip_markup(line));
        let plain = plain.split_whitespace().collect::<Vec<_>>().join(" ");
        if plain.is_empty() || is_annotation(&plain) {
            continue;
        }
        words.push(plain);
    }
    words.join("\n")
}

/// `[Music]`, `(applause)`, `♪ ♪`: a line with no speech.
fn is_annotation(line: &str) -> bool {
    let only_notes = line.chars().all(|c| matches!(c, '♪' | '♫' | '#' | ' ' | '-'));
    let bracketed =
        |open: char, close: char| line.starts_with(open) && line.ends_with(close) && line[1..line.len() - close.len_utf8()].find([open, close]).is_none();
    only_notes || bracketed('[', ']') || bracketed('(', ')')
}

fn strip_markup(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(c) = rest.chars().next() {
        let tail = &rest[c.len_utf8()..];
        match c {
            '<' if tail.starts_with(|n: char| n == '/' || n.is_ascii_alphanumeric()) => match tail.find('>') {
                Some(end) => {
                    // a tag is removed; a line break (`<br>`) stands for a space
                    if tail[..end].eq_ignore_ascii_case("br") || tail[..end].eq_ignore_ascii_case("br/") || tail[..end].eq_ignore_ascii_case("br /") {
                        out.push(' ');
                    }
                    rest = &tail[end + 1..];
                    continue;
                }
                None => out.push(c),
            },
            '{' if tail.starts_with('\\') => match tail.find('}') {
                Some(end) => {
                    rest = &tail[end + 1..];
                    continue;
                }
                None => out.push(c),
            },
            '\\' if tail.starts_with(['N', 'n', 'h']) => {
                out.push(' ');
                rest = &tail[1..];
                continue;
            }
            _ => out.push(c),
        }
        rest = tail;
    }
    out
}

fn entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let decoded = rest.find(';').filter(|&end| end <= 10).and_then(|end| entity(&rest[1..end]).map(|c| (c, end)));
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn entity(name: &str) -> Option<char> {
    if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse().ok()?,
        };
        return char::from_u32(code).filter(|c| !c.is_control() || c.is_whitespace());
    }
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => ' ',
        "lrm" | "rlm" => ' ',
        "hellip" => '…',
        "mdash" => '—',
        "ndash" => '–',
        "rsquo" => '’',
        "lsquo" => '‘',
        "ldquo" => '“',
        "rdquo" => '”',
        _ => return None,
    })
}

/// Seconds of a subtitle timestamp: `[H+:]MM:SS[.,]fff` (the fraction any number of digits, read as
/// a decimal; without hours the minutes may exceed 59). `None` when it is not one.
pub fn parse_timestamp(s: &str) -> Option<f64> {
    let s = s.trim();
    let (clock, frac) = match s.find(['.', ',']) {
        Some(at) => (&s[..at], &s[at + 1..]),
        None => (s, ""),
    };
    if !frac.bytes().all(|b| b.is_ascii_digit()) || frac.len() > 9 {
        return None;
    }
    let parts: Vec<&str> = clock.split(':').collect();
    let num = |p: &str| -> Option<u64> { (!p.is_empty() && p.len() <= 9 && p.bytes().all(|b| b.is_ascii_digit())).then(|| p.parse().ok()).flatten() };
    let (h, m, sec) = match parts.as_slice() {
        [h, m, sec] => (num(h)?, num(m)?, num(sec)?),
        [m, sec] => (0, num(m)?, num(sec)?),
        _ => return None,
    };
    if sec >= 60 || (parts.len() == 3 && m >= 60) {
        return None;
    }
    let fraction = if frac.is_empty() { 0.0 } else { frac.parse::<f64>().ok()? / 10f64.powi(frac.len() as i32) };
    Some((h * 3600 + m * 60 + sec) as f64 + fraction)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_entities_become_plain_words() {
        assert_eq!(clean_cue(&["<v Roger Bingham>We are in <i>New York</i> City"]), "We are in New York City");
        assert_eq!(
            clean_cue(&["{\\an8}Top &amp; <c.yellow>bottom</c>", "two&nbsp;lines &#233;t&#xE9; &bogus; A&B"]),
            "Top & bottom\ntwo lines été &bogus; A&B"
        );
        assert_eq!(clean_cue(&["<00:00:01.500>so<00:00:02.000> this"]), "so this");
        assert_eq!(clean_cue(&["one<br>two <b>bold</b>."]), "one two bold.");
        assert_eq!(clean_cue(&["[Music]"]), "");
        assert_eq!(clean_cue(&["♪ ♪", "(applause)", "- yes"]), "- yes");
        assert_eq!(clean_cue(&["a < b and 3<4"]), "a < b and 3<4", "a `<` before a letter or digit starts a tag only when closed");
    }

    #[test]
    fn timestamps() {
        assert_eq!(parse_timestamp("00:01:02,500"), Some(62.5));
        assert_eq!(parse_timestamp("01:02.25"), Some(62.25));
        assert_eq!(parse_timestamp("100:00:00.000"), Some(360000.0));
        assert_eq!(parse_timestamp("75:00.000"), Some(4500.0), "hours-less minutes may pass 59");
        assert_eq!(parse_timestamp("00:61:00,000"), None);
        assert_eq!(parse_timestamp("00:00:60,000"), None);
        assert_eq!(parse_timestamp("-00:00:01,000"), None);
        assert_eq!(parse_timestamp("00:00:01,0x0"), None);
        assert_eq!(parse_timestamp("5"), None);
    }

    #[test]
    fn encodings() {
        let p = Path::new("x.srt");
        let (l, d) = decode_lines(p, b"caf\xe9\r\nna\xc3\xafve\rthird").unwrap();
        assert_eq!(l, ["café", "naïve", "third"]);
        assert_eq!(d.latin_lines, 1);
        let mut le = vec![0xFF, 0xFE];
        le.extend("hé\nx".encode_utf16().flat_map(|u| u.to_le_bytes()));
        assert_eq!(decode_lines(p, &le).unwrap().0, ["hé", "x"]);
        let e = decode_lines(p, b"1\nab\0c").unwrap_err();
        assert!(matches!(e, Error::Subtitles { line: 2, .. }), "{e}");
    }
}
