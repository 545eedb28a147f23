//! Encode packed RGB24 frames into a video file with FFmpeg's own encoders (no external codec
//! library): MPEG-4 Part 2 or Motion JPEG, both LGPL and both inside the addon's static FFmpeg.
//! The container follows the file extension (`.mp4`, `.mov`, `.avi`).
//!
//! This is what lets `videobert demo` render its clips in-process: a machine with only Node has
//! no `ffmpeg` command line. Encoding is single-threaded, so the same frames give the same bytes.

use std::path::Path;

use ffmpeg_next as ff;

use crate::error::{Error, Result};

/// The encoders this build is guaranteed to contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoCodec {
    /// MPEG-4 Part 2 (FFmpeg's native `mpeg4` encoder), YUV 4:2:0.
    Mpeg4,
    /// Motion JPEG (every frame a key frame), full-range YUV 4:2:0.
    Mjpeg,
}

impl VideoCodec {
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "mpeg4" => Ok(VideoCodec::Mpeg4),
            "mjpeg" => Ok(VideoCodec::Mjpeg),
            other => Err(Error::config("codec", format!("expected mpeg4 or mjpeg, got `{other}`"))),
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct EncodeOptions {
    pub width: u32,
    pub height: u32,
    /// Frames per second (integer: the time base is 1/frame_rate).
    pub frame_rate: u32,
    pub codec: VideoCodec,
    /// Fixed quantiser, 1 (best) to 31, as FFmpeg's `-q:v`.
    pub quality: u32,
    /// Frames between key frames (MPEG-4; Motion JPEG has only key frames).
    pub gop: u32,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        EncodeOptions { width: 0, height: 0, frame_rate: 20, codec: VideoCodec::Mpeg4, quality: 3, gop: 20 }
    }
}

/// What was written.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedVideo {
    pub frames: usize,
    pub bytes: u64,
    pub codec: String,
    pub container: String,
}

fn check(o: &EncodeOptions, len: usize) -> Result<usize> {
    // MPEG-4 and JPEG code 4:2:0 chroma in 2×2 blocks: odd sizes are rejected rather than cropped.
    for (field, v) in [("width", o.width), ("height", o.height)] {
        if v == 0 || v % 2 != 0 || v > 8192 {
            return Err(Error::config(field, format!("must be even and in 2..=8192, got {v}")));
        }
    }
    if !(1..=240).contains(&o.frame_rate) {
        return Err(Error::config("frameRate", format!("must be in 1..=240, got {}", o.frame_rate)));
    }
    if !(1..=31).contains(&o.quality) {
        return Err(Error::config("quality", format!("must be in 1..=31, got {}", o.quality)));
    }
    let frame = o.width as usize * o.height as usize * 3;
    if len == 0 || len % frame != 0 {
        return Err(Error::input("frames", format!("{len} bytes is not a whole number of {}×{} RGB frames ({frame} bytes each)", o.width, o.height)));
    }
    Ok(len / frame)
}

/// Write `frames` (`n × height × width × 3` bytes, packed RGB24) to `path` as a video file.
pub fn encode_rgb_frames(path: &Path, frames: &[u8], o: &EncodeOptions) -> Result<EncodedVideo> {
    let n = check(o, frames.len())?;
    crate::decode::init();
    let fail = |what: &str, e: ff::Error| Error::io(path, std::io::Error::other(format!("{what}: {e}")));
    let mut octx = ff::format::output(&path).map_err(|e| fail("cannot create the container (use .mp4, .mov or .avi)", e))?;
    let (id, pixel) = match o.codec {
        VideoCodec::Mpeg4 => (ff::codec::Id::MPEG4, ff::format::Pixel::YUV420P),
        VideoCodec::Mjpeg => (ff::codec::Id::MJPEG, ff::format::Pixel::YUVJ420P),
    };
    let codec = ff::encoder::find(id).ok_or_else(|| Error::config("codec", format!("this FFmpeg has no {id:?} encoder")))?;
    let global_header = octx.format().flags().contains(ff::format::Flags::GLOBAL_HEADER);
    let time_base = ff::Rational::new(1, o.frame_rate as i32);

    let mut enc = ff::codec::context::Context::new_with_codec(codec).encoder().video().map_err(|e| fail("encoder", e))?;
    enc.set_width(o.width);
    enc.set_height(o.height);
    enc.set_format(pixel);
    enc.set_time_base(time_base);
    enc.set_frame_rate(Some(ff::Rational::new(o.frame_rate as i32, 1)));
    enc.set_gop(o.gop.max(1));
    enc.set_max_b_frames(0);
    // A fixed quantiser (`-q:v`): the lambda FFmpeg's CLI derives from it, on the context and on every frame.
    let lambda = o.quality as i32 * ff::ffi::FF_QP2LAMBDA;
    enc.set_global_quality(lambda);
    let mut flags = ff::codec::Flags::QSCALE;
    if global_header {
        flags |= ff::codec::Flags::GLOBAL_HEADER;
    }
    enc.set_flags(flags);
    enc.set_threading(ff::codec::threading::Config { kind: ff::codec::threading::Type::None, count: 1, ..Default::default() });
    let mut encoder = enc.open_as(codec).map_err(|e| fail("cannot open the encoder", e))?;

    let stream_index = {
        let mut stream = octx.add_stream(codec).map_err(|e| fail("cannot add a stream", e))?;
        stream.set_parameters(&encoder);
        stream.set_time_base(time_base);
        stream.index()
    };
    octx.write_header().map_err(|e| fail("cannot write the header", e))?;
    let stream_tb = octx.stream(stream_index).expect("stream just added").time_base();

    let mut scaler =
        ff::software::scaling::Context::get(ff::format::Pixel::RGB24, o.width, o.height, pixel, o.width, o.height, ff::software::scaling::Flags::BILINEAR)
            .map_err(|e| fail("colour conversion", e))?;
    let mut rgb = ff::frame::Video::new(ff::format::Pixel::RGB24, o.width, o.height);
    let mut yuv = ff::frame::Video::empty();
    let row = o.width as usize * 3;
    let frame_bytes = row * o.height as usize;

    let drain = |encoder: &mut ff::encoder::Video, octx: &mut ff::format::context::Output| -> Result<()> {
        let mut packet = ff::Packet::empty();
        while encoder.receive_packet(&mut packet).is_ok() {
            packet.set_stream(stream_index);
            // Every frame lasts one tick of 1/frame_rate; the container needs it for the last frame's end.
            packet.set_duration(1);
            packet.rescale_ts(time_base, stream_tb);
            packet.write_interleaved(octx).map_err(|e| fail("cannot write a packet", e))?;
        }
        Ok(())
    };

    for (i, src) in frames.chunks_exact(frame_bytes).enumerate() {
        let stride = rgb.stride(0);
        let dst = rgb.data_mut(0);
        for y in 0..o.height as usize {
            dst[y * stride..y * stride + row].copy_from_slice(&src[y * row..(y + 1) * row]);
        }
        scaler.run(&rgb, &mut yuv).map_err(|e| fail("colour conversion", e))?;
        yuv.set_pts(Some(i as i64));
        // SAFETY: `quality` is a plain int field of the AVFrame this wrapper owns.
        unsafe { (*yuv.as_mut_ptr()).quality = lambda };
        encoder.send_frame(&yuv).map_err(|e| fail("encoding failed", e))?;
        drain(&mut encoder, &mut octx)?;
    }
    encoder.send_eof().map_err(|e| fail("encoding failed", e))?;
    drain(&mut encoder, &mut octx)?;
    octx.write_trailer().map_err(|e| fail("cannot finish the file", e))?;
    let container = octx.format().name().to_string();
    drop(octx);
    let bytes = std::fs::metadata(path).map_err(|e| Error::io(path, e))?.len();
    Ok(EncodedVideo { frames: n, bytes, codec: codec.name().to_string(), container })
}
