//! The CUDA attention kernel's launch geometry and its tile loop mirrored on the CPU
//! (`kernels/cuda/attention.cu`): the same constants, the same online softmax per tile of keys, the
//! same recomputation of the probabilities from the saved log-sum-exp in the backward pass. The
//! mirror is what the tests check against exact attention on a machine without a GPU; the CUDA
//! code follows it line for line.

/// Rows (threads) per block: one query row (forward, dQ) or key row (dK/dV) per thread.
pub const BLOCK_ROWS: usize = 64;
/// Rows of the other side staged in shared memory per tile.
pub const TILE_ROWS: usize = 32;
/// Head sizes the kernel is instantiated for (other sizes use the composed ops).
pub const HEAD_DIMS: [usize; 3] = [32, 64, 128];

/// `(grid, block)` of the forward, dQ and dK/dV kernels for `n` sequences of `s` tokens and
/// `heads` heads: `grid = (⌈s / BLOCK_ROWS⌉, heads, n)`, `block = (BLOCK_ROWS, 1, 1)`.
pub fn launch(n: usize, s: usize, heads: usize) -> ((u32, u32, u32), (u32, u32, u32)) {
    ((s.div_ceil(BLOCK_ROWS) as u32, heads as u32, n as u32), (BLOCK_ROWS as u32, 1, 1))
}

/// Static shared memory of one block, in bytes (two tiles of `TILE_ROWS × (d + 1)` f32 — padded
/// by one column against bank conflicts — and two per-row vectors).
pub fn shared_bytes(head_dim: usize) -> usize {
    4 * (2 * TILE_ROWS * (head_dim + 1) + 2 * TILE_ROWS)
}

/// The kernel's entry point, `vb_attn_<kind>_<dtype>_d<D>`, or `None` for a head size it is not
/// built for.
pub fn kernel_name(kind: &str, dtype: &str, head_dim: usize) -> Option<String> {
    HEAD_DIMS.contains(&head_dim).then(|| format!("vb_attn_{kind}_{dtype}_d{head_dim}"))
}

/// One head of one sequence, row-major `[s, d]` each, as the CUDA threads see it.
pub struct Head<'a> {
    pub q: &'a [f32],
    pub k: &'a [f32],
    pub v: &'a [f32],
    /// Additive key mask `[s]` (0 = attend).
    pub mask: Option<&'a [f32]>,
    pub d: usize,
}

impl Head<'_> {
    fn s(&self) -> usize {
        self.q.len() / self.d
    }

    fn row<'b>(&self, x: &'b [f32], i: usize) -> &'b [f32] {
        &x[i * self.d..(i + 1) * self.d]
    }

    fn score(&self, i: usize, j: usize, scale: f32) -> f32 {
        let dot: f32 = self.row(self.q, i).iter().zip(self.row(self.k, j)).map(|(a, b)| a * b).sum();
        dot * scale + self.mask.map_or(0.0, |m| m[j])
    }

    /// Forward as the kernel computes it: `(ctx [s, d], lse [s])`, keys in tiles of `TILE_ROWS`
    /// with a running max, a running sum and the accumulator rescaled once per tile.
    pub fn forward(&self, scale: f32) -> (Vec<f32>, Vec<f32>) {
        let (s, d) = (self.s(), self.d);
        let (mut out, mut lse) = (vec![0f32; s * d], vec![0f32; s]);
        for i in 0..s {
            let (mut m, mut l, mut acc) = (f32::NEG_INFINITY, 0f32, vec![0f32; d]);
            for j0 in (0..s).step_by(TILE_ROWS) {
                let tile: Vec<f32> = (j0..j0 + TILE_ROWS).map(|j| if j < s { self.score(i, j, scale) } else { f32::NEG_INFINITY }).collect();
                let m_new = tile.iter().fold(m, |a, &b| a.max(b));
                let corr = (m - m_new).exp();
                l *= corr;
                acc.iter_mut().for_each(|a| *a *= corr);
                for (jt, &sc) in tile.iter().enumerate() {
                    let p = (sc - m_new).exp();
                    l += p;
                    if j0 + jt < s {
                        acc.iter_mut().zip(self.row(self.v, j0 + jt)).for_each(|(a, &vv)| *a += p * vv);
                    }
                }
                m = m_new;
            }
            out[i * d..(i + 1) * d].iter_mut().zip(&acc).for_each(|(o, &a)| *o = a / l);
            lse[i] = m + l.ln();
        }
        (out, lse)
    }

    /// Backward as the kernels compute it, from the forward's `ctx` and `lse` and the upstream
    /// `dctx`: `(dq, dk, dv)`, each `[s, d]`.
    pub fn backward(&self, scale: f32, ctx: &[f32], lse: &[f32], dctx: &[f32]) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        let (s, d) = (self.s(), self.d);
        let delta: Vec<f32> = (0..s).map(|i| self.row(ctx, i).iter().zip(self.row(dctx, i)).map(|(a, b)| a * b).sum()).collect();
        let dot = |a: &[f32], b: &[f32]| -> f32 { a.iter().zip(b).map(|(x, y)| x * y).sum() };
        let (mut dq, mut dk, mut dv) = (vec![0f32; s * d], vec![0f32; s * d], vec![0f32; s * d]);
        // dQ kernel: a query row per thread, keys in tiles.
        for i in 0..s {
            for j in 0..s {
                let p = (self.score(i, j, scale) - lse[i]).exp();
                let ds = p * (dot(self.row(dctx, i), self.row(self.v, j)) - delta[i]) * scale;
                dq[i * d..(i + 1) * d].iter_mut().zip(self.row(self.k, j)).for_each(|(g, &kk)| *g += ds * kk);
            }
        }
        // dK/dV kernel: a key row per thread, queries in tiles.
        for j in 0..s {
            for i in 0..s {
                let p = (self.score(i, j, scale) - lse[i]).exp();
                let ds = p * (dot(self.row(dctx, i), self.row(self.v, j)) - delta[i]) * scale;
                dv[j * d..(j + 1) * d].iter_mut().zip(self.row(dctx, i)).for_each(|(g, &y)| *g += p * y);
                dk[j * d..(j + 1) * d].iter_mut().zip(self.row(self.q, i)).for_each(|(g, &qq)| *g += ds * qq);
            }
        }
        (dq, dk, dv)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    const KERNEL: &str = include_str!("cuda/attention.cu");

    fn define(name: &str) -> usize {
        let line = KERNEL.lines().find(|l| l.starts_with(&format!("#define {name} "))).unwrap_or_else(|| panic!("{name} in attention.cu"));
        line.split_whitespace().nth(2).unwrap().parse().unwrap()
    }

    #[test]
    fn constants_and_entry_points_match_the_cuda_source() {
        assert_eq!(define("VB_BR"), BLOCK_ROWS);
        assert_eq!(define("VB_BC"), TILE_ROWS);
        for d in HEAD_DIMS {
            assert!(KERNEL.contains(&format!("VB_ALL_TYPES({d})")), "head size {d} instantiated");
            for kind in ["fwd", "delta", "dq", "dkv"] {
                assert!(KERNEL.contains(&format!("vb_attn_{kind}_##TN##_d##D")), "{kind}");
                assert_eq!(kernel_name(kind, "bf16", d).unwrap(), format!("vb_attn_{kind}_bf16_d{d}"));
            }
        }
        assert_eq!(kernel_name("fwd", "f32", 48), None);
        // Shared memory fits the 48 KiB a block gets without opting in, at every head size.
        assert!(HEAD_DIMS.iter().all(|&d| shared_bytes(d) <= 48 * 1024), "{:?}", HEAD_DIMS.map(shared_bytes));
    }

    #[test]
    fn the_grid_covers_every_row_once() {
        for (n, s, heads) in [(128, 5, 4), (8, 51, 4), (32, 64, 12), (1, 65, 16), (2, 1, 1)] {
            let ((gx, gy, gz), (bx, by, bz)) = launch(n, s, heads);
            assert_eq!((by, bz), (1, 1));
            assert_eq!((gy as usize, gz as usize), (heads, n));
            let rows = (gx * bx) as usize;
            assert!(rows >= s && rows - s < BLOCK_ROWS, "{s} rows in {gx} blocks of {bx}");
        }
    }

    /// Exact attention in f64: softmax over all keys at once.
    fn exact(h: &Head, scale: f64) -> (Vec<f64>, Vec<f64>) {
        let (s, d) = (h.s(), h.d);
        let mut out = vec![0f64; s * d];
        let mut probs = vec![0f64; s * s];
        for i in 0..s {
            let sc: Vec<f64> = (0..s)
                .map(|j| (0..d).map(|t| h.q[i * d + t] as f64 * h.k[j * d + t] as f64).sum::<f64>() * scale + h.mask.map_or(0.0, |m| m[j] as f64))
                .collect();
            let max = sc.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let z: f64 = sc.iter().map(|x| (x - max).exp()).sum();
            for j in 0..s {
                probs[i * s + j] = (sc[j] - max).exp() / z;
                for t in 0..d {
                    out[i * d + t] += probs[i * s + j] * h.v[j * d + t] as f64;
                }
            }
        }
        (out, probs)
    }

    fn random(rng: &mut Rng, n: usize) -> Vec<f32> {
        (0..n).map(|_| rng.normal() as f32).collect()
    }

    #[test]
    fn the_tile_loop_is_exact_attention_forward_and_backward() {
        let mut rng = Rng::new(5);
        // Fewer rows than a tile, a tile and a bit, several tiles; with and without padding keys.
        for (s, d, masked) in [(5, 32, false), (33, 64, true), (70, 32, true)] {
            let (q, k, v, dctx) = (random(&mut rng, s * d), random(&mut rng, s * d), random(&mut rng, s * d), random(&mut rng, s * d));
            let mask: Vec<f32> = (0..s).map(|j| if masked && j % 7 == 3 { -1e4 } else { 0.0 }).collect();
            let h = Head { q: &q, k: &k, v: &v, mask: masked.then_some(&mask[..]), d };
            let scale = 1.0 / (d as f32).sqrt();
            let (out, lse) = h.forward(scale);
            let (want, probs) = exact(&h, scale as f64);
            let worst = out.iter().zip(&want).map(|(a, b)| (*a as f64 - b).abs()).fold(0.0, f64::max);
            assert!(worst < 1e-5, "s {s}: forward off by {worst}");
            // Backward against the analytic gradient of exact attention.
            let (dq, dk, dv) = h.backward(scale, &out, &lse, &dctx);
            let (mut wq, mut wk, mut wv) = (vec![0f64; s * d], vec![0f64; s * d], vec![0f64; s * d]);
            for i in 0..s {
                let dp: Vec<f64> = (0..s).map(|j| (0..d).map(|t| dctx[i * d + t] as f64 * v[j * d + t] as f64).sum()).collect();
                let r: f64 = (0..s).map(|j| probs[i * s + j] * dp[j]).sum();
                for j in 0..s {
                    let p = probs[i * s + j];
                    let ds = p * (dp[j] - r) * scale as f64;
                    for t in 0..d {
                        wv[j * d + t] += p * dctx[i * d + t] as f64;
                        wq[i * d + t] += ds * k[j * d + t] as f64;
                        wk[j * d + t] += ds * q[i * d + t] as f64;
                    }
                }
            }
            for (name, got, want) in [("dq", &dq, &wq), ("dk", &dk, &wk), ("dv", &dv, &wv)] {
                let worst = got.iter().zip(want.iter()).map(|(a, b)| (*a as f64 - b).abs()).fold(0.0, f64::max);
                let size = want.iter().map(|x| x.abs()).fold(0.0, f64::max);
                assert!(worst < 1e-5 * size.max(1.0), "s {s}: {name} off by {worst} (scale {size})");
            }
        }
    }
}
