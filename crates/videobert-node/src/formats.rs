//! `videoFormats`: what the addon's own FFmpeg decodes (videobert_video::formats).

use napi_derive::napi;
use videobert_video::formats;

/// A container (demuxer) or a video decoder of the addon's FFmpeg.
#[napi(object)]
pub struct VideoFormat {
    /// FFmpeg's name, e.g. "mpegps" or "prores".
    pub name: String,
    /// FFmpeg's long name, e.g. "Apple ProRes (iCodec Pro)".
    pub description: String,
    /// File extensions FFmpeg associates with a container (often empty: it probes the contents).
    pub extensions: Vec<String>,
}

/// A format left out of the bundled FFmpeg on purpose.
#[napi(object)]
pub struct LeftOutFormat {
    pub name: String,
    /// The error message a file in this format gets.
    pub reason: String,
}

/// What `videobert formats` lists.
#[napi(object)]
pub struct VideoFormats {
    /// FFmpeg's version, e.g. "5.1.9".
    pub ffmpeg_version: String,
    /// The configure line the linked FFmpeg was built with.
    pub configuration: String,
    /// FFmpeg's licence as it reports it, e.g. "LGPL version 2.1 or later".
    pub license: String,
    /// Every container it demuxes, by name.
    pub containers: Vec<VideoFormat>,
    /// Every video codec it decodes, by name.
    pub video_codecs: Vec<VideoFormat>,
    /// Formats users hold that it does not read, and why.
    pub left_out: Vec<LeftOutFormat>,
}

fn format(f: formats::Format) -> VideoFormat {
    VideoFormat { name: f.name, description: f.description, extensions: f.extensions }
}

/// The containers and video codecs the addon's FFmpeg reads, asked of FFmpeg itself.
#[napi]
pub fn video_formats() -> VideoFormats {
    let f = formats::list();
    VideoFormats {
        ffmpeg_version: f.ffmpeg_version,
        configuration: f.configuration,
        license: f.license,
        containers: f.containers.into_iter().map(format).collect(),
        video_codecs: f.video_codecs.into_iter().map(format).collect(),
        left_out: f.left_out.into_iter().map(|l| LeftOutFormat { name: l.name.into(), reason: l.reason.into() }).collect(),
    }
}
