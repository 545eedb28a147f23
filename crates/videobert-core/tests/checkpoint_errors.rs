//! A missing, truncated or mismatched checkpoint is a `Checkpoint` error naming the problem.

mod common;

use common::{model, tmpdir};
use videobert_core::candle_core::{Device, Tensor};
use videobert_core::{CreateOptions, DType, Error, Session, VideoBertConfig};

fn load_err(dir: &std::path::Path) -> String {
    match Session::load(dir, CreateOptions::default()) {
        Err(Error::Checkpoint { reason, path }) => format!("{} {reason}", path.display()),
        Err(other) => panic!("expected a Checkpoint error, got {other:?}"),
        Ok(_) => panic!("expected a Checkpoint error, got a model"),
    }
}

fn saved(name: &str) -> std::path::PathBuf {
    let dir = tmpdir(name);
    model(VideoBertConfig::tiny(), DType::F32, 0).save(&dir).unwrap();
    dir
}

#[test]
fn missing_directory_and_missing_files() {
    let dir = tmpdir("missing");
    assert!(load_err(&dir.join("nope")).contains("not a checkpoint directory"));
    assert!(load_err(&dir).contains("config.json"));
    let dir = saved("no-model");
    std::fs::remove_file(dir.join("model.safetensors")).unwrap();
    assert!(load_err(&dir).contains("model.safetensors file missing"));
}

#[test]
fn truncated_safetensors() {
    for file in ["model.safetensors", "optimizer.safetensors"] {
        let dir = saved(&format!("truncated-{file}"));
        let path = dir.join(file);
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        let msg = load_err(&dir);
        assert!(msg.contains(file) && msg.contains("corrupt"), "{msg}");
        std::fs::write(&path, b"not a safetensors file").unwrap();
        assert!(load_err(&dir).contains("corrupt"));
    }
}

#[test]
fn wrong_shapes_and_unknown_tensors() {
    // Weights of a wider model under a tiny config.
    let dir = saved("shapes");
    let mut wide = VideoBertConfig::tiny();
    wide.hidden_size = 32;
    let other = tmpdir("shapes-other");
    model(wide, DType::F32, 0).save(&other).unwrap();
    std::fs::copy(other.join("model.safetensors"), dir.join("model.safetensors")).unwrap();
    let msg = load_err(&dir);
    assert!(msg.contains("has shape") && msg.contains("the config needs"), "{msg}");

    // One extra tensor.
    let dir = saved("unknown");
    let path = dir.join("model.safetensors");
    let mut tensors = videobert_core::candle_core::safetensors::load(&path, &Device::Cpu).unwrap();
    tensors.insert("encoder.layers.9.extra".into(), Tensor::zeros(3, DType::F32, &Device::Cpu).unwrap());
    videobert_core::candle_core::safetensors::save(&tensors, &path).unwrap();
    assert!(load_err(&dir).contains("unknown tensor(s): encoder.layers.9.extra"));

    // One tensor missing.
    let mut tensors = videobert_core::candle_core::safetensors::load(&path, &Device::Cpu).unwrap();
    tensors.remove("encoder.layers.9.extra");
    tensors.remove("heads.mlm.bias");
    videobert_core::candle_core::safetensors::save(&tensors, &path).unwrap();
    assert!(load_err(&dir).contains("tensor `heads.mlm.bias` missing"));
}

#[test]
fn invalid_config_json() {
    let dir = saved("bad-config");
    std::fs::write(dir.join("config.json"), r#"{"hidden_size": 64, "colour": 1}"#).unwrap();
    let msg = load_err(&dir);
    assert!(msg.contains("config.json") && msg.contains("colour"), "{msg}");
    std::fs::write(dir.join("config.json"), "{ not json").unwrap();
    assert!(load_err(&dir).contains("config.json"));
}

/// Hostile checkpoint files (a downloaded checkpoint is untrusted input): safetensors headers that
/// claim a huge header, offsets outside the file or shapes far larger than their bytes; a file or a
/// config.json larger than the limits (sparse files: nothing is written) — all `Checkpoint` errors
/// in bounded memory, decided before the file is read where its size is the problem.
#[test]
fn hostile_checkpoint_files() {
    let dir = saved("hostile");
    let path = dir.join("model.safetensors");
    let original = std::fs::read(&path).unwrap();
    let header_len = u64::from_le_bytes(original[..8].try_into().unwrap()) as usize;
    let header = std::str::from_utf8(&original[8..8 + header_len]).unwrap().to_string();
    let with_header = |h: &str| {
        let mut bytes = (h.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(h.as_bytes());
        bytes.extend_from_slice(&original[8 + header_len..]);
        bytes
    };
    // The first tensor's entry, edited.
    let first = header.find("\"data_offsets\":[").unwrap();
    let end = first + header[first..].find(']').unwrap() + 1;
    let shape = header.find("\"shape\":[").unwrap();
    let shape_end = shape + header[shape..].find(']').unwrap() + 1;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("header length 2^64-1", {
            let mut b = original.clone();
            b[..8].copy_from_slice(&u64::MAX.to_le_bytes());
            b
        }),
        ("offsets past the file", with_header(&format!("{}\"data_offsets\":[0,99999999999]{}", &header[..first], &header[end..]))),
        ("a shape of 2^62 elements", with_header(&format!("{}\"shape\":[4611686018427387904]{}", &header[..shape], &header[shape_end..]))),
    ];
    for (what, bytes) in cases {
        std::fs::write(&path, bytes).unwrap();
        let msg = load_err(&dir);
        assert!(msg.contains("model.safetensors") && msg.contains("corrupt"), "{what}: {msg}");
    }
    // Larger than any machine's memory: refused from its size (a 4 TiB sparse file).
    std::fs::File::create(&path).unwrap().set_len(1 << 42).unwrap();
    let msg = load_err(&dir);
    assert!(msg.contains("more than the memory limit"), "{msg}");
    std::fs::write(&path, &original).unwrap();
    let config = dir.join("config.json");
    std::fs::File::options().append(true).open(&config).unwrap().set_len(2 << 20).unwrap();
    let msg = load_err(&dir);
    assert!(msg.contains("a config.json is at most"), "{msg}");
}
