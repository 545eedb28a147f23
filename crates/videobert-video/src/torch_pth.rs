//! PyTorch weight files (`.pth`, `.pt`) read as distributed, without Python: the zip format of
//! `torch.save` since PyTorch 1.6 (through candle's reader) and the legacy format before it, which
//! torchvision's ImageNet weights still use (`mobilenet_v2-b0353104.pth`).
//!
//! The legacy format is five pickles one after another — the magic number, the protocol version,
//! system info, the object (a state dict whose tensors are `torch._utils._rebuild_tensor_v2` calls on
//! storages named by persistent ids), the storage keys — then, per key in that order, the storage:
//! its element count (8 bytes, little-endian) and its bytes. A state dict nested under `state_dict`
//! or `model` is found too. Everything is checked: a storage or a view outside the file is an error.

use std::collections::HashMap;
use std::io::Cursor;
use std::path::Path;

use candle_core::pickle::{Object, Stack};
use candle_core::{DType, Device, Tensor};

use crate::error::{Error, Result};

/// `pickle.dump(0x1950a86a20f9469cfc6c, protocol=2)`: how every legacy file starts.
const LEGACY_MAGIC: [u8; 15] = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e];

fn bad(path: &Path, reason: impl std::fmt::Display) -> Error {
    Error::input(format!("weights ({})", path.display()), format!("not a readable PyTorch file: {reason}"))
}

/// Whether `bytes` look like a PyTorch file (zip or legacy) rather than safetensors.
pub fn is_torch_file(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(&LEGACY_MAGIC)
}

/// Every floating-point tensor of the file's state dict, as f32 on the CPU, by name.
pub fn read(path: &Path, bytes: &[u8]) -> Result<HashMap<String, Tensor>> {
    let tensors = if bytes.starts_with(b"PK\x03\x04") {
        candle_core::pickle::read_all(path).map_err(|e| bad(path, e))?
    } else if bytes.starts_with(&LEGACY_MAGIC) {
        read_legacy(path, bytes)?
    } else {
        return Err(bad(path, "neither the zip format nor the legacy format of torch.save"));
    };
    let mut out = HashMap::new();
    for (name, t) in tensors {
        let name = name.strip_prefix("module.").map(str::to_string).unwrap_or(name); // saved from DataParallel
        if t.dtype().is_float() {
            out.insert(name, t.to_dtype(DType::F32)?);
        }
    }
    Ok(out)
}

fn pickle(path: &Path, cur: &mut Cursor<&[u8]>, what: &str) -> Result<Object> {
    let mut stack = Stack::empty();
    stack.read_loop(cur).map_err(|e| bad(path, format!("{what}: {e}")))?;
    stack.finalize().map_err(|e| bad(path, format!("{what}: {e}")))
}

struct View {
    key: String,
    dtype: DType,
    offset: usize,
    size: Vec<usize>,
    stride: Vec<usize>,
}

fn usizes(path: &Path, o: Object) -> Result<Vec<usize>> {
    match o {
        Object::Tuple(v) | Object::List(v) => v
            .into_iter()
            .map(|x| match x {
                Object::Int(i) if i >= 0 => Ok(i as usize),
                Object::Long(i) if i >= 0 => Ok(i as usize),
                other => Err(bad(path, format!("expected a size, got {other:?}"))),
            })
            .collect(),
        other => Err(bad(path, format!("expected a tuple of sizes, got {other:?}"))),
    }
}

/// `_rebuild_tensor_v2(storage, offset, size, stride, …)` → where the tensor's data is.
fn view(path: &Path, value: Object) -> Result<Option<View>> {
    let Object::Reduce { callable, args } = value else { return Ok(None) };
    match *callable {
        Object::Class { module_name, class_name } if module_name == "torch._utils" && class_name == "_rebuild_tensor_v2" => {}
        _ => return Ok(None),
    }
    let Object::Tuple(mut a) = *args else { return Err(bad(path, "tensor arguments are not a tuple")) };
    if a.len() < 4 {
        return Err(bad(path, "tensor arguments are too short"));
    }
    let stride = usizes(path, a.remove(3))?;
    let size = usizes(path, a.remove(2))?;
    let offset = usizes(path, Object::Tuple(vec![a.remove(1)]))?[0];
    let Object::PersistentLoad(storage) = a.remove(0) else { return Err(bad(path, "a tensor without a storage")) };
    let Object::Tuple(s) = *storage else { return Err(bad(path, "a storage id that is not a tuple")) };
    let (Some(Object::Class { class_name, .. }), Some(Object::Unicode(key))) = (s.get(1), s.get(2)) else {
        return Err(bad(path, "a storage id without its type and key"));
    };
    let dtype = match class_name.as_str() {
        "FloatStorage" => DType::F32,
        "DoubleStorage" => DType::F64,
        "HalfStorage" => DType::F16,
        "BFloat16Storage" => DType::BF16,
        "LongStorage" => DType::I64,
        "ByteStorage" => DType::U8,
        other => return Err(bad(path, format!("storage type {other} is not supported"))),
    };
    if size.len() != stride.len() {
        return Err(bad(path, "a tensor whose size and stride differ in length"));
    }
    Ok(Some(View { key: key.clone(), dtype, offset, size, stride }))
}

/// The state dict inside the saved object: the object itself, or its `state_dict` / `model` entry.
fn state_dict(obj: Object) -> Vec<(Object, Object)> {
    match obj {
        Object::Dict(entries) => {
            let nested = entries.iter().position(|(k, v)| matches!(k, Object::Unicode(s) if s == "state_dict" || s == "model") && matches!(v, Object::Dict(_)));
            match nested {
                Some(i) => match entries.into_iter().nth(i) {
                    Some((_, Object::Dict(inner))) => inner,
                    _ => vec![],
                },
                None => entries,
            }
        }
        _ => vec![],
    }
}

fn read_legacy(path: &Path, bytes: &[u8]) -> Result<Vec<(String, Tensor)>> {
    let mut cur = Cursor::new(bytes);
    cur.set_position(LEGACY_MAGIC.len() as u64);
    match pickle(path, &mut cur, "protocol version")? {
        Object::Int(1001) => {}
        other => return Err(bad(path, format!("legacy protocol version {other:?}, expected 1001"))),
    }
    pickle(path, &mut cur, "system info")?;
    let obj = pickle(path, &mut cur, "the saved object")?;
    let keys = match pickle(path, &mut cur, "storage keys")? {
        Object::List(k) => k.into_iter().map(|k| match k {
            Object::Unicode(s) => Ok(s),
            other => Err(bad(path, format!("a storage key {other:?}"))),
        }),
        other => return Err(bad(path, format!("storage keys {other:?}"))),
    }
    .collect::<Result<Vec<String>>>()?;

    let views: Vec<(String, View)> = state_dict(obj)
        .into_iter()
        .filter_map(|(k, v)| match k {
            Object::Unicode(name) => Some((name, v)),
            _ => None,
        })
        .map(|(name, v)| Ok(view(path, v)?.map(|vw| (name, vw))))
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .flatten()
        .collect();
    if views.is_empty() {
        return Err(bad(path, "no tensor in the saved object (not a state dict?)"));
    }
    // The storages, in the order of their keys: (bytes, element count).
    let elem = |key: &str| views.iter().find(|(_, v)| v.key == key).map_or(1, |(_, v)| v.dtype.size_in_bytes());
    let mut at = cur.position() as usize;
    let mut storages: HashMap<&str, &[u8]> = HashMap::new();
    for key in &keys {
        let count = bytes.get(at..at + 8).ok_or_else(|| bad(path, format!("storage {key} is cut off")))?;
        let count = u64::from_le_bytes(count.try_into().expect("8 bytes")) as usize;
        let len = count.checked_mul(elem(key)).ok_or_else(|| bad(path, "a storage size overflows"))?;
        let data = bytes.get(at + 8..(at + 8).saturating_add(len)).ok_or_else(|| bad(path, format!("storage {key} runs past the end of the file")))?;
        storages.insert(key.as_str(), data);
        at += 8 + len;
    }
    let mut out = Vec::with_capacity(views.len());
    for (name, v) in views {
        let data = storages.get(v.key.as_str()).ok_or_else(|| bad(path, format!("{name}: storage {} is missing", v.key)))?;
        let es = v.dtype.size_in_bytes();
        let n_storage = data.len() / es;
        // the last element the view reads must lie in the storage
        let reach =
            v.size.iter().zip(&v.stride).try_fold(v.offset, |acc, (&s, &st)| if s == 0 { Some(acc) } else { acc.checked_add((s - 1).checked_mul(st)?) });
        let numel: usize = v.size.iter().product();
        match reach {
            Some(last) if numel == 0 || last < n_storage => {}
            _ => return Err(bad(path, format!("{name}: its view runs past its storage"))),
        }
        let storage = Tensor::from_raw_buffer(data, v.dtype, &[n_storage], &Device::Cpu)?;
        let t = if numel == 0 {
            Tensor::zeros(v.size.as_slice(), v.dtype, &Device::Cpu)?
        } else {
            // gather by strides (weights are contiguous in practice; this handles any view)
            let flat: Vec<usize> = (0..numel)
                .map(|mut i| {
                    let mut off = v.offset;
                    for (d, &s) in v.size.iter().enumerate().rev() {
                        off += (i % s) * v.stride[d];
                        i /= s;
                    }
                    off
                })
                .collect();
            let contiguous = flat.windows(2).all(|w| w[1] == w[0] + 1);
            if contiguous {
                storage.narrow(0, v.offset, numel)?.reshape(v.size.as_slice())?
            } else {
                let idx = Tensor::from_vec(flat.iter().map(|&i| i as u32).collect::<Vec<_>>(), numel, &Device::Cpu)?;
                storage.index_select(&idx, 0)?.reshape(v.size.as_slice())?
            }
        };
        out.push((name, t));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_bytes_are_refused_by_name() {
        let p = Path::new("x.pth");
        assert!(!is_torch_file(b"\x08\x00\x00\x00\x00\x00\x00\x00{}"));
        let e = read(p, b"hello").unwrap_err();
        assert!(e.to_string().contains("neither the zip format nor the legacy format"), "{e}");
        let mut cut = LEGACY_MAGIC.to_vec();
        cut.extend_from_slice(&[0x80, 0x02, 0x4d, 0xe9, 0x03, 0x2e]);
        let e = read(p, &cut).unwrap_err();
        assert!(e.to_string().contains("system info"), "{e}");
    }
}
