//! A subtitle file of the Json format (the bytes a user's downloader or recogniser wrote): parsing and
//! aligning it is captions or an `Error::Subtitles`, never a panic; the captions' times are ordered
//! and within the file's bounds.
#![no_main]
use libfuzzer_sys::fuzz_target;
use videobert_video::subtitles::{align, parse, AlignOptions, SubtitleFormat, MAX_SECONDS};

fuzz_target!(|data: &[u8]| {
    let path = std::path::Path::new("fuzz.json");
    if let Ok((cues, _)) = parse(path, data, SubtitleFormat::Json) {
        let (captions, report) = align(cues, &AlignOptions { max_words: 8, max_gap: 1.0 });
        assert_eq!(report.captions, captions.len());
        for c in &captions {
            assert!(c.start.is_finite() && c.start >= 0.0 && c.start <= c.end && c.end <= MAX_SECONDS, "{c:?}");
            assert!(!c.text.trim().is_empty() && c.text.split_whitespace().count() <= 8, "{c:?}");
        }
    }
});
