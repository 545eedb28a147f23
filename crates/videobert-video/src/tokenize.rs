//! `tokenize_manifest`: a whole dataset into token shards — parallel over videos, deterministic
//! (independent of `workers` and decoder threads), resumable (complete chunks are skipped), spreadable
//! over machines (`shard = (i, n)` takes chunks `c` with `c % n == i`), and tolerant: a bad video is
//! recorded as a failure and the run goes on.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::fsio::fnv1a;
use crate::kmeans::Codebook;
use crate::manifest::ManifestEntry;
use crate::segments::{tokenize_file, TokenizeOptions};
use crate::shards::{chunk_numbers, chunk_stem, read_chunk_index, write_chunk, ChunkIndex, Failure, FeatureDType, IndexFile, ShardParams};
use crate::subtitles::{clip_to_duration, AlignOptions, AlignReport};

#[derive(Debug, Clone)]
pub struct ManifestOptions {
    pub tokenize: TokenizeOptions,
    pub out: PathBuf,
    /// Videos decoded at the same time.
    pub workers: usize,
    /// This job's part `(i, n)` of the chunks (`i < n`).
    pub shard: (usize, usize),
    pub videos_per_shard: usize,
    pub dtype: FeatureDType,
    pub codebook: Option<PathBuf>,
    /// How the entries' subtitle files become captions (`subtitles::align`).
    pub captions: AlignOptions,
}

impl Default for ManifestOptions {
    fn default() -> Self {
        Self {
            tokenize: TokenizeOptions::default(),
            out: PathBuf::from("tokens"),
            workers: rayon::current_num_threads(),
            shard: (0, 1),
            videos_per_shard: 256,
            dtype: FeatureDType::F16,
            codebook: None,
            captions: AlignOptions::default(),
        }
    }
}

/// Progress so far (counts are for this run; `videos_skipped` were done by an earlier run).
#[derive(Debug, Clone, Copy, Default)]
pub struct Progress {
    pub videos_total: usize,
    pub videos_done: usize,
    pub videos_skipped: usize,
    pub videos_failed: usize,
    pub segments: usize,
    /// Sampled frames (live).
    pub frames: usize,
    /// Frames the decoder produced (counted when a video finishes).
    pub decoded_frames: usize,
    pub seconds: f64,
}

#[derive(Debug, Clone)]
pub struct Summary {
    pub progress: Progress,
    /// Every failure in the output directory (this run's and earlier runs').
    pub failures: Vec<Failure>,
    pub out: PathBuf,
    /// What reading this run's subtitle sources did (summed over its videos; `subtitles::align`).
    pub subtitles: AlignReport,
}

/// The cores each decoder may use (its threads then follow from its video: `decode::frame_threads`):
/// the cores split over the videos that decode at the same time — `min(workers, videos)`, so one
/// long video alone gets every core rather than `cores / workers` of them.
pub fn decoder_cores(cores: usize, workers: usize, videos: usize) -> usize {
    (cores / workers.min(videos).max(1)).max(1)
}

/// Whether a written chunk holds exactly these entries (by id: the same videos moved elsewhere are still the same).
fn holds(chunk: &ChunkIndex, batch: &[ManifestEntry]) -> bool {
    let mut have: Vec<&str> = chunk.videos.iter().map(|v| v.id.as_str()).chain(chunk.failures.iter().map(|f| f.id.as_str())).collect();
    let mut want: Vec<&str> = batch.iter().map(|e| e.id.as_str()).collect();
    have.sort_unstable();
    want.sort_unstable();
    have == want
}

fn other_manifest(out: &std::path::Path, chunk: usize) -> Error {
    Error::config(
        "out",
        format!("{} holds {} of another manifest (other videos); use another --out, or delete it to start again", out.display(), chunk_stem(chunk)),
    )
}

pub fn tokenize_manifest(entries: &[ManifestEntry], opts: &ManifestOptions, cancel: &AtomicBool, on_progress: &(dyn Fn(&Progress) + Sync)) -> Result<Summary> {
    opts.tokenize.validate()?;
    opts.captions.validate()?;
    let (part, parts) = opts.shard;
    if parts == 0 || part >= parts {
        return Err(Error::config("shard", format!("expected i/n with i < n, got {part}/{parts}")));
    }
    if opts.workers == 0 {
        return Err(Error::config("workers", "must be > 0"));
    }
    if opts.videos_per_shard == 0 {
        return Err(Error::config("videosPerShard", "must be > 0"));
    }
    let codebook = match &opts.codebook {
        Some(p) => {
            let cb = Codebook::load(p)?;
            if cb.dim != opts.tokenize.feature_dim() {
                return Err(Error::config("codebook", format!("codebook dim {} != feature dim {}", cb.dim, opts.tokenize.feature_dim())));
            }
            Some((cb, fnv1a(&std::fs::read(p).map_err(|e| Error::io(p, e))?)))
        }
        None => None,
    };
    let params = ShardParams::new(&opts.tokenize, opts.dtype, codebook.as_ref().map(|c| c.1.clone()), opts.videos_per_shard, &opts.captions);
    let hash = params.hash();
    std::fs::create_dir_all(&opts.out).map_err(|e| Error::io(&opts.out, e))?;
    let index_path = opts.out.join("index.json");
    // The parts of an array job may all get here at once: each writes the same index (a temporary
    // file of its own, renamed over), so whichever rename lands last leaves the same bytes.
    let videos = Some(entries.len());
    let old: Option<IndexFile> = match std::fs::read_to_string(&index_path) {
        Ok(text) => Some(serde_json::from_str(&text).map_err(|e| Error::input(index_path.display().to_string(), format!("corrupt index: {e}")))?),
        Err(_) => None,
    };
    if let Some(old) = &old {
        if old.params_hash != hash {
            return Err(Error::config("out", format!("{} holds shards made with other parameters; use another --out", opts.out.display())));
        }
        if old.videos.is_some_and(|n| Some(n) != videos) {
            return Err(Error::config(
                "out",
                format!(
                    "{} holds shards of a manifest of {} videos, this one has {}; use another --out",
                    opts.out.display(),
                    old.videos.unwrap_or(0),
                    entries.len()
                ),
            ));
        }
    }
    if old.as_ref().is_none_or(|o| o.videos.is_none()) {
        let index = IndexFile { version: 1, params: params.clone(), params_hash: hash.clone(), videos };
        crate::fsio::write_atomic(&index_path, serde_json::to_string_pretty(&index).expect("index serialises").as_bytes())?;
    }

    // A directory holds the shards of one manifest: resuming reuses a chunk only if it holds this
    // manifest's videos for that chunk, and a chunk past the manifest's end means another manifest.
    let total_chunks = entries.len().div_ceil(opts.videos_per_shard);
    if let Some(&extra) = chunk_numbers(&opts.out)?.iter().find(|&&c| c >= total_chunks) {
        return Err(other_manifest(&opts.out, extra));
    }
    let chunks: Vec<usize> = (0..total_chunks).filter(|c| c % parts == part).collect();
    let videos_total = chunks.iter().map(|&c| (entries.len() - c * opts.videos_per_shard).min(opts.videos_per_shard)).sum();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let mut tok = opts.tokenize.clone();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.workers)
        .thread_name(|i| format!("videobert-tokenize-{i}"))
        .build()
        .map_err(|e| Error::config("workers", e.to_string()))?;

    let start = Instant::now();
    let (done, skipped, failed, segments, frames) = (AtomicUsize::new(0), AtomicUsize::new(0), AtomicUsize::new(0), AtomicUsize::new(0), AtomicUsize::new(0));
    let decoded = AtomicUsize::new(0);
    let snapshot = || Progress {
        videos_total,
        videos_done: done.load(Ordering::Relaxed),
        videos_skipped: skipped.load(Ordering::Relaxed),
        videos_failed: failed.load(Ordering::Relaxed),
        segments: segments.load(Ordering::Relaxed),
        frames: frames.load(Ordering::Relaxed),
        decoded_frames: decoded.load(Ordering::Relaxed),
        seconds: start.elapsed().as_secs_f64(),
    };
    let mut failures = Vec::new();
    let mut subtitles = AlignReport::default();
    for chunk in chunks {
        let batch = &entries[chunk * opts.videos_per_shard..((chunk + 1) * opts.videos_per_shard).min(entries.len())];
        if let Some(existing) = read_chunk_index(&opts.out, chunk)? {
            if existing.params_hash == hash && !holds(&existing, batch) {
                return Err(other_manifest(&opts.out, chunk));
            }
            if existing.params_hash == hash {
                skipped.fetch_add(batch.len(), Ordering::Relaxed);
                done.fetch_add(batch.len(), Ordering::Relaxed);
                failures.extend(existing.failures);
                on_progress(&snapshot());
                continue;
            }
            return Err(Error::config("out", format!("{} was made with other parameters", chunk_stem(chunk))));
        }
        tok.cores = decoder_cores(cores, opts.workers, batch.len());
        let results: Vec<_> = pool.install(|| {
            batch
                .par_iter()
                .map(|entry| {
                    if cancel.load(Ordering::Relaxed) {
                        return (entry.clone(), Err(Error::Cancelled), AlignReport::default());
                    }
                    // The text first: a subtitle file that does not read fails this video before decoding.
                    let mut entry = entry.clone();
                    let mut report = AlignReport::default();
                    let r = entry.timed_captions(&opts.captions).and_then(|(captions, rep)| {
                        (entry.captions, report) = (captions, rep);
                        let mut last = 0;
                        tokenize_file(&entry.video, &tok, cancel, |n| {
                            frames.fetch_add(n - last, Ordering::Relaxed);
                            last = n;
                        })
                    });
                    match &r {
                        Ok(v) => {
                            clip_to_duration(&mut entry.captions, v.info.duration, &mut report);
                            segments.fetch_add(v.segments.len(), Ordering::Relaxed);
                            decoded.fetch_add(v.info.decoded_frames, Ordering::Relaxed);
                        }
                        Err(_) => {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                    on_progress(&snapshot());
                    (entry, r, report)
                })
                .collect()
        });
        if cancel.load(Ordering::Relaxed) || results.iter().any(|(_, r, _)| matches!(r, Err(Error::Cancelled))) {
            return Err(Error::Cancelled); // the unfinished chunk is not written; a re-run redoes it
        }
        let results: Vec<_> = results
            .into_iter()
            .map(|(e, r, rep)| {
                subtitles.add(&rep);
                (e, r)
            })
            .collect();
        let word = codebook.as_ref().map(|(cb, _)| move |x: &[f32]| cb.word(x));
        let index = write_chunk(&opts.out, chunk, &params, results, word.as_ref().map(|w| w as &dyn Fn(&[f32]) -> u32))?;
        failures.extend(index.failures);
    }
    // failures.jsonl: every failure recorded in this directory's complete chunks (all parts').
    crate::shard_set::write_failure_list(&opts.out)?;
    let progress = snapshot();
    on_progress(&progress);
    Ok(Summary { progress, failures, out: opts.out.clone(), subtitles })
}

#[cfg(test)]
mod tests {
    use super::decoder_cores;

    #[test]
    fn decoders_get_the_cores_no_other_video_uses() {
        assert_eq!(decoder_cores(2, 2, 1), 2, "one video, two workers: both cores decode it");
        assert_eq!(decoder_cores(2, 2, 300), 1, "many videos: one core per worker");
        assert_eq!(decoder_cores(16, 4, 2), 8);
        assert_eq!(decoder_cores(2, 8, 100), 1, "never 0");
    }
}
