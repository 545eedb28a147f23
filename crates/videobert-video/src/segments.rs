//! Segments: consecutive sampled frames (`frames_per_segment`, moved by `stride`) pooled over time
//! into `R` region vectors plus their mean — one video token each.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::atomic::AtomicBool;

use serde::{Deserialize, Serialize};

use crate::builtin::{BuiltinExtractor, BuiltinOptions};
use crate::decode::{decode_sampled, DecodeOptions, VideoInfo};
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TemporalPool {
    Mean,
    Max,
}

#[derive(Debug, Clone)]
pub struct TokenizeOptions {
    /// Sampled frames per second. Default 10.
    pub fps: f64,
    /// Frames per segment. Default 16.
    pub frames_per_segment: usize,
    /// Frames between segment starts. Default = frames_per_segment (no overlap).
    pub stride: usize,
    /// Keep the last partial segment (pooled over its real frames) instead of dropping it.
    pub pad_last: bool,
    pub pool: TemporalPool,
    pub builtin: BuiltinOptions,
    /// Decoder threads, 0 = auto (`decode::frame_threads`).
    pub threads: usize,
    /// With `threads` 0: the cores the decoder may use (0 = all of the machine's).
    pub cores: usize,
    /// Use this pretrained backbone instead of the builtin descriptor (its grid must equal `builtin.grid`).
    pub backbone: Option<std::sync::Arc<crate::backbone::Backbone>>,
    /// The longest video accepted, seconds (see `DecodeOptions::max_duration`). Default 4 hours.
    pub max_duration: f64,
}

impl Default for TokenizeOptions {
    fn default() -> Self {
        Self {
            fps: 10.0,
            frames_per_segment: 16,
            stride: 16,
            pad_last: false,
            pool: TemporalPool::Mean,
            builtin: BuiltinOptions::default(),
            threads: 0,
            cores: 0,
            backbone: None,
            max_duration: crate::decode::DEFAULT_MAX_DURATION,
        }
    }
}

impl TokenizeOptions {
    pub fn validate(&self) -> Result<()> {
        if !(self.fps.is_finite() && self.fps > 0.0 && self.fps <= 240.0) {
            return Err(Error::config("fps", format!("must be in (0, 240], got {}", self.fps)));
        }
        if self.frames_per_segment == 0 {
            return Err(Error::config("framesPerSegment", "must be > 0"));
        }
        if self.stride == 0 {
            return Err(Error::config("stride", "must be > 0"));
        }
        crate::decode::check_max_duration(self.max_duration)?;
        if self.builtin.grid == 0 || self.builtin.grid > 8 {
            return Err(Error::config("grid", format!("must be in [1, 8], got {}", self.builtin.grid)));
        }
        if self.builtin.dim == 0 || self.builtin.dim > 4096 {
            return Err(Error::config("featureDim", format!("must be in [1, 4096], got {}", self.builtin.dim)));
        }
        if (self.builtin.size as usize) < 2 * self.builtin.grid || self.builtin.size > 1024 {
            return Err(Error::config("frameSize", format!("must be in [2·grid, 1024], got {}", self.builtin.size)));
        }
        if let Some(b) = &self.backbone {
            if b.grid != self.builtin.grid {
                return Err(Error::config("grid", format!("the backbone was loaded for grid {}, not {}", b.grid, self.builtin.grid)));
            }
        }
        Ok(())
    }

    pub fn num_regions(&self) -> usize {
        self.builtin.grid * self.builtin.grid
    }

    /// F: the builtin descriptor's size, or the backbone's width.
    pub fn feature_dim(&self) -> usize {
        self.backbone.as_ref().map_or(self.builtin.dim, |b| b.dim)
    }

    /// Side of the square frames the decoder produces for the extractor.
    pub fn frame_size(&self) -> u32 {
        self.backbone.as_ref().map_or(self.builtin.size, |b| b.frame_size())
    }
}

/// One video token.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// Seconds from the first frame.
    pub start: f64,
    pub end: f64,
    /// Real (not padded) frames in this segment.
    pub frames: usize,
    /// `[R, F]` temporally pooled region features.
    pub regions: Vec<f32>,
    /// `[F]` mean of the regions.
    pub pooled: Vec<f32>,
}

#[derive(Debug, Clone)]
pub struct TokenizedVideo {
    pub info: VideoInfo,
    pub segments: Vec<Segment>,
}

fn pool_segment(frames: &[&Vec<f32>], r: usize, f: usize, pool: TemporalPool, start: f64, end: f64) -> Segment {
    let mut regions = vec![if pool == TemporalPool::Max { f32::NEG_INFINITY } else { 0.0 }; r * f];
    for fr in frames {
        for (acc, v) in regions.iter_mut().zip(fr.iter()) {
            match pool {
                TemporalPool::Mean => *acc += v,
                TemporalPool::Max => *acc = acc.max(*v),
            }
        }
    }
    if pool == TemporalPool::Mean {
        let n = frames.len() as f32;
        regions.iter_mut().for_each(|x| *x /= n);
    }
    let mut pooled = vec![0f32; f];
    for reg in regions.chunks_exact(f) {
        for (p, v) in pooled.iter_mut().zip(reg) {
            *p += v / r as f32;
        }
    }
    Segment { start, end, frames: frames.len(), regions, pooled }
}

/// Decode, extract builtin features and cut into segments. Memory: one decoded frame plus the
/// per-frame features of one segment window; `on_frame` sees the count of sampled frames so far.
pub fn tokenize_file(path: &Path, opts: &TokenizeOptions, cancel: &AtomicBool, mut on_frame: impl FnMut(usize)) -> Result<TokenizedVideo> {
    opts.validate()?;
    let (r, f) = (opts.num_regions(), opts.feature_dim());
    let (len, stride, fps) = (opts.frames_per_segment, opts.stride, opts.fps);
    let mut extractor = BuiltinExtractor::new(opts.builtin);
    let size = opts.frame_size();
    let mut window: VecDeque<(usize, Vec<f32>)> = VecDeque::with_capacity(len);
    let mut segments = Vec::new();
    let mut next_start = 0usize;
    let decode =
        DecodeOptions { fps, width: size, height: size, threads: opts.threads, cores: opts.cores, skip_unsampled: true, max_duration: opts.max_duration };
    let info = decode_sampled(path, &decode, cancel, |k, frame| {
        let mut feats = vec![0f32; r * f];
        match &opts.backbone {
            Some(b) => b.frame_features(frame, &mut feats)?,
            None => extractor.frame_features(frame, &mut feats),
        }
        window.push_back((k, feats));
        while window.front().is_some_and(|(i, _)| *i < next_start) {
            window.pop_front();
        }
        if k + 1 == next_start + len {
            let frames: Vec<&Vec<f32>> = window.iter().map(|(_, v)| v).collect();
            segments.push(pool_segment(&frames, r, f, opts.pool, next_start as f64 / fps, (next_start + len) as f64 / fps));
            next_start += stride;
        }
        on_frame(k + 1);
        Ok(())
    })?;
    let total = info.sampled_frames;
    if opts.pad_last && next_start < total {
        let frames: Vec<&Vec<f32>> = window.iter().filter(|(i, _)| *i >= next_start).map(|(_, v)| v).collect();
        if !frames.is_empty() {
            segments.push(pool_segment(&frames, r, f, opts.pool, next_start as f64 / fps, total as f64 / fps));
        }
    }
    Ok(TokenizedVideo { info, segments })
}
