//! Caption generation with the caption decoder: greedy decoding and beam search, left to right from
//! `[CLS]` until `[SEP]`. The encoder reads each batch row once (its text as given, usually none);
//! every step runs the decoder over all live hypotheses of the batch in one call.
//!
//! Both searches share the rules of what may be written next (`Rules`): never a special token or a
//! banned id, `[SEP]` only after `min_length` word pieces and forced at `max_length`, and with
//! `no_repeat_ngram = n > 0` no n-gram twice. Ties break towards the lower token id, so both are
//! deterministic, and beam search with one beam is greedy decoding (tested).
//!
//! Beam search keeps `beam_size` live hypotheses per row; a hypothesis ending in `[SEP]` among the
//! step's best `beam_size` candidates is finished with the score `log P / len^length_penalty` (len
//! counts the `[SEP]`), and a row stops when it has `beam_size` finished hypotheses (or none is live).

use std::collections::HashSet;

use candle_core::{DType, Tensor};

use crate::batch::Batch;
use crate::config::VideoBertConfig;
use crate::error::{Error, Result};
use crate::model::VideoBertModel;
use crate::weights::Weights;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Search {
    Greedy,
    Beam(usize),
}

#[derive(Debug, Clone, PartialEq)]
pub struct GenerateOptions {
    pub search: Search,
    /// Fewest word pieces before `[SEP]` may be written (≥ 1).
    pub min_length: usize,
    /// Most word pieces; `[SEP]` is forced after them (≤ max_text_len).
    pub max_length: usize,
    /// Exponent α of the length normalisation `log P / len^α` that ranks finished beams (0 = raw log-probability).
    pub length_penalty: f64,
    /// Forbid repeating any n-gram of this size (0 = off; 1 = no word piece twice).
    pub no_repeat_ngram: usize,
    /// Ids never written, besides `[PAD]`, `[CLS]` and `[MASK]` (e.g. `[UNK]`).
    pub banned: Vec<u32>,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        Self { search: Search::Greedy, min_length: 1, max_length: 16, length_penalty: 1.0, no_repeat_ngram: 0, banned: vec![] }
    }
}

/// One generated caption.
#[derive(Debug, Clone, PartialEq)]
pub struct Generated {
    /// Word pieces, without `[CLS]` / `[SEP]`.
    pub ids: Vec<u32>,
    /// `log P(ids, [SEP] | video)` under the decoder.
    pub log_prob: f64,
    /// `log_prob / (ids.len() + 1)^length_penalty` (what beam search ranks by).
    pub score: f64,
}

struct Rules {
    never: HashSet<u32>,
    sep: u32,
    min_length: usize,
    max_length: usize,
    no_repeat: usize,
}

impl Rules {
    fn new(cfg: &VideoBertConfig, o: &GenerateOptions) -> Result<Self> {
        if o.min_length == 0 || o.min_length > o.max_length || o.max_length > cfg.max_text_len {
            return Err(Error::input(
                "maxLength",
                format!("need 1 <= minLength ({}) <= maxLength ({}) <= maxTextLen ({})", o.min_length, o.max_length, cfg.max_text_len),
            ));
        }
        if !(o.length_penalty.is_finite() && (0.0..=10.0).contains(&o.length_penalty)) {
            return Err(Error::input("lengthPenalty", format!("must be in [0, 10], got {}", o.length_penalty)));
        }
        if let Search::Beam(k) = o.search {
            if k == 0 || k > 64 {
                return Err(Error::input("beamSize", format!("must be in [1, 64], got {k}")));
            }
        }
        if let Some(&id) = o.banned.iter().find(|&&id| id as usize >= cfg.vocab_size || id == cfg.sep_token_id) {
            return Err(Error::input("banned", format!("id {id} is [SEP] or outside the vocabulary (size {})", cfg.vocab_size)));
        }
        let mut never: HashSet<u32> = o.banned.iter().copied().collect();
        never.extend([cfg.pad_token_id, cfg.cls_token_id, cfg.mask_token_id]);
        Ok(Self { never, sep: cfg.sep_token_id, min_length: o.min_length, max_length: o.max_length, no_repeat: o.no_repeat_ngram })
    }

    /// Ids that would complete an n-gram already in `prefix`.
    fn repeats(&self, prefix: &[u32]) -> HashSet<u32> {
        let n = self.no_repeat;
        if n == 0 || prefix.len() + 1 < n {
            return HashSet::new();
        }
        let tail = &prefix[prefix.len() + 1 - n..];
        prefix.windows(n).filter(|g| g[..n - 1] == *tail).map(|g| g[n - 1]).collect()
    }

    /// The ids allowed after `prefix` with their log-probabilities, best first (ties: lower id).
    fn allowed(&self, prefix: &[u32], logp: &[f32], keep: usize) -> Vec<(u32, f32)> {
        if prefix.len() >= self.max_length {
            return vec![(self.sep, logp[self.sep as usize])];
        }
        let repeats = self.repeats(prefix);
        let ok = |id: u32| !self.never.contains(&id) && !repeats.contains(&id) && (id != self.sep || prefix.len() >= self.min_length);
        let mut out: Vec<(u32, f32)> = logp.iter().enumerate().map(|(i, &p)| (i as u32, p)).filter(|&(i, _)| ok(i)).collect();
        let order = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        if keep < out.len() {
            out.select_nth_unstable_by(keep - 1, order);
            out.truncate(keep);
        }
        out.sort_by(order);
        out
    }
}

/// The encoder's outputs and key mask for every row of a validated batch.
struct Memory {
    hidden: Tensor,
    mask: Tensor,
}

impl Memory {
    fn new(w: &Weights, batch: &Batch) -> Result<Self> {
        let (inputs, hidden) = crate::infer::encoded(w, batch)?;
        Ok(Self { hidden, mask: VideoBertModel::key_mask(&inputs)? })
    }

    /// `log P(next)` `[N][V]` for hypotheses `(row, prefix)` whose prefixes all have one length.
    fn next(&self, w: &Weights, hyps: &[(usize, &[u32])]) -> Result<Vec<Vec<f32>>> {
        let len = hyps[0].1.len();
        let mut ids = Vec::with_capacity(hyps.len() * (len + 1));
        for (_, prefix) in hyps {
            ids.push(w.config.cls_token_id);
            ids.extend_from_slice(prefix);
        }
        let ids = Tensor::from_vec(ids, (hyps.len(), len + 1), &w.device)?;
        let rows = Tensor::from_vec(hyps.iter().map(|&(r, _)| r as u32).collect::<Vec<_>>(), hyps.len(), &w.device)?;
        let logp = w.model().next_word_log_probs(&ids, &self.hidden.index_select(&rows, 0)?, &self.mask.index_select(&rows, 0)?)?;
        Ok(logp.to_dtype(DType::F32)?.to_vec2::<f32>()?)
    }
}

fn finished(ids: Vec<u32>, log_prob: f64, alpha: f64) -> Generated {
    let score = log_prob / ((ids.len() + 1) as f64).powf(alpha);
    Generated { ids, log_prob, score }
}

/// One caption per batch row.
pub fn generate(w: &Weights, batch: &Batch, o: &GenerateOptions) -> Result<Vec<Generated>> {
    if w.config.decoder_layers == 0 {
        return Err(Error::input("model", "the model has no caption decoder (decoder_layers = 0): fine-tune one (`videobert finetune --task caption`)"));
    }
    let rules = Rules::new(&w.config, o)?;
    let memory = Memory::new(w, batch)?;
    match o.search {
        Search::Greedy => greedy(w, &memory, batch.batch_size, &rules, o.length_penalty),
        Search::Beam(k) => beam(w, &memory, batch.batch_size, &rules, k, o.length_penalty),
    }
}

fn greedy(w: &Weights, memory: &Memory, rows: usize, rules: &Rules, alpha: f64) -> Result<Vec<Generated>> {
    let mut prefixes: Vec<Vec<u32>> = vec![vec![]; rows];
    let mut log_probs = vec![0f64; rows];
    let mut done: Vec<Option<Generated>> = vec![None; rows];
    while done.iter().any(Option::is_none) {
        let live: Vec<usize> = (0..rows).filter(|&r| done[r].is_none()).collect();
        let hyps: Vec<(usize, &[u32])> = live.iter().map(|&r| (r, prefixes[r].as_slice())).collect();
        let logp = memory.next(w, &hyps)?;
        for (&r, lp) in live.iter().zip(&logp) {
            let (id, p) = rules.allowed(&prefixes[r], lp, 1)[0];
            log_probs[r] += p as f64;
            if id == rules.sep {
                done[r] = Some(finished(std::mem::take(&mut prefixes[r]), log_probs[r], alpha));
            } else {
                prefixes[r].push(id);
            }
        }
    }
    Ok(done.into_iter().map(|g| g.expect("every row finished")).collect())
}

#[derive(Clone)]
struct Beam {
    ids: Vec<u32>,
    log_prob: f64,
}

fn beam(w: &Weights, memory: &Memory, rows: usize, rules: &Rules, k: usize, alpha: f64) -> Result<Vec<Generated>> {
    let mut live: Vec<Vec<Beam>> = vec![vec![Beam { ids: vec![], log_prob: 0.0 }]; rows];
    let mut done: Vec<Vec<Generated>> = vec![vec![]; rows];
    loop {
        let hyps: Vec<(usize, &[u32])> = live.iter().enumerate().flat_map(|(r, beams)| beams.iter().map(move |b| (r, b.ids.as_slice()))).collect();
        if hyps.is_empty() {
            break;
        }
        let logp = memory.next(w, &hyps)?;
        let mut at = 0;
        for r in 0..rows {
            let beams = std::mem::take(&mut live[r]);
            // Every allowed continuation of every live beam of the row: (score, beam, id, logp).
            let mut candidates: Vec<(f64, usize, u32)> = Vec::new();
            for (bi, b) in beams.iter().enumerate() {
                for (id, p) in rules.allowed(&b.ids, &logp[at + bi], 2 * k) {
                    candidates.push((b.log_prob + p as f64, bi, id));
                }
            }
            at += beams.len();
            candidates.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
            for (rank, &(log_prob, bi, id)) in candidates.iter().enumerate() {
                if done[r].len() >= k || live[r].len() >= k {
                    break;
                }
                if id == rules.sep {
                    if rank < k {
                        done[r].push(finished(beams[bi].ids.clone(), log_prob, alpha));
                    }
                } else {
                    let mut ids = beams[bi].ids.clone();
                    ids.push(id);
                    live[r].push(Beam { ids, log_prob });
                }
            }
            if done[r].len() >= k {
                live[r].clear();
            }
        }
    }
    done.into_iter()
        .map(|mut d| {
            // Best score first; among equals the one found first (the stable sort keeps it).
            d.sort_by(|a, b| b.score.total_cmp(&a.score));
            d.into_iter().next().ok_or_else(|| Error::Numerical("beam search ended a row without a finished caption".into()))
        })
        .collect()
}
