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

use crate::config::{VideoBertConfig, VideoInput, VideoLoss};
use crate::error::{Error, Result};

/// Scalars of every trainable tensor of a model of this config (exactly `Weights::num_parameters`).
pub fn parameter_count(c: &VideoBertConfig) -> u128 {
    let u = |x: usize| x as u128;
    let (h, f, v, r, ffn) = (u(c.hidden_size), u(c.feature_dim), u(c.vocab_size), u(c.num_regions), u(c.intermediate_size));
    let (l, t) = (u(c.max_text_len), u(c.max_segments));
    let linear = |i: u128, o: u128| i * o + o;
    let norm = 2 * h;
    let attention = 4 * linear(h, h);
    let feed_forward = linear(h, ffn) + linear(ffn, h);
    let head_transform = linear(h, h) + norm;

    let mut embeddings = v * h + (l + 2) * h + (t + 1) * h + 2 * h + h + norm;
    embeddings += match c.video_input {
        VideoInput::Features => linear(f, h),
        VideoInput::VisualWords => u(c.num_visual_words) * h,
    };
    if r > 0 {
        embeddings += (r + 1) * h + linear(f, h);
    }
    let layer = norm + attention + norm + feed_forward + if r > 0 { norm + attention } else { 0 };
    let video_head = head_transform
        + match c.video_loss {
            VideoLoss::Ce => u(c.num_visual_words),
            VideoLoss::L2 | VideoLoss::Nce => linear(h, f),
        };
    let heads = head_transform + v + video_head + linear(h, h) + linear(h, 2) + if c.num_labels > 0 { linear(h, u(c.num_labels)) } else { 0 };
    let decoder = if c.decoder_layers > 0 { (l + 1) * h + norm + u(c.decoder_layers) * (3 * norm + 2 * attention + feed_forward) + norm + v } else { 0 };
    embeddings + u(c.num_hidden_layers) * layer + norm + heads + decoder
}

/// Bytes a model of this config holds on the CPU: parameters, gradients and the two AdamW moments.
pub fn model_bytes(c: &VideoBertConfig, dtype_bytes: usize) -> u128 {
    parameter_count(c) * 4 * dtype_bytes as u128
}

/// Bytes of the largest activations one sample of a train step keeps for backward: per layer the
/// joint sequence's attention scores and probabilities (`heads × S²`, twice), the FFN's
/// intermediate rows and a dozen `[rows, H]` tensors, over the sequence and region rows.
pub fn activation_bytes_per_sample(c: &VideoBertConfig, dtype_bytes: usize) -> u128 {
    let u = |x: usize| x as u128;
    let s = u(c.seq_len());
    let rows = s + u(c.max_segments) * u(c.num_regions);
    let per_layer = 2 * u(c.num_attention_heads) * s * s + 2 * rows * u(c.intermediate_size) + 12 * rows * u(c.hidden_size);
    let decoder = u(c.decoder_layers) * (4 * u(c.num_attention_heads) * u(c.decoder_len()) * s + 12 * u(c.decoder_len()) * u(c.hidden_size));
    (u(c.num_hidden_layers) * per_layer + decoder + u(c.vocab_size) * u(c.decoder_len())) * dtype_bytes as u128
}

/// The memory limit models and batches are checked against (see the module docs).
pub fn memory_limit() -> u128 {
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
    if model + sample > limit {
        let field = dominant_field(c, |x| activation_bytes_per_sample(x, dtype_bytes));
        return Err(Error::config(field, format!("one sample of a train step would need {} of activations next to the model's {}, more than the memory limit of {} (VIDEOBERT_MEMORY_LIMIT overrides)", gib(sample), gib(model), gib(limit))));
    }
    Ok(())
}

/// A coded `InvalidInput` error when a batch of `batch_size` samples would not fit next to the model.
pub fn check_batch_fits(c: &VideoBertConfig, batch_size: usize, dtype_bytes: usize, limit: u128) -> Result<()> {
    let need = model_bytes(c, dtype_bytes) + activation_bytes_per_sample(c, dtype_bytes) * batch_size as u128;
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
