//! Where a model computes, from the name users write: `cpu`, `cuda` (= `cuda:0`) or `cuda:N`.
//! A CUDA device needs a binary built with the `cuda` feature (the opt-in CUDA variant of the
//! package, or `npm run build:cuda`) and a driver that finds GPU `N`; anything else is a coded
//! `DeviceUnavailable` error raised before a model is built.

use candle_core::Device;

use crate::error::{Error, Result};

/// Whether this binary was built with CUDA support.
pub const CUDA_BUILT: bool = cfg!(feature = "cuda");

/// A device name as written, before any device is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceName {
    Cpu,
    /// `cuda` is ordinal 0.
    Cuda(usize),
}

/// Read a device name: the one place the names are checked (the CLI asks it too).
pub fn parse_name(name: &str) -> Result<DeviceName> {
    match name {
        "cpu" => Ok(DeviceName::Cpu),
        "cuda" => Ok(DeviceName::Cuda(0)),
        _ => match name.strip_prefix("cuda:").map(str::parse::<usize>) {
            Some(Ok(ordinal)) => Ok(DeviceName::Cuda(ordinal)),
            _ => Err(Error::config("device", format!("must be \"cpu\", \"cuda\" or \"cuda:N\" (N = 0, 1, …), got {name:?}"))),
        },
    }
}

/// The device a name stands for.
pub fn parse(name: &str) -> Result<Device> {
    match parse_name(name)? {
        DeviceName::Cpu => Ok(Device::Cpu),
        DeviceName::Cuda(ordinal) => cuda(ordinal),
    }
}

/// The name [`parse`] takes for a device.
pub fn name(device: &Device) -> String {
    match device.location() {
        candle_core::DeviceLocation::Cpu => "cpu".into(),
        candle_core::DeviceLocation::Cuda { gpu_id } => format!("cuda:{gpu_id}"),
        candle_core::DeviceLocation::Metal { gpu_id } => format!("metal:{gpu_id}"),
    }
}

#[cfg(feature = "cuda")]
fn cuda(ordinal: usize) -> Result<Device> {
    Device::new_cuda(ordinal).map_err(|e| Error::DeviceUnavailable {
        device: format!("cuda:{ordinal}"),
        // The first line only: candle appends a backtrace when RUST_BACKTRACE is set.
        reason: format!(
            "no CUDA driver or no GPU {ordinal} ({}); check `nvidia-smi` and that libcuda.so.1 is on the library path",
            e.to_string().lines().next().unwrap_or("unknown error")
        ),
    })
}

#[cfg(not(feature = "cuda"))]
fn cuda(ordinal: usize) -> Result<Device> {
    Err(Error::DeviceUnavailable {
        device: format!("cuda:{ordinal}"),
        reason: "this binary was built without CUDA; install the CUDA variant (see docs/installing.md, \"GPU\") or build it with `npm run build:cuda`".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_bad_ones_are_config_errors() {
        assert!(parse("cpu").unwrap().is_cpu());
        assert_eq!(name(&parse("cpu").unwrap()), "cpu");
        for bad in ["gpu", "cuda:", "cuda:-1", "cuda:x", "CPU", ""] {
            match parse(bad) {
                Err(Error::Config { field, .. }) => assert_eq!(field, "device", "{bad:?}"),
                other => panic!("{bad:?}: expected a config error, got {other:?}"),
            }
        }
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn cuda_without_the_feature_is_device_unavailable() {
        for spec in ["cuda", "cuda:0", "cuda:3"] {
            match parse(spec) {
                Err(e @ Error::DeviceUnavailable { .. }) => {
                    assert_eq!(e.code(), "DeviceUnavailable");
                    assert!(e.to_string().contains("built without CUDA"), "{e}");
                }
                other => panic!("{spec}: expected DeviceUnavailable, got {other:?}"),
            }
        }
    }

    #[test]
    fn names_are_read_without_opening_a_device() {
        assert_eq!(parse_name("cpu").unwrap(), DeviceName::Cpu);
        assert_eq!(parse_name("cuda").unwrap(), DeviceName::Cuda(0));
        assert_eq!(parse_name("cuda:3").unwrap(), DeviceName::Cuda(3));
        for bad in ["gpu", "cuda:", "cuda:x", "CPU", ""] {
            assert!(matches!(parse_name(bad), Err(Error::Config { .. })), "{bad:?}");
        }
    }
}
