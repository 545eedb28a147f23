//! Streaming decode with FFmpeg (`ffmpeg-next` over the system libraries): demux, decode with
//! FFmpeg's own frame threading, select frames by presentation time for a target fps, scale (and
//! rotate, honouring the display matrix) straight to the extractor's input size, packed RGB24.
//!
//! Frame selection is sample-and-hold on presentation timestamps, which is correct on variable
//! frame rate input: sampled frame k (time `k / fps`, relative to the first frame) is the last
//! decoded frame whose timestamp is ≤ `k / fps`. A video of duration D (first frame's start to the
//! last frame's end) yields exactly the k with `k / fps < D`. Memory holds one decoded frame.
//!
//! Frames the sampler would never emit are not decoded when nothing else needs them: a packet that
//! is disposable (H.264 with every slice `nal_ref_idc = 0`, or flagged by the demuxer) is dropped
//! before the decoder sees it when no sample time falls in `[pts, next)`, where `next` is the
//! smallest later pts among the packets already read (a B-frame's forward reference comes before
//! it in decode order, so there always is one; the frame's true display interval ends at or before
//! it, so nothing that would be sampled is ever dropped — on any frame rate, no durations trusted).
//! Sampling 10 fps out of 24–30 fps content with B-frames skips a share of the decode work, and the
//! sampled frames stay the same ones (`tests/video.rs` compares with skipping off).

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use ff::codec::packet::Ref as _;
use ffmpeg_next as ff;

use crate::error::{Error, Result};
use crate::formats;

/// How to tell a disposable (non-reference) packet of this stream.
enum Disposable {
    /// H.264 in AVCC framing (MP4/MOV/MKV): NAL units with a `len`-byte big-endian length prefix.
    H264 { len: usize },
    /// Only the demuxer's `AV_PKT_FLAG_DISPOSABLE`.
    Flag,
}

const AV_PKT_FLAG_DISPOSABLE: i32 = 0x0010;

impl Disposable {
    fn of(id: ff::codec::Id, extradata: &[u8]) -> Self {
        match (id, extradata) {
            // avcC: version 1, length size in the low two bits of byte 4.
            (ff::codec::Id::H264, [1, _, _, _, b4, ..]) => Disposable::H264 { len: usize::from(b4 & 3) + 1 },
            _ => Disposable::Flag,
        }
    }

    /// Whether no later frame references this packet's picture.
    fn packet(&self, packet: &ff::Packet) -> bool {
        // SAFETY: `packet` wraps a valid AVPacket for the duration of the borrow.
        if unsafe { (*packet.as_ptr()).flags } & AV_PKT_FLAG_DISPOSABLE != 0 {
            return true;
        }
        match (self, packet.data()) {
            (Disposable::H264 { len }, Some(data)) => h264_non_reference(data, *len),
            _ => false,
        }
    }
}

/// Every VCL NAL unit (slice types 1–5) of an AVCC H.264 access unit has `nal_ref_idc` 0, and
/// there is at least one; anything malformed counts as a reference.
fn h264_non_reference(mut data: &[u8], len: usize) -> bool {
    let mut slices = 0;
    while !data.is_empty() {
        if data.len() < len {
            return false;
        }
        let size = data[..len].iter().fold(0usize, |a, &b| (a << 8) | usize::from(b));
        data = &data[len..];
        if size == 0 || size > data.len() {
            return false;
        }
        let header = data[0];
        if (1..=5).contains(&(header & 0x1f)) {
            if header & 0x60 != 0 {
                return false;
            }
            slices += 1;
        }
        data = &data[size..];
    }
    slices > 0
}

/// Whether `[start, end)` (seconds from the first frame) holds no sample time `k / fps` — with the
/// sampler's own 1e-9 tolerance, see `emit_until`.
fn never_sampled(start: f64, end: f64, fps: f64) -> bool {
    let first = ((start - 1e-9) * fps).ceil() / fps;
    first >= end - 1e-9
}

/// The pts of the last packets read (a B-frame's successors in display order are among them).
const RECENT_PTS: usize = 32;

/// Packed RGB24 pixels, `width * height * 3` bytes, no row padding.
#[derive(Debug, Clone, PartialEq)]
pub struct RgbFrame {
    pub width: u32,
    pub height: u32,
    pub data: Vec<u8>,
}

/// A borrowed packed-RGB24 picture.
#[derive(Debug, Clone, Copy)]
pub struct RgbView<'a> {
    pub width: u32,
    pub height: u32,
    pub data: &'a [u8],
}

impl RgbFrame {
    pub fn view(&self) -> RgbView<'_> {
        RgbView { width: self.width, height: self.height, data: &self.data }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct DecodeOptions {
    /// Frames per second to sample.
    pub fps: f64,
    /// Output size (after rotation).
    pub width: u32,
    pub height: u32,
    /// Decoder threads; 0 = auto (`frame_threads`: from `cores` and the video's size).
    pub threads: usize,
    /// With `threads` 0: the cores this decoder may use (0 = all of the machine's).
    pub cores: usize,
    /// Drop disposable packets the sampler would never emit before decoding them (see the module
    /// doc). On by default; off only to check that it changes nothing.
    pub skip_unsampled: bool,
    /// The longest video accepted, seconds from the first frame. Sample-and-hold turns a timestamp
    /// jump into held frames, so without a bound a few KiB whose timestamps claim days would cost
    /// hours of feature extraction; past it the video is a `Decode` error, found as soon as a
    /// timestamp crosses it.
    pub max_duration: f64,
}

/// A video with at least this many pixels to decode (width × height × frames; 10 s of 1080p at
/// 24 fps) gets more frame threads than cores.
const BIG_DECODE_PIXELS: f64 = 5e8;
/// Frame threads per core for such a video. A frame thread waits for the rows of the frames it
/// references, so with one thread per core the cores idle: Big Buck Bunny's 30 s of 1080p H.264 on
/// a 2-vCPU AMD EPYC decode in 8.9 s with 2 threads, 6.7 s with 4, 5.7 s with 8 (the same CPU time).
const FRAME_THREADS_PER_CORE: usize = 4;
/// FFmpeg's own ceiling for automatic frame threads.
const MAX_FRAME_THREADS: usize = 16;

/// The decoder threads of a video with `pixels` to decode: `threads` when given (> 0), else
/// `cores` (0 = the machine's) — `FRAME_THREADS_PER_CORE` times as many, at most 16, for a big
/// video on more than one core; a small one gains less than the threads cost to start.
pub fn frame_threads(threads: usize, cores: usize, pixels: f64) -> usize {
    if threads > 0 {
        return threads;
    }
    let cores = if cores > 0 { cores } else { std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) };
    if cores > 1 && pixels >= BIG_DECODE_PIXELS {
        (cores * FRAME_THREADS_PER_CORE).min(MAX_FRAME_THREADS).max(cores)
    } else {
        cores
    }
}

#[cfg(test)]
mod thread_tests {
    use super::frame_threads;

    #[test]
    fn big_videos_get_several_frame_threads_per_core_and_small_ones_one() {
        let film = 1920.0 * 1080.0 * 24.0 * 30.0; // 30 s of 1080p
        let clip = 1280.0 * 720.0 * 24.0 * 5.0; // 5 s of 720p
        assert_eq!(frame_threads(0, 2, film), 8);
        assert_eq!(frame_threads(0, 8, film), 16, "FFmpeg's ceiling");
        assert_eq!(frame_threads(0, 32, film), 32, "never fewer than the cores");
        assert_eq!(frame_threads(0, 2, clip), 2);
        assert_eq!(frame_threads(0, 1, film), 1, "one core per video (many videos at once): no frame threads");
        assert_eq!(frame_threads(3, 16, film), 3, "an explicit count wins");
        assert!(frame_threads(0, 0, clip) >= 1, "0 cores = the machine's");
    }
}

/// `max_duration`'s default: 4 hours.
pub const DEFAULT_MAX_DURATION: f64 = 4.0 * 3600.0;

/// `max_duration` must be > 0 (`f64::INFINITY`: no limit); shared with `TokenizeOptions::validate`.
pub(crate) fn check_max_duration(max: f64) -> Result<()> {
    if max.is_nan() || max <= 0.0 {
        return Err(Error::config("maxDuration", format!("must be > 0 seconds (Infinity: no limit), got {max}")));
    }
    Ok(())
}

fn too_long(path: &Path, seconds: f64, max: f64) -> Error {
    Error::decode(path, format!("its timestamps run to {seconds:.0} s, past maxDuration ({max} s; raise it for longer videos)"))
}

/// What was learned about a video while decoding it.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoInfo {
    /// First frame's start to last frame's end, seconds.
    pub duration: f64,
    pub source_width: u32,
    pub source_height: u32,
    /// Clockwise rotation applied from the display matrix (0, 90, 180, 270).
    pub rotation: u32,
    pub codec: String,
    /// Frames the decoder produced.
    pub decoded_frames: usize,
    /// Disposable packets dropped undecoded because no sample time falls in their display interval.
    pub skipped_frames: usize,
    pub sampled_frames: usize,
}

static INIT: std::sync::Once = std::sync::Once::new();

pub(crate) fn init() {
    INIT.call_once(|| {
        let _ = ff::init();
        ff::util::log::set_level(ff::util::log::Level::Fatal);
    });
}

/// Clockwise rotation (0/90/180/270) that makes the picture upright, from the stream's display matrix.
fn rotation_of(stream: &ff::format::stream::Stream) -> u32 {
    for sd in stream.side_data() {
        if sd.kind() == ff::codec::packet::side_data::Type::DisplayMatrix && sd.data().len() >= 36 {
            // SAFETY: 9 i32 values (FFmpeg guarantees the size checked above).
            let theta = unsafe { ff::ffi::av_display_rotation_get(sd.data().as_ptr() as *const i32) };
            if theta.is_nan() {
                return 0;
            }
            // FFmpeg's CLI autorotate: rotate clockwise by −theta.
            let cw = (-theta).rem_euclid(360.0);
            return (((cw / 90.0).round() as u32) % 4) * 90;
        }
    }
    0
}

fn rotate(src: &[u8], w: usize, h: usize, rotation: u32) -> Vec<u8> {
    if rotation == 0 {
        return src.to_vec();
    }
    let mut out = vec![0u8; src.len()];
    for y in 0..h {
        for x in 0..w {
            let (nx, ny, nw) = match rotation {
                90 => (h - 1 - y, x, h),
                180 => (w - 1 - x, h - 1 - y, w),
                _ => (y, w - 1 - x, h), // 270
            };
            let s = (y * w + x) * 3;
            let d = (ny * nw + nx) * 3;
            out[d..d + 3].copy_from_slice(&src[s..s + 3]);
        }
    }
    out
}

/// Which YUV→RGB matrix and input range the scaler uses, as FFmpeg's `scale` filter picks them: the
/// frame's tagged colour space (BT.709 for HD, BT.2020, …; untagged and unknown ones as BT.601) and
/// its tagged range (else the pixel format's: full for `yuvj*`). Without this every BT.709 video
/// would be converted with BT.601's matrix — colours off by up to ~30 of 255 against every player.
fn set_color_details(ctx: &mut ff::software::scaling::Context, space: i32, range: i32) {
    const AVCOL_RANGE_UNSPECIFIED: i32 = 0;
    const AVCOL_RANGE_JPEG: i32 = 2;
    const AVCOL_SPC_BT470BG: i32 = 5;
    // The colour spaces libswscale has coefficients for (AVColorSpace 1..=10 but 8, YCgCo).
    let space = if (1..=10).contains(&space) && space != 8 { space } else { AVCOL_SPC_BT470BG };
    // SAFETY: the context is valid; the get call fills every out-pointer; the coefficient tables
    // are libswscale's static data.
    unsafe {
        let c = ctx.as_mut_ptr();
        let (mut inv, mut table) = (std::ptr::null_mut(), std::ptr::null_mut());
        let (mut src_full, mut dst_full, mut brightness, mut contrast, mut saturation) = (0, 0, 0, 0, 0);
        if ff::ffi::sws_getColorspaceDetails(c, &mut inv, &mut src_full, &mut table, &mut dst_full, &mut brightness, &mut contrast, &mut saturation) < 0 {
            return; // not a YUV input: nothing to choose
        }
        if range != AVCOL_RANGE_UNSPECIFIED {
            src_full = i32::from(range == AVCOL_RANGE_JPEG);
        }
        let coefficients = ff::ffi::sws_getCoefficients(space);
        ff::ffi::sws_setColorspaceDetails(c, coefficients, src_full, coefficients, dst_full, brightness, contrast, saturation);
    }
}

struct Scaler {
    ctx: Option<ff::software::scaling::Context>,
    /// Pixel format, size, colour space and range the context was made for.
    key: (ff::format::Pixel, u32, u32, i32, i32),
    out_w: u32,
    out_h: u32,
    rotation: u32,
}

impl Scaler {
    fn scale(&mut self, frame: &ff::frame::Video, path: &Path) -> Result<RgbFrame> {
        // Scale to the pre-rotation size, then rotate into the requested size.
        let (sw, sh) = if self.rotation % 180 == 90 { (self.out_h, self.out_w) } else { (self.out_w, self.out_h) };
        let space = ff::ffi::AVColorSpace::from(frame.color_space()) as i32;
        let range = ff::ffi::AVColorRange::from(frame.color_range()) as i32;
        let key = (frame.format(), frame.width(), frame.height(), space, range);
        if self.ctx.is_none() || self.key != key {
            let mut ctx = ff::software::scaling::Context::get(key.0, key.1, key.2, ff::format::Pixel::RGB24, sw, sh, ff::software::scaling::Flags::AREA)
                .map_err(|e| Error::decode(path, format!("cannot convert {:?} {}x{}: {e}", key.0, key.1, key.2)))?;
            set_color_details(&mut ctx, space, range);
            self.ctx = Some(ctx);
            self.key = key;
        }
        let mut rgb = ff::frame::Video::empty();
        self.ctx.as_mut().expect("scaler").run(frame, &mut rgb).map_err(|e| Error::decode(path, format!("scaling failed: {e}")))?;
        let stride = rgb.stride(0);
        let row = sw as usize * 3;
        let data = rgb.data(0);
        let mut packed = Vec::with_capacity(row * sh as usize);
        for y in 0..sh as usize {
            packed.extend_from_slice(&data[y * stride..y * stride + row]);
        }
        Ok(RgbFrame { width: self.out_w, height: self.out_h, data: rotate(&packed, sw as usize, sh as usize, self.rotation) })
    }
}

/// Whether the file name holds a printf-style frame number (`frames/%04d.png`, `img%d.jpg`): an
/// image sequence, which FFmpeg's image2 demuxer reads (at 25 frames per second) from the numbered
/// files; no file of that very name need exist.
fn is_image_sequence(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else { return false };
    name.match_indices('%').any(|(i, _)| {
        let rest = name[i + 1..].trim_start_matches(|c: char| c.is_ascii_digit());
        rest.starts_with('d')
    })
}

/// The packets of a demuxer, read one by one. A read error is skipped (as FFmpeg's CLI does) up to
/// 64 in a row, then is the file's error: ffmpeg-next's `packets()` iterator retries forever, and a
/// damaged MP4 whose sample table points past the file's end returns the same error on every read.
pub(crate) struct Packets<'a> {
    path: &'a Path,
    consecutive_errors: usize,
}

impl<'a> Packets<'a> {
    pub(crate) fn new(path: &'a Path) -> Self {
        Self { path, consecutive_errors: 0 }
    }

    /// The next packet, None at the end of the file.
    pub(crate) fn next(&mut self, ictx: &mut ff::format::context::Input) -> Result<Option<ff::Packet>> {
        loop {
            // A fresh packet each time: `Packet::read` does not unref what the packet held, so reusing
            // one would leak every compressed packet of the file (memory growing with video length).
            let mut packet = ff::Packet::empty();
            match packet.read(ictx) {
                Ok(()) => {
                    self.consecutive_errors = 0;
                    return Ok(Some(packet));
                }
                Err(ff::Error::Eof) => return Ok(None),
                Err(e) => {
                    self.consecutive_errors += 1;
                    if self.consecutive_errors > 64 {
                        return Err(Error::decode(self.path, format!("read error: {e}")));
                    }
                }
            }
        }
    }
}

/// Decode `path`, calling `on_frame(k, frame)` for every sampled frame k = 0, 1, … in order. The
/// steps: check the options and the file, open the video stream and its decoder, feed the decoder
/// packet by packet (skipping the disposable ones no sample needs), and hand every decoded frame to
/// the sampler, which emits the sampled frames as the timestamps pass them; at the end the last
/// frame is held for its own duration.
pub fn decode_sampled(path: &Path, opts: &DecodeOptions, cancel: &AtomicBool, mut on_frame: impl FnMut(usize, &RgbFrame) -> Result<()>) -> Result<VideoInfo> {
    init();
    check_input(path, opts)?;
    let mut ictx = ff::format::input(&path).map_err(|e| Error::decode(path, formats::open_failure(&e)))?;
    let stream = VideoStream::open(&ictx, path, opts)?;
    let mut sampler = Sampler::new(path, opts, &stream);
    let VideoStream { index, tb, disposable, mut decoder, .. } = stream;
    let mut skip = Skipper { disposable, recent: std::collections::VecDeque::with_capacity(RECENT_PTS) };
    let mut packets = Packets::new(path);
    while let Some(packet) = packets.next(&mut ictx)? {
        if packet.stream() != index {
            continue;
        }
        if skip.unsampled(&packet, opts, tb, sampler.t0) {
            sampler.info.skipped_frames += 1;
            continue;
        }
        // A corrupt packet is skipped, as FFmpeg's CLI does; a file with no decodable frame fails below.
        let _ = decoder.send_packet(&packet);
        sampler.receive(&mut decoder, cancel, &mut on_frame)?;
    }
    let _ = decoder.send_eof();
    sampler.receive(&mut decoder, cancel, &mut on_frame)?;
    sampler.finish(&decoder, &mut on_frame)
}

/// The options, and a path that is a non-empty file (or an image-sequence pattern) in a format this
/// build reads.
fn check_input(path: &Path, opts: &DecodeOptions) -> Result<()> {
    if !(opts.fps.is_finite() && opts.fps > 0.0) {
        return Err(Error::config("fps", format!("must be > 0, got {}", opts.fps)));
    }
    check_max_duration(opts.max_duration)?;
    match std::fs::metadata(path) {
        Err(_) if is_image_sequence(path) => {} // FFmpeg's image2 demuxer finds the numbered files
        Err(e) => return Err(Error::io(path, e)),
        Ok(m) if m.is_dir() => return Err(Error::io(path, std::io::Error::new(std::io::ErrorKind::InvalidInput, "is a directory, not a video file"))),
        Ok(m) if m.len() == 0 => return Err(Error::decode(path, "empty file (0 bytes)")),
        Ok(_) => {}
    }
    match formats::left_out_by_content(path) {
        Some(reason) => Err(Error::decode(path, reason)),
        None => Ok(()),
    }
}

/// The video stream FFmpeg picks as best, with its decoder opened (FFmpeg's frame threading).
struct VideoStream {
    index: usize,
    /// Seconds per timestamp unit.
    tb: f64,
    rotation: u32,
    disposable: Disposable,
    decoder: ff::decoder::Video,
}

impl VideoStream {
    fn open(ictx: &ff::format::context::Input, path: &Path, opts: &DecodeOptions) -> Result<Self> {
        let stream = ictx.streams().best(ff::media::Type::Video).ok_or_else(|| Error::NoVideoStream { path: path.into() })?;
        let (index, time_base, rotation, params) = (stream.index(), stream.time_base(), rotation_of(&stream), stream.parameters());
        // SAFETY: the parameters are valid; extradata is `extradata_size` bytes or null.
        let extradata = unsafe {
            let p = params.as_ptr();
            if (*p).extradata.is_null() || (*p).extradata_size <= 0 {
                &[][..]
            } else {
                std::slice::from_raw_parts((*p).extradata, (*p).extradata_size as usize)
            }
        };
        let disposable = Disposable::of(params.id(), extradata);
        if ff::decoder::find(params.id()).is_none() {
            return Err(Error::decode(path, formats::missing_decoder(params.id())));
        }
        let rate = stream.avg_frame_rate();
        let fps = if rate.denominator() > 0 && rate.numerator() > 0 { f64::from(rate.numerator()) / f64::from(rate.denominator()) } else { 25.0 };
        let seconds = if ictx.duration() > 0 { ictx.duration() as f64 / f64::from(ff::ffi::AV_TIME_BASE) } else { 0.0 };
        // SAFETY: the parameters are valid.
        let (w, h) = unsafe { ((*params.as_ptr()).width.max(0), (*params.as_ptr()).height.max(0)) };
        let threads = frame_threads(opts.threads, opts.cores, f64::from(w) * f64::from(h) * fps * seconds);
        let mut ctx = ff::codec::context::Context::from_parameters(params).map_err(|e| Error::decode(path, e.to_string()))?;
        ctx.set_threading(ff::codec::threading::Config { kind: ff::codec::threading::Type::Frame, count: threads, ..Default::default() });
        let decoder = ctx.decoder().video().map_err(|e| Error::decode(path, format!("no decoder: {e}")))?;
        let tb = f64::from(time_base.numerator()) / f64::from(time_base.denominator()).max(1.0);
        Ok(Self { index, tb, rotation, disposable, decoder })
    }
}

/// Which packets are dropped before decoding (see the module doc).
struct Skipper {
    disposable: Disposable,
    /// Recent packets' pts: a packet with none greater among them may be the last frame shown (its
    /// duration ends the video) and is never skipped.
    recent: std::collections::VecDeque<i64>,
}

impl Skipper {
    /// Whether `packet` is disposable and no sample time falls in its display interval.
    fn unsampled(&mut self, packet: &ff::Packet, opts: &DecodeOptions, tb: f64, t0: Option<f64>) -> bool {
        let Some(pts) = packet.pts() else { return false };
        let next = self.recent.iter().copied().filter(|&p| p > pts).min();
        if self.recent.len() == RECENT_PTS {
            self.recent.pop_front();
        }
        self.recent.push_back(pts);
        let (true, Some(first), Some(next)) = (opts.skip_unsampled, t0, next) else { return false };
        let (start, end) = (pts as f64 * tb - first, next as f64 * tb - first);
        start > 0.0 && never_sampled(start, end, opts.fps) && self.disposable.packet(packet)
    }
}

/// Sample-and-hold on presentation timestamps: holds the frame on screen and emits it for every
/// sample time before the next frame's start.
struct Sampler<'a> {
    path: &'a Path,
    opts: &'a DecodeOptions,
    tb: f64,
    scaler: Scaler,
    info: VideoInfo,
    /// The frame on screen now: (start seconds, raw frame, its scaled copy once needed).
    held: Option<(f64, ff::frame::Video, Option<RgbFrame>)>,
    /// The first frame's timestamp (seconds); times are relative to it.
    t0: Option<f64>,
    last_delta: f64,
    /// The next sample to emit.
    k: usize,
}

impl<'a> Sampler<'a> {
    fn new(path: &'a Path, opts: &'a DecodeOptions, stream: &VideoStream) -> Self {
        let (decoder, rotation) = (&stream.decoder, stream.rotation);
        let codec = decoder.codec().map(|c| c.name().to_string()).unwrap_or_default();
        Self {
            path,
            opts,
            tb: stream.tb,
            scaler: Scaler { ctx: None, key: (ff::format::Pixel::None, 0, 0, 0, 0), out_w: opts.width, out_h: opts.height, rotation },
            info: VideoInfo {
                duration: 0.0,
                source_width: decoder.width(),
                source_height: decoder.height(),
                rotation,
                codec,
                decoded_frames: 0,
                skipped_frames: 0,
                sampled_frames: 0,
            },
            held: None,
            t0: None,
            last_delta: 0.0,
            k: 0,
        }
    }

    /// Emit the held frame for every sample time before `until`.
    fn emit_until(&mut self, until: f64, on_frame: &mut impl FnMut(usize, &RgbFrame) -> Result<()>) -> Result<()> {
        if let Some((_, raw, scaled)) = self.held.as_mut() {
            while (self.k as f64) / self.opts.fps < until - 1e-9 {
                if scaled.is_none() {
                    *scaled = Some(self.scaler.scale(raw, self.path)?);
                }
                on_frame(self.k, scaled.as_ref().expect("scaled"))?;
                self.k += 1;
                self.info.sampled_frames += 1;
            }
        }
        Ok(())
    }

    /// Take every frame the decoder has ready.
    fn receive(&mut self, decoder: &mut ff::decoder::Video, cancel: &AtomicBool, on_frame: &mut impl FnMut(usize, &RgbFrame) -> Result<()>) -> Result<()> {
        let mut frame = ff::frame::Video::empty();
        while decoder.receive_frame(&mut frame).is_ok() {
            if cancel.load(Ordering::Relaxed) {
                return Err(Error::Cancelled);
            }
            self.info.decoded_frames += 1;
            let ts = frame.timestamp().or(frame.pts());
            let prev_start = self.held.as_ref().map(|h| h.0);
            let abs = match ts {
                Some(ts) => ts as f64 * self.tb,
                // No timestamp (e.g. the last frame of an MPEG program stream): one frame interval after the
                // previous frame, as FFmpeg's CLI guesses it; before any interval is known, one sample interval.
                None => {
                    prev_start.map(|p| p + if self.last_delta > 0.0 { self.last_delta } else { 1.0 / self.opts.fps }).unwrap_or(0.0) + self.t0.unwrap_or(0.0)
                }
            };
            let start = abs - *self.t0.get_or_insert(abs);
            if start >= self.opts.max_duration {
                return Err(too_long(self.path, start, self.opts.max_duration));
            }
            if let Some(p) = prev_start {
                if start <= p {
                    continue; // out-of-order or duplicate timestamp: keep the frame already held
                }
                self.last_delta = start - p;
            }
            self.emit_until(start, on_frame)?;
            // Keep this frame by swapping buffers (a clone would deep-copy every decoded picture);
            // the previous held frame's buffer is reused by the next receive_frame.
            match self.held.as_mut() {
                Some(h) => {
                    std::mem::swap(&mut h.1, &mut frame);
                    h.0 = start;
                    h.2 = None;
                }
                None => self.held = Some((start, std::mem::replace(&mut frame, ff::frame::Video::empty()), None)),
            }
        }
        Ok(())
    }

    /// The last frame lasts its own duration, else the previous frame interval, else the stream rate.
    fn finish(mut self, decoder: &ff::decoder::Video, on_frame: &mut impl FnMut(usize, &RgbFrame) -> Result<()>) -> Result<VideoInfo> {
        let Some((last_start, raw, _)) = self.held.as_ref() else {
            return Err(Error::decode(self.path, "no decodable video frames"));
        };
        let own = raw.packet().duration as f64 * self.tb;
        let rate = decoder.frame_rate().map(|r| f64::from(r.denominator()) / f64::from(r.numerator()).max(1.0));
        let last_len = if own > 0.0 {
            own
        } else if self.last_delta > 0.0 {
            self.last_delta
        } else {
            rate.filter(|r| *r > 0.0).unwrap_or(1.0 / self.opts.fps)
        };
        self.info.duration = last_start + last_len;
        if self.info.duration > self.opts.max_duration {
            return Err(too_long(self.path, self.info.duration, self.opts.max_duration));
        }
        self.emit_until(self.info.duration, on_frame)?;
        Ok(self.info)
    }
}
