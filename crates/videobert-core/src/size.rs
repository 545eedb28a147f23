//! How much memory a model and its batches need, known from the config before anything is allocated,
//! and the limit they are checked against. A config that asks for more than the machine can hold
//! (a typo, or a hostile `config.json`) is a coded `Config` error instead of an allocation failure
//! that aborts the process (Rust's allocator aborts on out-of-memory: nothing could catch it).
//!
//! The limit is the machine's physical memory (`MemTotal` of `/proc/meminfo`; 64 GiB where that
//! cannot be read), or `VIDEOBERT_MEMORY_LIMIT` (bytes, or with a `K`/`M`/`G`/`T` suffix) when set.
//! The estimates count what certainly exists — the parameters, their gradients and the two AdamW
//! moments; per sample the encoder's largest activations — so a model that passes may still not fit
//! next to other work, but one that fails never would.

use crate::config::{ClassifierPooling, VideoBertConfig, VideoInput, VideoLoss};
use crate::error::{Error, Result};

/// `u128` arithmetic that saturates: a hostile config's dimensions (up to 2^64 each) multiply past
/// even `u128` (found by fuzzing `config.json`); a saturated size is simply "too large".
#[derive(Clone, Copy, PartialEq, PartialOrd)]
struct Count(u128);

impl std::ops::Add for Count {
    type Output = Count;
    fn add(self, o: Count) -> Count {
        Count(self.0.saturating_add(o.0))
    }
}

impl std::ops::Mul for Count {
    type Output = Count;
    fn mul(self, o: Count) -> Count {
        Count(self.0.saturating_mul(o.0))
    }
}

fn n(x: usize) -> Count {
    Count(x as u128)
}

/// Scalars of every trainable tensor of a model of this config (exactly `Weights::num_parameters`;
/// `u128::MAX` when that does not fit in 128 bits).
pub fn parameter_count(c: &VideoBertConfig) -> u128 {
    let (h, f, v, r, ffn) = (n(c.hidden_size), n(c.feature_dim), n(c.vocab_size), n(c.num_regions), n(c.intermediate_size));
    let (l, t) = (n(c.max_text_len), n(c.max_segments));
    let (zero, one, two, three, four) = (n(0), n(1), n(2), n(3), n(4));
    let linear = |i: Count, o: Count| i * o + o;
    let norm = two * h;
    let attention = four * linear(h, h);
    let feed_forward = linear(h, ffn) + linear(ffn, h);
    let head_transform = linear(h, h) + norm;

    let mut embeddings = v * h + (l + two) * h + (t + one) * h + two * h + h + norm;
    embeddings = embeddings
        + match c.video_input {
            VideoInput::Features => linear(f, h),
            VideoInput::VisualWords => n(c.num_visual_words) * h,
        };
    if c.num_regions > 0 {
        embeddings = embeddings + (r + one) * h + linear(f, h);
    }
    let layer = norm + attention + norm + feed_forward + if c.num_regions > 0 { norm + attention } else { zero };
    let video_head = head_transform
        + match c.video_loss {
            VideoLoss::Ce => n(c.num_visual_words),
            VideoLoss::L2 | VideoLoss::Nce => linear(h, f),
        };
    let classifier = if c.num_labels > 0 && c.classifier_pooling != ClassifierPooling::Mask { linear(h, n(c.num_labels)) } else { zero };
    let heads = head_transform + v + video_head + linear(h, h) + linear(h, two) + classifier;
    let decoder =
        if c.decoder_layers > 0 { (l + one) * h + norm + n(c.decoder_layers) * (three * norm + two * attention + feed_forward) + norm + v } else { zero };
    (embeddings + n(c.num_hidden_layers) * layer + norm + heads + decoder).0
}

/// Bytes a model of this config holds on the CPU: parameters, gradients and the two AdamW moments.
pub fn model_bytes(c: &VideoBertConfig, dtype_bytes: usize) -> u128 {
    (Count(parameter_count(c)) * n(4) * n(dtype_bytes)).0
}

/// Bytes of the largest activations one sample of a train step keeps for backward: per layer the
/// joint sequence's attention scores and probabilities (`heads × S²`, twice), the FFN's
/// intermediate rows and a dozen `[rows, H]` tensors, over the sequence and region rows.
pub fn activation_bytes_per_sample(c: &VideoBertConfig, dtype_bytes: usize) -> u128 {
    let s = n(c.max_text_len) + n(c.max_segments) + n(3);
    let rows = s + n(c.max_segments) * n(c.num_regions);
    let heads = n(c.num_attention_heads);
    let per_layer = n(2) * heads * s * s + n(2) * rows * n(c.intermediate_size) + n(12) * rows * n(c.hidden_size);
    let dl = n(c.max_text_len) + n(1);
    let decoder = n(c.decoder_layers) * (n(4) * heads * dl * s + n(12) * dl * n(c.hidden_size));
    ((n(c.num_hidden_layers) * per_layer + decoder + n(c.vocab_size) * dl) * n(dtype_bytes)).0
}

/// The memory limit models and batches are checked against (see the module docs). Read once per
/// process: every train step checks its micro-batches against it.
pub fn memory_limit() -> u128 {
    static LIMIT: std::sync::OnceLock<u128> = std::sync::OnceLock::new();
    *LIMIT.get_or_init(read_memory_limit)
}

fn read_memory_limit() -> u128 {
    if let Ok(v) = std::env::var("VIDEOBERT_MEMORY_LIMIT") {
        if let Some(bytes) = parse_bytes(&v) {
            return bytes;
        }
    }
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| m.lines().find_map(|l| l.strip_prefix("MemTotal:").map(|r| r.trim().trim_end_matches("kB").trim().parse::<u128>().ok())))
        .flatten()
        .map(|kib| kib * 1024)
        .unwrap_or(64 << 30)
}

/// `"123"`, `"512M"`, `"4G"`, … → bytes (binary multiples).
fn parse_bytes(s: &str) -> Option<u128> {
    let s = s.trim();
    let (digits, shift) = match s.chars().last()?.to_ascii_uppercase() {
        'K' => (&s[..s.len() - 1], 10),
        'M' => (&s[..s.len() - 1], 20),
        'G' => (&s[..s.len() - 1], 30),
        'T' => (&s[..s.len() - 1], 40),
        _ => (s, 0),
    };
    digits.trim().parse::<u128>().ok().map(|n| n << shift)
}

fn gib(bytes: u128) -> String {
    format!("{:.1} GiB", bytes as f64 / (1u128 << 30) as f64)
}

/// The config field whose size drives the count most: the one that, set back to the `small`
/// preset's value, shrinks the model the most.
fn dominant_field(c: &VideoBertConfig, measure: impl Fn(&VideoBertConfig) -> u128) -> &'static str {
    let small = VideoBertConfig::small();
    let total = measure(c);
    let candidates: [(&str, VideoBertConfig); 10] = [
        ("hidden_size", VideoBertConfig { hidden_size: small.hidden_size, ..c.clone() }),
        ("intermediate_size", VideoBertConfig { intermediate_size: small.intermediate_size, ..c.clone() }),
        ("vocab_size", VideoBertConfig { vocab_size: small.vocab_size, ..c.clone() }),
        ("num_hidden_layers", VideoBertConfig { num_hidden_layers: small.num_hidden_layers, ..c.clone() }),
        ("feature_dim", VideoBertConfig { feature_dim: small.feature_dim, ..c.clone() }),
        ("num_visual_words", VideoBertConfig { num_visual_words: small.num_visual_words, ..c.clone() }),
        ("max_text_len", VideoBertConfig { max_text_len: small.max_text_len, ..c.clone() }),
        ("max_segments", VideoBertConfig { max_segments: small.max_segments, ..c.clone() }),
        ("num_labels", VideoBertConfig { num_labels: small.num_labels, ..c.clone() }),
        ("decoder_layers", VideoBertConfig { decoder_layers: small.decoder_layers, ..c.clone() }),
    ];
    candidates
        .iter()
        .map(|(name, other)| (*name, total.saturating_sub(measure(other))))
        .max_by_key(|&(_, saved)| saved)
        .map(|(name, _)| name)
        .unwrap_or("hidden_size")
}

/// A coded `Config` error when the model, or one sample of a train step, would not fit in
/// `limit` bytes; it names the field that drives the size.
pub fn check_fits(c: &VideoBertConfig, dtype_bytes: usize, limit: u128) -> Result<()> {
    let model = model_bytes(c, dtype_bytes);
    if model > limit {
        let field = dominant_field(c, |x| model_bytes(x, dtype_bytes));
        return Err(Error::config(
            field,
            format!(
                "the model would need {} ({} parameters × {dtype_bytes} bytes × 4: weights, gradients, two AdamW moments), more than the memory limit of {} (this machine's memory; VIDEOBERT_MEMORY_LIMIT overrides)",
                gib(model),
                parameter_count(c),
                gib(limit)
            ),
        ));
    }
    let sample = activation_bytes_per_sample(c, dtype_bytes);
    if model.saturating_add(sample) > limit {
        let field = dominant_field(c, |x| activation_bytes_per_sample(x, dtype_bytes));
        return Err(Error::config(field, format!("one sample of a train step would need {} of activations next to the model's {}, more than the memory limit of {} (VIDEOBERT_MEMORY_LIMIT overrides)", gib(sample), gib(model), gib(limit))));
    }
    Ok(())
}

/// A coded `InvalidInput` error when a batch of `batch_size` samples would not fit next to the model.
pub fn check_batch_fits(c: &VideoBertConfig, batch_size: usize, dtype_bytes: usize, limit: u128) -> Result<()> {
    let need = (Count(model_bytes(c, dtype_bytes)) + Count(activation_bytes_per_sample(c, dtype_bytes)) * n(batch_size)).0;
    if need > limit {
        return Err(Error::input(
            "batchSize",
            format!("{batch_size} samples would need about {} with the model, more than the memory limit of {} (VIDEOBERT_MEMORY_LIMIT overrides): use smaller micro-batches", gib(need), gib(limit)),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by fuzzing `config.json`: dimensions whose products overflow u128 (a panic with debug
    /// assertions, a wrapped — small — size without).
    #[test]
    fn sizes_saturate_instead_of_overflowing() {
        let huge = VideoBertConfig {
            hidden_size: 888_888_888_888_888_864,
            num_attention_heads: 2,
            num_hidden_layers: 2,
            decoder_layers: 1,
            ..VideoBertConfig::small()
        };
        assert!(parameter_count(&huge) > 10u128.pow(37));
        assert_eq!(model_bytes(&huge, 4), u128::MAX);
        assert!(matches!(check_fits(&huge, 4, 24 << 30), Err(Error::Config { .. })));
        let long = VideoBertConfig { max_text_len: usize::MAX / 2, max_segments: usize::MAX / 2, ..VideoBertConfig::small() };
        assert_eq!(activation_bytes_per_sample(&long, 4), u128::MAX);
        assert!(check_batch_fits(&VideoBertConfig::small(), usize::MAX, 4, 24 << 30).is_err());
    }

    #[test]
    fn byte_sizes_parse() {
        assert_eq!(parse_bytes("123"), Some(123));
        assert_eq!(parse_bytes("512M"), Some(512 << 20));
        assert_eq!(parse_bytes(" 4g "), Some(4 << 30));
        assert_eq!(parse_bytes("lots"), None);
    }

    #[test]
    fn absurd_configs_are_refused_naming_the_field() {
        let limit = 24u128 << 30;
        let field = |c: VideoBertConfig| match check_fits(&c, 4, limit) {
            Err(Error::Config { field, .. }) => field,
            other => panic!("expected a Config error, got {other:?}"),
        };
        assert_eq!(field(VideoBertConfig { hidden_size: 1 << 20, num_attention_heads: 4, ..VideoBertConfig::small() }), "hidden_size");
        assert_eq!(field(VideoBertConfig { hidden_size: 65536, intermediate_size: 1 << 20, ..VideoBertConfig::small() }), "hidden_size");
        assert_eq!(field(VideoBertConfig { intermediate_size: 1 << 30, ..VideoBertConfig::small() }), "intermediate_size");
        assert_eq!(field(VideoBertConfig { vocab_size: 1 << 28, ..VideoBertConfig::small() }), "vocab_size");
        assert_eq!(field(VideoBertConfig { max_text_len: 200_000, ..VideoBertConfig::small() }), "max_text_len");
        for preset in crate::config::PRESETS {
            check_fits(&VideoBertConfig::preset(preset).unwrap(), 4, limit).unwrap();
        }
        assert!(check_batch_fits(&VideoBertConfig::base(), 16, 4, limit).is_ok());
        assert!(matches!(check_batch_fits(&VideoBertConfig::base(), 1 << 20, 4, limit), Err(Error::InvalidInput { .. })));
    }
}
