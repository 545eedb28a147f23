//! Data-parallel semantics without MPI: ranks are threads joined by an in-process `Collective`, so
//! the step's arithmetic (row-indexed masks, count-weighted losses, summed gradients) is checked
//! here; `__test__/distributed.spec.ts` checks the same over real MPI processes (mpirun).

mod common;

use std::sync::{Arc, Barrier, Mutex};

use common::{model, random_batch};
use videobert_core::distributed::{Alone, Collective, DataParallel, ReduceOp};
use videobert_core::{Batch, DType, Error, Result, Session, StepOptions, VideoBertConfig};

/// `world` threads reducing through shared memory: each call adds its contribution under a lock,
/// waits for all, reads the result, and waits again before the next call may start.
struct ThreadGroup {
    rank: usize,
    shared: Arc<Shared>,
}

struct Shared {
    world: usize,
    barrier: Barrier,
    acc: Mutex<Vec<f64>>,
}

impl ThreadGroup {
    fn group(world: usize) -> Vec<ThreadGroup> {
        let shared = Arc::new(Shared { world, barrier: Barrier::new(world), acc: Mutex::new(Vec::new()) });
        (0..world).map(|rank| ThreadGroup { rank, shared: shared.clone() }).collect()
    }

    fn reduce(&self, buf: &mut [f64], op: ReduceOp) {
        {
            let mut acc = self.shared.acc.lock().unwrap();
            if acc.len() != buf.len() {
                acc.clear();
                acc.extend_from_slice(buf);
            } else {
                for (a, &x) in acc.iter_mut().zip(buf.iter()) {
                    *a = match op {
                        ReduceOp::Sum => *a + x,
                        ReduceOp::Max => a.max(x),
                        ReduceOp::Min => a.min(x),
                    };
                }
            }
        }
        self.shared.barrier.wait();
        buf.copy_from_slice(&self.shared.acc.lock().unwrap());
        if self.shared.barrier.wait().is_leader() {
            self.shared.acc.lock().unwrap().clear();
        }
        self.shared.barrier.wait();
    }
}

impl Collective for ThreadGroup {
    fn rank(&self) -> usize {
        self.rank
    }
    fn world_size(&self) -> usize {
        self.shared.world
    }
    fn backend(&self) -> &'static str {
        "threads"
    }
    fn all_reduce_f32(&self, buf: Vec<f32>, _what: &str) -> Result<Vec<f32>> {
        // Sum in rank order (f64 then rounded), as deterministic as MPI's reduction.
        let mut wide: Vec<f64> = buf.iter().map(|&x| x as f64).collect();
        self.reduce(&mut wide, ReduceOp::Sum);
        Ok(wide.into_iter().map(|x| x as f32).collect())
    }
    fn all_reduce_f64(&self, buf: &mut [f64], op: ReduceOp, _what: &str) -> Result<()> {
        self.reduce(buf, op);
        Ok(())
    }
    fn broadcast(&self, buf: &mut [u8], root: usize, _what: &str) -> Result<()> {
        let mut wide: Vec<f64> = if self.rank == root { buf.iter().map(|&b| b as f64).collect() } else { vec![0.0; buf.len()] };
        self.reduce(&mut wide, ReduceOp::Sum);
        for (o, x) in buf.iter_mut().zip(wide) {
            *o = x as u8;
        }
        Ok(())
    }
    fn barrier(&self, _what: &str) -> Result<()> {
        self.reduce(&mut [], ReduceOp::Sum);
        Ok(())
    }
    fn finish(&self, _success: bool) {}
}

/// Rows `lo..hi` of a batch (every per-row field sliced).
fn rows(cfg: &VideoBertConfig, b: &Batch, lo: usize, hi: usize) -> Batch {
    let (l, t) = (cfg.max_text_len, cfg.max_segments);
    let per_seg = cfg.num_regions.max(1) * cfg.feature_dim;
    let cut = |v: &Vec<u8>, n: usize| v[lo * n..hi * n].to_vec();
    Batch {
        batch_size: hi - lo,
        text_ids: b.text_ids[lo * l..hi * l].to_vec(),
        text_mask: b.text_mask.as_ref().map(|v| cut(v, l)),
        video_features: b.video_features.as_ref().map(|v| v[lo * t * per_seg..hi * t * per_seg].to_vec()),
        visual_word_ids: b.visual_word_ids.as_ref().map(|v| v[lo * t..hi * t].to_vec()),
        video_mask: b.video_mask.as_ref().map(|v| cut(v, t)),
        vtm_labels: b.vtm_labels.as_ref().map(|v| cut(v, 1)),
        labels: b.labels.as_ref().map(|v| v[lo..hi].to_vec()),
        caption_ids: b.caption_ids.as_ref().map(|v| v[lo * l..hi * l].to_vec()),
        num_choices: b.num_choices,
    }
}

fn params(vb: &Session) -> Vec<f32> {
    vb.params().iter().flat_map(|(_, v)| v.as_tensor().flatten_all().unwrap().to_vec1::<f32>().unwrap()).collect()
}

/// `‖a − b‖ / ‖a‖` over all parameters: how far apart two models are, relative to their size
/// (Adam normalises each element's step, so the float summation order of a split batch moves single
/// elements by more than this; the model as a whole stays within it).
fn max_rel_diff(a: &[f32], b: &[f32]) -> f64 {
    let norm = a.iter().map(|&x| (x as f64).powi(2)).sum::<f64>().sqrt();
    a.iter().zip(b).map(|(x, y)| (*x as f64 - *y as f64).powi(2)).sum::<f64>().sqrt() / norm
}

/// Long enough texts that rows differ in how many words are masked (what the count weighting is for).
fn config() -> VideoBertConfig {
    VideoBertConfig { max_text_len: 40, max_segments: 12, ..VideoBertConfig::tiny() }
}

const OPTS: StepOptions = StepOptions { lr: 2e-3, max_grad_norm: 1.0, layer_rates: videobert_core::LayerRates { layer_decay: 1.0, encoder_scale: 1.0 } };

/// One process on the whole batches: parameters and per-step losses.
fn single(cfg: &VideoBertConfig, batches: &[Batch]) -> (Vec<f32>, Vec<f64>) {
    let mut vb = model(cfg.clone(), DType::F32, 3);
    let losses = batches.iter().map(|b| vb.train_step(std::slice::from_ref(b), OPTS).unwrap().loss).collect();
    (params(&vb), losses)
}

/// `splits.len()` ranks (threads), rank r training on rows `splits[r]` of every batch.
fn parallel(cfg: &VideoBertConfig, batches: &[Batch], splits: &[(usize, usize)]) -> Vec<(Vec<f32>, Vec<f64>)> {
    let group = ThreadGroup::group(splits.len());
    std::thread::scope(|s| {
        let handles: Vec<_> = group
            .into_iter()
            .zip(splits)
            .map(|(comm, &(lo, hi))| {
                s.spawn(move || {
                    let mut vb = model(cfg.clone(), DType::F32, 3);
                    vb.join_data_parallel(DataParallel { check_every: 5, ..DataParallel::new(Arc::new(comm)) }).unwrap();
                    let losses = batches.iter().map(|b| vb.train_step(&[rows(cfg, b, lo, hi)], OPTS).unwrap().loss).collect();
                    (params(&vb), losses)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

#[test]
fn two_ranks_of_half_batches_step_like_one_process_on_the_whole() {
    let cfg = config();
    let batches: Vec<Batch> = (0..20).map(|i| random_batch(&cfg, 4, 900 + i)).collect();
    let (reference, ref_losses) = single(&cfg, &batches);
    for splits in [vec![(0, 2), (2, 4)], vec![(0, 3), (3, 4)]] {
        let ranks = parallel(&cfg, &batches, &splits);
        for (r, (p, losses)) in ranks.iter().enumerate() {
            let d = max_rel_diff(&reference, p);
            eprintln!("split {splits:?} rank {r}: relative parameter difference {d:e}");
            assert!(d < 1e-5, "split {splits:?} rank {r}: parameters differ by {d:e} (relative to the largest)");
            for (a, b) in losses.iter().zip(&ref_losses) {
                assert!((a - b).abs() < 1e-5 * b.abs(), "split {splits:?} rank {r}: loss {a} vs {b}");
            }
        }
        assert_eq!(ranks[0].0, ranks[1].0, "the ranks hold bit-identical parameters");
    }
}

/// A group of one (what the NCCL check on one GPU runs, `tests/cuda.rs`): the data-parallel step's
/// weighting and bucketed reduction change nothing, to the bit.
#[test]
fn a_group_of_one_steps_exactly_like_no_group() {
    let cfg = config();
    let batches: Vec<Batch> = (0..6).map(|i| random_batch(&cfg, 4, 500 + i)).collect();
    let (want, want_losses) = single(&cfg, &batches);
    let mut vb = model(cfg.clone(), DType::F32, 3);
    vb.join_data_parallel(DataParallel { bucket_bytes: 64 << 10, check_every: 2, ..DataParallel::new(Arc::new(Alone)) }).unwrap();
    let losses: Vec<f64> = batches.iter().map(|b| vb.train_step(std::slice::from_ref(b), OPTS).unwrap().loss).collect();
    assert_eq!(losses, want_losses);
    assert!(params(&vb) == want, "parameters differ");
}

#[test]
fn micro_batches_step_like_one_batch_of_their_rows() {
    let cfg = config();
    let batches: Vec<Batch> = (0..10).map(|i| random_batch(&cfg, 4, 700 + i)).collect();
    let (reference, ref_losses) = single(&cfg, &batches);
    let mut vb = model(cfg.clone(), DType::F32, 3);
    for (b, want) in batches.iter().zip(&ref_losses) {
        let m = vb.train_step(&[rows(&cfg, b, 0, 1), rows(&cfg, b, 1, 4)], OPTS).unwrap();
        assert!((m.loss - want).abs() < 1e-5 * want.abs(), "{} vs {want}", m.loss);
        assert!((m.loss - (m.mlm_loss + m.video_loss + m.vtm_loss)).abs() < 1e-5);
    }
    let d = max_rel_diff(&reference, &params(&vb));
    assert!(d < 1e-5, "parameters differ by {d:e}");
}

#[test]
fn ranks_that_start_apart_or_drift_are_stopped() {
    let cfg = &VideoBertConfig::tiny();
    let batch = random_batch(cfg, 4, 5);
    // Different seeds: refused when joining.
    let group = ThreadGroup::group(2);
    let errors: Vec<String> = std::thread::scope(|s| {
        let hs: Vec<_> = group
            .into_iter()
            .enumerate()
            .map(|(r, comm)| {
                s.spawn(move || {
                    let mut vb = model(cfg.clone(), DType::F32, r as u64);
                    match vb.join_data_parallel(DataParallel::new(Arc::new(comm))) {
                        Err(Error::Distributed(m)) => m,
                        other => panic!("expected a Distributed error, got {other:?}"),
                    }
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(errors.iter().all(|e| e.contains("start from different models")), "{errors:?}");
    // Rank 1 trains on other data without the row split (a bug in the caller): the fingerprint
    // check after step 2 stops both.
    let group = ThreadGroup::group(2);
    let batch = &batch;
    let errors: Vec<String> = std::thread::scope(|s| {
        let hs: Vec<_> = group
            .into_iter()
            .map(|comm| {
                s.spawn(move || {
                    let rank = comm.rank;
                    let mut vb = model(cfg.clone(), DType::F32, 3);
                    vb.join_data_parallel(DataParallel { check_every: 2, ..DataParallel::new(Arc::new(comm)) }).unwrap();
                    for step in 0..4 {
                        let lr = if rank == 1 && step == 1 { 0.1 } else { 2e-3 }; // rank 1's schedule differs
                        if let Err(e) = vb.train_step(std::slice::from_ref(batch), StepOptions { lr, ..OPTS }) {
                            return e.to_string();
                        }
                    }
                    panic!("rank {rank} never noticed the drift")
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(errors.iter().all(|e| e.contains("after step 2 the parameters of rank 1 differ")), "{errors:?}");
}
