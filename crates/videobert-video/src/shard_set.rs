//! A shard set made in parts: the tasks of a Slurm array or a Kubernetes Indexed Job each tokenize
//! part i of n (`--shard i/n`: the chunks `c` with `c % n == i`). They may write into one shared
//! directory, or each into its own (a node-local disk, a pod's volume) to be gathered afterwards.
//!
//! - [`check`]: is every chunk of the manifest there (its JSON written last, so present = complete),
//!   made with one set of parameters? Which chunks are missing?
//! - [`merge`]: gather part directories into one (every part made with the same parameters from the
//!   same manifest; a chunk found twice must be the same bytes), then check the result.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::fsio::{write_atomic, write_atomic_with};
use crate::shards::{chunk_numbers, chunk_stem, read_chunk_index, read_index, Failure};

/// What `check` found in a shard directory.
#[derive(Debug, Clone, PartialEq)]
pub struct SetStatus {
    pub dir: PathBuf,
    /// Videos of the manifest (None: a set made before the count was recorded — missing chunks at
    /// the end cannot be told from a shorter manifest).
    pub manifest_videos: Option<usize>,
    /// Chunks the manifest makes (`manifest_videos / videos_per_shard`, rounded up).
    pub chunks_expected: Option<usize>,
    /// Complete chunks present, ascending.
    pub chunks_present: Vec<usize>,
    /// Chunks the manifest makes that are not here, ascending (part `c % n` of an n-part job makes chunk c).
    pub chunks_missing: Vec<usize>,
    /// Videos tokenized, and videos that failed, in the chunks present.
    pub videos: usize,
    pub failed: usize,
}

impl SetStatus {
    /// Every chunk of the manifest is here.
    pub fn complete(&self) -> bool {
        self.chunks_expected.is_some() && self.chunks_missing.is_empty()
    }
}

/// Check the shard directory `dir`: its chunks against the manifest's size recorded in `index.json`.
/// A chunk made with other parameters, or past the manifest's end, is an error (another run's).
pub fn check(dir: &Path) -> Result<SetStatus> {
    let index = read_index(dir)?;
    let expected = index.videos.map(|v| v.div_ceil(index.params.videos_per_shard));
    let present = chunk_numbers(dir)?;
    let (mut videos, mut failed) = (0, 0);
    for &c in &present {
        let ci = read_chunk_index(dir, c)?.expect("listed by chunk_numbers");
        if ci.params_hash != index.params_hash {
            return Err(Error::input(dir.display().to_string(), format!("{} was made with other parameters than index.json", chunk_stem(c))));
        }
        if expected.is_some_and(|n| c >= n) {
            return Err(Error::input(
                dir.display().to_string(),
                format!("{} lies past the end of the manifest ({} videos): a chunk of another run", chunk_stem(c), index.videos.unwrap_or(0)),
            ));
        }
        let tensors = dir.join(format!("{}.safetensors", chunk_stem(c)));
        if !tensors.is_file() {
            return Err(Error::input(dir.display().to_string(), format!("{} has its index but not its tensors ({})", chunk_stem(c), tensors.display())));
        }
        videos += ci.videos.len();
        failed += ci.failures.len();
    }
    let missing = match expected {
        Some(n) => (0..n).filter(|c| present.binary_search(c).is_err()).collect(),
        None => Vec::new(),
    };
    Ok(SetStatus {
        dir: dir.to_path_buf(),
        manifest_videos: index.videos,
        chunks_expected: expected,
        chunks_present: present,
        chunks_missing: missing,
        videos,
        failed,
    })
}

/// Rewrite `failures.jsonl` of `dir` from the failures recorded in its complete chunks.
pub fn write_failure_list(dir: &Path) -> Result<()> {
    let mut all: Vec<Failure> = Vec::new();
    for c in chunk_numbers(dir)? {
        if let Some(ci) = read_chunk_index(dir, c)? {
            all.extend(ci.failures);
        }
    }
    let jsonl: String = all.iter().map(|f| serde_json::to_string(f).expect("failure serialises") + "\n").collect();
    write_atomic(&dir.join("failures.jsonl"), jsonl.as_bytes())
}

/// Gather the part directories `parts` into `out` (which may be one of them, or hold chunks of an
/// earlier merge), then `check` it. Every part must be one manifest tokenized with one set of
/// parameters; a chunk found in two places must be the same bytes. Files are copied (tensors
/// first, the chunk's JSON last, each atomically): an interrupted merge can be run again.
pub fn merge(parts: &[PathBuf], out: &Path) -> Result<SetStatus> {
    let first = parts.first().ok_or_else(|| Error::config("parts", "give at least one part directory"))?;
    let index = read_index(first)?;
    for p in &parts[1..] {
        let other = read_index(p)?;
        if other.params_hash != index.params_hash {
            return Err(Error::input(p.display().to_string(), format!("made with other tokenization parameters than {}", first.display())));
        }
        if other.videos != index.videos {
            return Err(Error::input(
                p.display().to_string(),
                format!("a part of another manifest ({:?} videos, {} has {:?})", other.videos, first.display(), index.videos),
            ));
        }
    }
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    match read_index(out) {
        Ok(existing) if existing.params_hash != index.params_hash || existing.videos != index.videos => {
            return Err(Error::input(out.display().to_string(), "holds shards of another run (other parameters or manifest); merge into another directory"))
        }
        Ok(_) => {}
        Err(_) => write_atomic(&out.join("index.json"), serde_json::to_string_pretty(&index).expect("index serialises").as_bytes())?,
    }
    let same_dir = |a: &Path, b: &Path| matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y);
    for part in parts.iter().filter(|p| !same_dir(p, out)) {
        for c in chunk_numbers(part)? {
            let stem = chunk_stem(c);
            let (json, tensors) = (format!("{stem}.json"), format!("{stem}.safetensors"));
            let src_json = std::fs::read(part.join(&json)).map_err(|e| Error::io(part.join(&json), e))?;
            match std::fs::read(out.join(&json)) {
                Ok(have) if have == src_json => continue, // merged before (or the same chunk in two parts)
                Ok(_) => return Err(Error::input(part.display().to_string(), format!("{stem} is also in {} with other contents", out.display()))),
                Err(_) => {}
            }
            let src = part.join(&tensors);
            write_atomic_with(&out.join(&tensors), |tmp| std::fs::copy(&src, tmp).map(drop).map_err(|e| Error::io(&src, e)))?;
            write_atomic(&out.join(&json), &src_json)?;
        }
    }
    write_failure_list(out)?;
    check(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::ManifestEntry;
    use crate::segments::TokenizeOptions;
    use crate::shards::{write_chunk, FeatureDType, IndexFile, ShardParams};
    use crate::subtitles::AlignOptions;

    /// A set of `videos` videos, 2 per chunk, holding the `chunks` given (each chunk's videos failed
    /// to decode: a chunk with a record and no tensors rows is enough for the bookkeeping tested here).
    fn part(dir: &Path, videos: usize, chunks: &[usize], dtype: FeatureDType) {
        let params = params_of(dtype);
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).unwrap();
        let index = IndexFile { version: 1, params_hash: params.hash(), params: params.clone(), videos: Some(videos) };
        write_atomic(&dir.join("index.json"), serde_json::to_string(&index).unwrap().as_bytes()).unwrap();
        for &c in chunks {
            let entries = (2 * c..(2 * c + 2).min(videos)).map(|v| ManifestEntry {
                id: format!("v{v}"),
                video: PathBuf::from(format!("v{v}.mp4")),
                captions: vec![],
                subtitles: vec![],
                label: None,
                metadata: Default::default(),
            });
            let results = entries.map(|e| (e, Err(Error::decode("v.mp4", "synthetic failure")))).collect();
            write_chunk(dir, c, &params, results, None).unwrap();
        }
    }

    fn tmp(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("vb-shard-set-{}-{name}", std::process::id()))
    }

    #[test]
    fn check_names_the_missing_chunks_and_merge_fills_them() {
        let (a, b, out) = (tmp("a"), tmp("b"), tmp("out"));
        // 7 videos, 2 per chunk: chunks 0..4; part 0/2 made 0 and 2, part 1/2 only 1 (3 is missing).
        part(&a, 7, &[0, 2], FeatureDType::F16);
        part(&b, 7, &[1], FeatureDType::F16);
        let s = check(&a).unwrap();
        assert_eq!((s.chunks_expected, s.chunks_present.clone(), s.chunks_missing.clone()), (Some(4), vec![0, 2], vec![1, 3]));
        assert!(!s.complete());
        let _ = std::fs::remove_dir_all(&out);
        let m = merge(&[a.clone(), b.clone()], &out).unwrap();
        assert_eq!((m.chunks_present.clone(), m.chunks_missing.clone(), m.failed), (vec![0, 1, 2], vec![3], 6));
        // The last part arrives; merging again copies only it, and the set is complete.
        part(&b, 7, &[1, 3], FeatureDType::F16);
        let m = merge(&[a.clone(), b.clone()], &out).unwrap();
        assert!(m.complete(), "{m:?}");
        assert_eq!((m.videos, m.failed, m.manifest_videos), (0, 7, Some(7)));
        assert_eq!(std::fs::read_to_string(out.join("failures.jsonl")).unwrap().lines().count(), 7);
        for d in [a, b, out] {
            std::fs::remove_dir_all(d).unwrap();
        }
    }

    #[test]
    fn parts_of_other_runs_are_refused() {
        let (a, b, c, out) = (tmp("ra"), tmp("rb"), tmp("rc"), tmp("rout"));
        part(&a, 7, &[0], FeatureDType::F16);
        part(&b, 7, &[1], FeatureDType::F32); // other parameters
        part(&c, 9, &[1], FeatureDType::F16); // another manifest
        let _ = std::fs::remove_dir_all(&out);
        let e = merge(&[a.clone(), b.clone()], &out).unwrap_err().to_string();
        assert!(e.contains("other tokenization parameters"), "{e}");
        let e = merge(&[a.clone(), c.clone()], &out).unwrap_err().to_string();
        assert!(e.contains("another manifest"), "{e}");
        let e = check(&tmp("nothing-here")).unwrap_err().to_string();
        assert!(e.contains("not a token-shard directory (no index.json)"), "{e}");
        // A chunk past the manifest's end is another run's.
        part(&c, 3, &[0], FeatureDType::F16);
        write_chunk(&c, 5, &params_of(FeatureDType::F16), vec![], None).unwrap();
        let e = check(&c).unwrap_err().to_string();
        assert!(e.contains("past the end of the manifest"), "{e}");
        for d in [a, b, c] {
            std::fs::remove_dir_all(d).unwrap();
        }
    }

    /// Default tokenization, 2 videos per chunk.
    fn params_of(dtype: FeatureDType) -> ShardParams {
        ShardParams::new(&TokenizeOptions::default(), dtype, None, 2, &AlignOptions::default())
    }
}
