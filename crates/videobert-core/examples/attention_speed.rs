//! Multi-head attention forward + backward at the model's two shapes, fused kernel vs the composed
//! candle ops it replaced: `cargo run --release -p videobert-core --example attention_speed -- N S H HEADS`.
//! Input `x [N, S, H]`, the layer's Q/K/V/output projections included (as in the model), upstream
//! gradient random; prints one JSON line per implementation with the median ms of 20 runs after 3.

use std::time::Instant;

use candle_nn::{VarBuilder, VarMap};
use videobert_core::candle_core::{Tensor, Var};
use videobert_core::model::layers::SelfAttention;
use videobert_core::{DType, Device};

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).map(|s| s.parse().expect("N S H HEADS")).collect();
    let [n, s, h, heads] = args[..] else { panic!("usage: attention_speed N S H HEADS") };
    let varmap = VarMap::new();
    let attn = SelfAttention::new(h, heads, VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu)).expect("attention");
    for v in varmap.all_vars() {
        v.set(&(Tensor::randn(0f32, 0.05, v.dims(), &Device::Cpu).unwrap())).unwrap();
    }
    let x = Var::from_tensor(&Tensor::randn(0f32, 1.0, (n, s, h), &Device::Cpu).unwrap()).unwrap();
    let probe = Tensor::randn(0f32, 1.0, (n, s, h), &Device::Cpu).unwrap();
    for (name, fused) in [("fused", true), ("composed", false)] {
        let mut times = Vec::new();
        for i in 0..23 {
            let t0 = Instant::now();
            let y = if fused { attn.forward(x.as_tensor(), None) } else { attn.composed(x.as_tensor(), None) }.unwrap();
            let grads = (y * &probe).unwrap().sum_all().unwrap().backward().unwrap();
            assert!(grads.get(x.as_tensor()).is_some());
            if i >= 3 {
                times.push(t0.elapsed().as_secs_f64() * 1e3);
            }
        }
        times.sort_by(f64::total_cmp);
        println!("{{\"impl\":\"{name}\",\"n\":{n},\"s\":{s},\"h\":{h},\"heads\":{heads},\"ms\":{:.3}}}", times[times.len() / 2]);
    }
}
