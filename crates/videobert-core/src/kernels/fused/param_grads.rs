//! Parameter gradients that fused blocks compute themselves. A block that takes the whole
//! `x → x + f(x)` of a layer as one op (`fused::ffn`) has only `x` as a graph input — candle's
//! custom ops take at most three, and each gradient candle accumulates costs a zeroed tensor plus
//! an add — so the gradients of its parameters are left here, keyed by the parameter tensor's id,
//! and `train::gradients_of` (the one place a backward pass runs) adds them to candle's.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use candle_core::{Result, Tensor, TensorId};

static STORE: LazyLock<Mutex<HashMap<TensorId, Tensor>>> = LazyLock::new(|| Mutex::new(HashMap::new()));

/// Adds `grad` to what is stored for `param`.
pub fn add(param: &Tensor, grad: Tensor) -> Result<()> {
    let mut store = STORE.lock().expect("parameter gradients");
    let sum = match store.remove(&param.id()) {
        Some(g) => (g + grad)?,
        None => grad,
    };
    store.insert(param.id(), sum);
    Ok(())
}

/// Takes (and removes) what is stored for `param`.
pub fn take(param: &Tensor) -> Option<Tensor> {
    STORE.lock().expect("parameter gradients").remove(&param.id())
}
