//! What the linked FFmpeg decodes, asked of FFmpeg itself (so the list cannot drift from the
//! build): its version, its configure line, every container it demuxes and every video codec it
//! decodes. And the formats left out of the bundled build on purpose, so that a file in one of them
//! fails with an error that names the format and says what to do, not FFmpeg's generic
//! "Invalid data found when processing input" or "Decoder not found".

use std::ffi::CStr;
use std::io::Read;
use std::os::raw::c_char;
use std::path::Path;

use ffmpeg_next as ff;

/// One container (demuxer) or one video decoder of this build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Format {
    /// FFmpeg's name, e.g. "mpegps", "prores".
    pub name: String,
    /// FFmpeg's long name, e.g. "MPEG-PS (MPEG-2 Program Stream)".
    pub description: String,
    /// File extensions FFmpeg associates with a container (may be empty; codecs have none).
    pub extensions: Vec<String>,
}

/// A format this build cannot read, on purpose, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftOut {
    pub name: &'static str,
    pub reason: &'static str,
}

/// Everything `videobert formats` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Formats {
    /// FFmpeg's version string, e.g. "5.1.9-0+deb12u1".
    pub ffmpeg_version: String,
    /// The exact configure line the linked libavcodec was built with.
    pub configuration: String,
    pub license: String,
    /// Demuxers, sorted by name.
    pub containers: Vec<Format>,
    /// Video decoders, sorted by name.
    pub video_codecs: Vec<Format>,
    pub left_out: Vec<LeftOut>,
}

/// Formats users hold that the bundled FFmpeg does not read, each with how to tell it from the
/// file's first bytes (`sniff`) or from the codec a demuxer reported (`codec`).
struct Missing {
    left_out: LeftOut,
    codec: Option<ff::codec::Id>,
    sniff: fn(&[u8]) -> bool,
}

fn never(_: &[u8]) -> bool {
    false
}

/// RIFF/WEBP with a VP8X header whose animation flag is set.
fn animated_webp(h: &[u8]) -> bool {
    h.len() >= 21 && &h[0..4] == b"RIFF" && &h[8..12] == b"WEBP" && &h[12..16] == b"VP8X" && h[20] & 0x02 != 0
}

fn bink(h: &[u8]) -> bool {
    h.len() >= 4 && (&h[0..3] == b"BIK" || &h[0..3] == b"KB2")
}

fn smacker(h: &[u8]) -> bool {
    h.len() >= 4 && matches!(&h[0..4], b"SMK2" | b"SMK4")
}

fn jpeg_xl(h: &[u8]) -> bool {
    h.starts_with(&[0xff, 0x0a]) || h.starts_with(b"\0\0\0\x0cJXL \r\n\x87\n")
}

/// An ISO-BMFF file whose major brand is a HEIF/AVIF image ("heic", "heix", "mif1", "avif", …).
fn heif(h: &[u8]) -> bool {
    h.len() >= 12 && &h[4..8] == b"ftyp" && matches!(&h[8..12], b"heic" | b"heix" | b"hevc" | b"heim" | b"heis" | b"mif1" | b"msf1" | b"avif" | b"avis")
}

const MISSING: &[Missing] = &[
    Missing {
        left_out: LeftOut {
            name: "HAP",
            reason: "HAP is not in this build: FFmpeg's HAP decoder needs the snappy library, which the bundled FFmpeg leaves out; convert the file first (e.g. `ffmpeg -i in.mov -c:v prores_ks out.mov`) or build the addon from source with VIDEOBERT_FFMPEG=system",
        },
        codec: Some(ff::codec::Id::HAP),
        sniff: never,
    },
    Missing {
        left_out: LeftOut {
            name: "animated WebP",
            reason: "animated WebP is not decodable: FFmpeg 5.1 (this build's and Debian 12's) has no decoder for it; turn it into frames first (libwebp's `anim_dump -folder frames in.webp`, then tokenize `frames/dump_%04d.png`) or into a GIF or MP4",
        },
        codec: None,
        sniff: animated_webp,
    },
    Missing {
        left_out: LeftOut {
            name: "HEIF / HEIC / AVIF images",
            reason: "HEIF, HEIC and AVIF still images are not supported: FFmpeg 5.1 cannot read image items from these files; convert them to PNG or JPEG first",
        },
        codec: None,
        sniff: heif,
    },
    Missing {
        left_out: LeftOut { name: "JPEG XL", reason: "JPEG XL is not in this build: its decoder needs libjxl, which the bundled FFmpeg leaves out; convert it to PNG first" },
        codec: None,
        sniff: jpeg_xl,
    },
    Missing {
        left_out: LeftOut { name: "Bink", reason: "Bink video (game cut-scenes) is not in this build; convert it first (e.g. with `ffmpeg -i in.bik out.mp4`)" },
        codec: Some(ff::codec::Id::BINKVIDEO),
        sniff: bink,
    },
    Missing {
        left_out: LeftOut { name: "Smacker", reason: "Smacker video (game cut-scenes) is not in this build; convert it first (e.g. with `ffmpeg -i in.smk out.mp4`)" },
        codec: Some(ff::codec::Id::SMACKVIDEO),
        sniff: smacker,
    },
];

/// The first bytes of a file, enough for every `sniff` above.
fn head(path: &Path) -> Vec<u8> {
    let mut buf = Vec::with_capacity(32);
    if let Ok(f) = std::fs::File::open(path) {
        let _ = f.take(32).read_to_end(&mut buf);
    }
    buf
}

/// A file in a format left out of this build, told by its first bytes (before FFmpeg is asked,
/// since FFmpeg opens some of them — an animated WebP as a still image — and then finds no frame).
pub(crate) fn left_out_by_content(path: &Path) -> Option<&'static str> {
    let h = head(path);
    MISSING.iter().find(|m| (m.sniff)(&h)).map(|m| m.left_out.reason)
}

/// Why a file FFmpeg could not open cannot be read: FFmpeg's reason, with a pointer to the list of
/// what this build reads.
pub(crate) fn open_failure(err: &ff::Error) -> String {
    match err {
        ff::Error::InvalidData => format!("cannot open: {err} (no container format in this build recognises it; `videobert formats` lists them)"),
        _ => format!("cannot open: {err}"),
    }
}

/// Why a stream whose codec has no decoder here cannot be read, naming the codec.
pub(crate) fn missing_decoder(id: ff::codec::Id) -> String {
    if let Some(m) = MISSING.iter().find(|m| m.codec == Some(id)) {
        return m.left_out.reason.to_string();
    }
    if id == ff::codec::Id::None {
        return "no decoder: FFmpeg could not tell which codec the video stream uses (a damaged or unusual file)".into();
    }
    let (name, long) = codec_names(id);
    format!("no decoder for {name} ({long}) in this build; `videobert formats` lists the codecs it decodes")
}

fn codec_names(id: ff::codec::Id) -> (String, String) {
    // SAFETY: avcodec_descriptor_get returns null or a pointer to a static descriptor.
    unsafe {
        let d = ff::ffi::avcodec_descriptor_get(id.into());
        if d.is_null() {
            return (format!("{id:?}"), "unknown codec".into());
        }
        (c_string((*d).name), c_string((*d).long_name))
    }
}

/// A C string owned by FFmpeg (static data), or "" for null.
fn c_string(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: FFmpeg's names are NUL-terminated static strings.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// What the linked FFmpeg decodes: asked of FFmpeg at run time.
pub fn list() -> Formats {
    crate::decode::init();
    let mut containers = Vec::new();
    let mut opaque = std::ptr::null_mut();
    // SAFETY: av_demuxer_iterate walks FFmpeg's static table; each entry lives for the process.
    unsafe {
        loop {
            let f = ff::ffi::av_demuxer_iterate(&mut opaque);
            if f.is_null() {
                break;
            }
            let extensions = c_string((*f).extensions);
            containers.push(Format {
                name: c_string((*f).name),
                description: c_string((*f).long_name),
                extensions: extensions.split(',').filter(|e| !e.is_empty()).map(str::to_string).collect(),
            });
        }
    }
    let mut video_codecs = Vec::new();
    let mut opaque = std::ptr::null_mut();
    // SAFETY: as above, for av_codec_iterate.
    unsafe {
        loop {
            let c = ff::ffi::av_codec_iterate(&mut opaque);
            if c.is_null() {
                break;
            }
            if ff::ffi::av_codec_is_decoder(c) != 0 && (*c).type_ == ff::ffi::AVMediaType::AVMEDIA_TYPE_VIDEO {
                video_codecs.push(Format { name: c_string((*c).name), description: c_string((*c).long_name), extensions: Vec::new() });
            }
        }
    }
    containers.sort_by(|a, b| a.name.cmp(&b.name));
    video_codecs.sort_by(|a, b| a.name.cmp(&b.name));
    // SAFETY: these return static strings.
    let (ffmpeg_version, configuration, license) =
        unsafe { (c_string(ff::ffi::av_version_info()), c_string(ff::ffi::avcodec_configuration()), c_string(ff::ffi::avcodec_license())) };
    Formats {
        ffmpeg_version,
        configuration: configuration.trim().to_string(),
        license,
        containers,
        video_codecs,
        left_out: MISSING.iter().map(|m| m.left_out.clone()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_left_out_formats_by_their_first_bytes() {
        let mut webp = b"RIFF\0\0\0\0WEBPVP8X\x0a\0\0\0\x12\0\0\0".to_vec();
        assert!(animated_webp(&webp));
        webp[20] = 0x10; // alpha only: a still WebP, which the webp_pipe demuxer reads
        assert!(!animated_webp(&webp));
        assert!(bink(b"BIKi\0\0"));
        assert!(smacker(b"SMK2...."));
        assert!(jpeg_xl(&[0xff, 0x0a, 0, 0]));
        assert!(heif(b"\0\0\0\x18ftypheic\0\0\0\0"));
        assert!(!heif(b"\0\0\0\x18ftypisom\0\0\0\0"));
        assert!(!bink(b"RIFF"));
    }

    #[test]
    fn a_missing_decoder_is_named() {
        assert!(missing_decoder(ff::codec::Id::HAP).starts_with("HAP is not in this build"));
        let other = missing_decoder(ff::codec::Id::CAVS);
        assert!(other.contains("cavs") && other.contains("videobert formats"), "{other}");
    }
}
