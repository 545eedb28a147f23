//! `Weights`: the model and its trainable parameters by name — what a checkpoint's
//! `model.safetensors` holds. The one place parameters come into being: drawn from the seeded
//! initialiser (`init`), or taken straight from a checkpoint's tensors (`from_source`, no random
//! draw first). Training (`train`), inference (`infer`) and checkpoints (`checkpoint`) use it through
//! this public surface only.

use std::collections::HashSet;
use std::sync::Mutex;

use candle_core::{DType, Device, Shape, Tensor, Var};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::{VarBuilder, VarMap};

use crate::config::VideoBertConfig;
use crate::error::{Error, Result};
use crate::model::VideoBertModel;
use crate::rng::Rng;
use crate::size;

/// Where parameter values come from when the model is built from stored tensors.
pub trait TensorSource: Send + Sync {
    /// The tensor stored under `name`, checked against `shape` and converted to `dtype`; `None` when
    /// the source leaves this parameter to the initialiser (e.g. a new classification head).
    fn tensor(&self, name: &str, shape: &Shape, dtype: DType, device: &Device) -> Result<Option<Tensor>>;
    /// Every name the source holds (to find tensors the model does not have).
    fn names(&self) -> Vec<String>;
    /// An error about the source (e.g. naming its file).
    fn error(&self, reason: String) -> Error;
}

pub struct Weights {
    pub config: VideoBertConfig,
    pub device: Device,
    pub dtype: DType,
    model: VideoBertModel,
    /// Every trainable tensor, sorted by name: the order of checkpoints, optimizer state and sums.
    params: Vec<(String, Var)>,
}

/// The stream of the initialiser: parameters in name order, each element N(0, initializer_range),
/// biases 0 and norm gains 1 (not drawn).
fn draws(name: &str) -> bool {
    !(name.ends_with("bias") || name.contains("norm."))
}

impl Weights {
    /// A freshly initialised model: weights ~ N(0, initializer_range), biases 0, norm gains 1, drawn
    /// from `Rng::derive(seed, [0x1417])` in parameter-name order.
    pub fn init(config: VideoBertConfig, seed: u64, dtype: DType, device: &Device) -> Result<Self> {
        config.validate()?;
        check_fits(&config, dtype, device)?;
        let varmap = VarMap::new();
        let model = VideoBertModel::new(&config, VarBuilder::from_varmap(&varmap, dtype, device))?;
        let mut params: Vec<(String, Var)> = varmap.data().lock().expect("varmap lock").iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        params.sort_by(|a, b| a.0.cmp(&b.0));
        let mut rng = Rng::derive(seed, &[0x1417]);
        for (name, var) in &params {
            if draws(name) {
                var.set(&random(&mut rng, var.shape(), config.initializer_range, dtype, device)?)?;
            }
        }
        Ok(Self { config, device: device.clone(), dtype, model, params })
    }

    /// A model whose parameters come from `source`: every parameter must be there (a missing one is
    /// an error) and every tensor of the source must be a parameter. Parameters the source leaves
    /// out on purpose (`None`) get exactly the values `init(config, seed, …)` would give them.
    pub fn from_source(config: VideoBertConfig, source: &dyn TensorSource, seed: u64, dtype: DType, device: &Device) -> Result<Self> {
        config.validate()?;
        check_fits(&config, dtype, device)?;
        let backend = Loader { source, created: Mutex::new(Vec::new()), failure: Mutex::new(None) };
        let built = VideoBertModel::new(&config, VarBuilder::from_backend(Box::new(&backend), dtype, device.clone()));
        if let Some(e) = backend.failure.lock().expect("failure lock").take() {
            return Err(e);
        }
        let model = built?;
        let mut params = std::mem::take(&mut *backend.created.lock().expect("params lock"));
        params.sort_by(|a, b| a.0.cmp(&b.0));
        let known: HashSet<&str> = params.iter().map(|(n, _)| n.0.as_str()).collect();
        let mut unknown: Vec<String> = source.names().into_iter().filter(|n| !known.contains(n.as_str())).collect();
        if !unknown.is_empty() {
            unknown.sort();
            return Err(source.error(format!("unknown tensor(s): {}", unknown.join(", "))));
        }
        // The initialiser's stream, replayed over every parameter in name order: the ones left to it
        // take the values a fresh model has, the others only advance the stream.
        if params.iter().any(|(n, _)| !n.1) {
            let mut rng = Rng::derive(seed, &[0x1417]);
            for ((name, loaded), var) in &params {
                if !draws(name) {
                    continue;
                }
                if !*loaded {
                    var.set(&random(&mut rng, var.shape(), config.initializer_range, dtype, device)?)?;
                } else {
                    for _ in 0..var.elem_count() {
                        rng.normal();
                    }
                }
            }
        }
        let params = params.into_iter().map(|((n, _), v)| (n, v)).collect();
        Ok(Self { config, device: device.clone(), dtype, model, params })
    }

    pub fn model(&self) -> &VideoBertModel {
        &self.model
    }

    /// Parameters by name, sorted (the checkpoint's tensor names).
    pub fn params(&self) -> &[(String, Var)] {
        &self.params
    }

    pub fn num_parameters(&self) -> usize {
        self.params.iter().map(|(_, v)| v.elem_count()).sum()
    }
}

/// On the CPU a model that cannot fit is a `Config` error before anything is allocated (see `size`);
/// a GPU reports its own allocation failures as errors.
fn check_fits(config: &VideoBertConfig, dtype: DType, device: &Device) -> Result<()> {
    if device.is_cpu() {
        size::check_fits(config, dtype.size_in_bytes(), size::memory_limit())?;
    }
    Ok(())
}

fn random(rng: &mut Rng, shape: &Shape, std: f64, dtype: DType, device: &Device) -> Result<Tensor> {
    let values: Vec<f64> = (0..shape.elem_count()).map(|_| rng.normal() * std).collect();
    Ok(Tensor::from_vec(values, shape.clone(), device)?.to_dtype(dtype)?)
}

/// A `VarBuilder` backend that makes each parameter a `Var` of the source's tensor (or, when the
/// source leaves it out, a placeholder the initialiser fills afterwards), recording which is which.
struct Loader<'a> {
    source: &'a dyn TensorSource,
    /// ((name, loaded), var) in creation order; `loaded` = false for the initialiser's parameters.
    created: Mutex<Vec<((String, bool), Var)>>,
    /// The first error, kept whole (candle's error type would flatten it to a string).
    failure: Mutex<Option<Error>>,
}

impl SimpleBackend for &Loader<'_> {
    fn get(&self, s: Shape, name: &str, init: candle_nn::Init, dtype: DType, dev: &Device) -> candle_core::Result<Tensor> {
        // A parameter asked for twice (shared weights) is one parameter, as in a `VarMap`.
        if let Some((_, var)) = self.created.lock().expect("params lock").iter().find(|((n, _), _)| n == name) {
            if var.shape() != &s {
                candle_core::bail!("shape mismatch on {name}: {s:?} <> {:?}", var.shape())
            }
            return Ok(var.as_tensor().clone());
        }
        let (t, loaded) = match self.source.tensor(name, &s, dtype, dev) {
            Ok(Some(t)) => (t, true),
            // Left to the initialiser: constants (norm gains 1, biases 0) as a fresh model has
            // them; drawn weights are filled from the replayed stream afterwards.
            Ok(None) => match init {
                candle_nn::Init::Const(v) => ((Tensor::ones(&s, dtype, dev)? * v)?, false),
                _ => (Tensor::zeros(&s, dtype, dev)?, false),
            },
            Err(e) => {
                let msg = e.to_string();
                self.failure.lock().expect("failure lock").get_or_insert(e);
                candle_core::bail!("{msg}")
            }
        };
        let var = Var::from_tensor(&t)?;
        self.created.lock().expect("params lock").push(((name.to_string(), loaded), var.clone()));
        Ok(var.as_tensor().clone())
    }

    fn get_unchecked(&self, name: &str, _: DType, _: &Device) -> candle_core::Result<Tensor> {
        candle_core::bail!("parameter `{name}` requested without a shape")
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.source.names().iter().any(|n| n == name)
    }
}
