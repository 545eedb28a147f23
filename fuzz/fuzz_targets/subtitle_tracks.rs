//! A media file's bytes read for its subtitle tracks (`subtitles::embedded`: the addon's FFmpeg
//! demuxes, our code reads each cue): a list of tracks and cues, or an error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use videobert_video::subtitles::embedded::{read_track, tracks};

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let path = common::scratch("subtitle_tracks").join("input.mkv");
    std::fs::write(&path, data).unwrap();
    if let Ok(t) = tracks(&path) {
        for track in t.iter().filter(|t| t.text).take(2) {
            if let Ok(cues) = read_track(&path, track.track) {
                assert!(cues.iter().all(|c| c.start >= 0.0 && c.end >= c.start), "{cues:?}");
            }
        }
    }
});
