//! Subtitle tracks inside the video (MKV/WebM/MP4/MOV: SubRip, WebVTT, ASS/SSA, mov_text), read
//! through the addon's own FFmpeg. Its text decoders give each cue as an ASS dialogue line; the text
//! is its last field, cleaned like a sidecar's (`text.rs`). Times are the packets' timestamps less
//! the video stream's start, the origin the decoder's segment times use. Bitmap tracks (DVD, Blu-ray
//! PGS, DVB) hold pictures of text, not text: an error that says so.

use std::path::Path;

use ffmpeg_next as ff;
use serde::{Deserialize, Serialize};

use super::text::clean_cue;
use super::Cue;
use crate::error::{Error, Result};

/// A subtitle stream of a video, as `videobert manifest` and `tracks` list it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Track {
    /// The n-th subtitle stream (the manifest's `{"track": n}`).
    pub track: usize,
    pub codec: String,
    pub language: Option<String>,
    /// Whether it holds text (else pictures of text).
    pub text: bool,
}

const TEXT_CODECS: &[ff::codec::Id] =
    &[ff::codec::Id::SUBRIP, ff::codec::Id::SRT, ff::codec::Id::WEBVTT, ff::codec::Id::ASS, ff::codec::Id::SSA, ff::codec::Id::MOV_TEXT, ff::codec::Id::TEXT];

fn open(video: &Path) -> Result<ff::format::context::Input> {
    crate::decode::init();
    ff::format::input(video).map_err(|e| Error::decode(video, e.to_string()))
}

fn subtitle_streams(ictx: &ff::format::context::Input) -> Vec<ff::format::stream::Stream<'_>> {
    ictx.streams().filter(|s| s.parameters().medium() == ff::media::Type::Subtitle).collect()
}

/// The subtitle streams of `video`, in order.
pub fn tracks(video: &Path) -> Result<Vec<Track>> {
    let ictx = open(video)?;
    Ok(subtitle_streams(&ictx)
        .iter()
        .enumerate()
        .map(|(track, s)| {
            let id = s.parameters().id();
            Track { track, codec: id.name().to_string(), language: s.metadata().get("language").map(str::to_string), text: TEXT_CODECS.contains(&id) }
        })
        .collect())
}

/// The text of one ASS dialogue event (`ReadOrder,Layer,Style,Name,MarginL,MarginR,MarginV,Effect,Text`),
/// or of a plain text rect.
fn event_text(ass: &str) -> &str {
    let line = ass.strip_prefix("Dialogue:").map(str::trim_start).unwrap_or(ass);
    line.splitn(9, ',').nth(8).unwrap_or(line)
}

/// A subtitle the decoder filled, freed when dropped: ffmpeg-next's `Subtitle` has no `Drop`, so
/// without this every decoded cue's rects and strings would leak (found by the `subtitle_tracks`
/// fuzz target, whose memory grew run after run).
struct DecodedSubtitle(ff::Subtitle);

impl Drop for DecodedSubtitle {
    fn drop(&mut self) {
        // SAFETY: the AVSubtitle is zeroed or filled by avcodec_decode_subtitle2; avsubtitle_free
        // frees what it holds and zeroes it, and nothing else refers to it.
        unsafe { ff::ffi::avsubtitle_free(self.0.as_mut_ptr()) }
    }
}

/// The cues of subtitle track `track` of `video`.
pub fn read_track(video: &Path, track: usize) -> Result<Vec<Cue>> {
    let mut ictx = open(video)?;
    let streams = subtitle_streams(&ictx);
    let Some(stream) = streams.get(track) else {
        return Err(Error::subtitles(video, 1, format!("no subtitle track {track}: the video has {} (`videobert manifest` lists them)", streams.len())));
    };
    let (index, params) = (stream.index(), stream.parameters());
    let id = params.id();
    if !TEXT_CODECS.contains(&id) {
        return Err(Error::subtitles(
            video,
            1,
            format!("subtitle track {track} is {} (pictures of text, not text); give its text as a .srt/.vtt sidecar", id.name()),
        ));
    }
    let tb = f64::from(stream.time_base());
    let origin = ictx
        .streams()
        .best(ff::media::Type::Video)
        .map(|v| if v.start_time() == ff::ffi::AV_NOPTS_VALUE { 0.0 } else { v.start_time() as f64 * f64::from(v.time_base()) })
        .unwrap_or(0.0);
    drop(streams);
    let ctx = ff::codec::context::Context::from_parameters(params).map_err(|e| Error::decode(video, e.to_string()))?;
    let mut decoder =
        ctx.decoder().subtitle().map_err(|e| Error::subtitles(video, 1, format!("subtitle track {track} ({}): no decoder in this build: {e}", id.name())))?;
    let mut cues: Vec<Cue> = Vec::new();
    let mut open_end: Vec<usize> = Vec::new(); // cues whose end the next cue's start gives
    let mut packets = crate::decode::Packets::new(video);
    let mut n = 0;
    while let Some(packet) = packets.next(&mut ictx)? {
        n += 1;
        if packet.stream() != index {
            continue;
        }
        let Some(pts) = packet.pts().or(packet.dts()) else { continue };
        let mut sub = DecodedSubtitle(ff::Subtitle::new());
        let got =
            decoder.decode(&packet, &mut sub.0).map_err(|e| Error::subtitles(video, cues.len() + 1, format!("subtitle track {track}, packet {n}: {e}")))?;
        if !got {
            continue;
        }
        let mut lines: Vec<String> = Vec::new();
        for rect in sub.0.rects() {
            // SAFETY: the rect's text/ass fields are null or NUL-terminated strings owned by `sub`.
            let raw = unsafe {
                let p = rect.as_ptr();
                let s = match rect {
                    ff::subtitle::Rect::Ass(_) => (*p).ass,
                    ff::subtitle::Rect::Text(_) => (*p).text,
                    _ => std::ptr::null_mut(),
                };
                if s.is_null() {
                    continue;
                }
                String::from_utf8_lossy(std::ffi::CStr::from_ptr(s).to_bytes()).into_owned()
            };
            lines.push(event_text(&raw).to_string());
        }
        let start = (pts as f64 * tb + f64::from(sub.0.start()) / 1000.0 - origin).max(0.0);
        let end = if packet.duration() > 0 {
            Some(start + packet.duration() as f64 * tb)
        } else if sub.0.end() > sub.0.start() && sub.0.end() != u32::MAX {
            Some(start + f64::from(sub.0.end() - sub.0.start()) / 1000.0)
        } else {
            None
        };
        // microseconds: the time bases' products carry float noise (5.800000000000001)
        let us = |t: f64| (t * 1e6).round() / 1e6;
        let (start, end) = (us(start), end.map(us));
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        if end.is_none() {
            open_end.push(cues.len());
        }
        cues.push(Cue { start, end: end.unwrap_or(start), text: clean_cue(&refs), line: cues.len() + 1, words: vec![] });
    }
    for i in open_end {
        cues[i].end = cues.get(i + 1).map_or(cues[i].start + 2.0, |next| next.start.max(cues[i].start));
    }
    if cues.is_empty() {
        return Err(Error::subtitles(video, 1, format!("subtitle track {track} ({}) has no cue", id.name())));
    }
    Ok(cues)
}

#[cfg(test)]
mod tests {
    #[test]
    fn ass_event_text_is_the_last_field() {
        assert_eq!(super::event_text("0,0,Default,,0,0,0,,Hello, world"), "Hello, world");
        assert_eq!(super::event_text("plain text"), "plain text");
    }
}
