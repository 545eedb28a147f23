// Fused multi-head attention for CUDA, forward and backward, on the fused projection the CPU
// kernel reads: qkv [N, S, 3H] (queries, keys, values side by side; head h is columns
// [h·D, (h+1)·D) of each), an optional additive key mask [N, S] (f32), ctx [N, S, H].
// Memory is linear in S: the forward pass keeps only the log-sum-exp of each query row
// (lse [N, heads, S], f32) and the backward pass recomputes the probabilities from it (the
// FlashAttention recipe). Arithmetic is f32 whatever the storage type (f32, bf16, f16).
//
// One thread owns one row (a query row forward and for dQ, a key row for dK/dV); a block of VB_BR
// threads walks the other side in tiles of VB_BC rows staged in shared memory. Grid:
// (ceil(S / VB_BR), heads, N). The Rust side (kernels/cuda/mod.rs) launches with the same constants;
// kernels/flash.rs mirrors the tile loop on the CPU and is tested against exact attention.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <math_constants.h>

#define VB_BR 64
#define VB_BC 32

__device__ __forceinline__ float to_f(float x) { return x; }
__device__ __forceinline__ float to_f(__nv_bfloat16 x) { return __bfloat162float(x); }
__device__ __forceinline__ float to_f(__half x) { return __half2float(x); }
template <typename T> __device__ __forceinline__ T from_f(float x);
template <> __device__ __forceinline__ float from_f<float>(float x) { return x; }
template <> __device__ __forceinline__ __nv_bfloat16 from_f<__nv_bfloat16>(float x) { return __float2bfloat16(x); }
template <> __device__ __forceinline__ __half from_f<__half>(float x) { return __float2half(x); }

// Stages key/value rows [j0, j0 + VB_BC) of one head into shared memory (zeros past S) with the
// key mask (−inf past S, so padding keys get probability 0); ends with a barrier.
template <typename T, int D>
__device__ __forceinline__ void stage_keys(const T* base, const float* mask, int n, int S, int H, int head, int j0,
                                           float (*ks)[D + 1], float (*vs)[D + 1], float* ms) {
  const long long W = 3LL * H;
  for (int idx = threadIdx.x; idx < VB_BC * D; idx += VB_BR) {
    const int j = idx / D, d = idx % D, jj = j0 + j;
    ks[j][d] = jj < S ? to_f(base[jj * W + H + head * D + d]) : 0.f;
    vs[j][d] = jj < S ? to_f(base[jj * W + 2 * H + head * D + d]) : 0.f;
  }
  for (int j = threadIdx.x; j < VB_BC; j += VB_BR) {
    const int jj = j0 + j;
    ms[j] = jj < S ? (mask ? mask[(long long)n * S + jj] : 0.f) : -CUDART_INF_F;
  }
  __syncthreads();
}

// Forward: ctx and lse. One thread per query row; key/value tiles in shared memory; online
// softmax per tile (running max m, running sum l, accumulator rescaled by exp(m_old − m_new)).
template <typename T, int D>
__device__ void attn_fwd(const T* __restrict__ qkv, const float* __restrict__ mask, T* __restrict__ out,
                         float* __restrict__ lse, int S, int H, int heads, float scale) {
  const int n = blockIdx.z, head = blockIdx.y, row = blockIdx.x * VB_BR + threadIdx.x;
  const long long W = 3LL * H;
  const T* base = qkv + (long long)n * S * W;
  __shared__ float ks[VB_BC][D + 1], vs[VB_BC][D + 1], ms[VB_BC];
  const bool valid = row < S;
  float q[D], acc[D];
  for (int d = 0; d < D; ++d) {
    q[d] = valid ? to_f(base[row * W + head * D + d]) : 0.f;
    acc[d] = 0.f;
  }
  float m = -CUDART_INF_F, l = 0.f;
  for (int j0 = 0; j0 < S; j0 += VB_BC) {
    stage_keys<T, D>(base, mask, n, S, H, head, j0, ks, vs, ms);
    if (valid) {
      float s[VB_BC];
      float tile_max = -CUDART_INF_F;
      for (int j = 0; j < VB_BC; ++j) {
        float dot = 0.f;
        for (int d = 0; d < D; ++d) dot += q[d] * ks[j][d];
        s[j] = dot * scale + ms[j];
        tile_max = fmaxf(tile_max, s[j]);
      }
      const float m_new = fmaxf(m, tile_max);
      const float corr = __expf(m - m_new);
      l *= corr;
      for (int d = 0; d < D; ++d) acc[d] *= corr;
      for (int j = 0; j < VB_BC; ++j) {
        const float p = __expf(s[j] - m_new);  // padding keys: exp(−inf) = 0
        l += p;
        for (int d = 0; d < D; ++d) acc[d] += p * vs[j][d];
      }
      m = m_new;
    }
    __syncthreads();
  }
  if (valid) {
    const float inv = 1.f / l;
    T* o = out + ((long long)n * S + row) * H + head * D;
    for (int d = 0; d < D; ++d) o[d] = from_f<T>(acc[d] * inv);
    lse[((long long)n * heads + head) * S + row] = m + logf(l);
  }
}

// delta[n, head, i] = Σ_d dctx[i, d] · ctx[i, d] over the head's columns (the softmax backward's
// row term). One thread per (n, head, i).
template <typename T, int D>
__device__ void attn_bwd_delta(const T* __restrict__ ctx, const T* __restrict__ dctx, float* __restrict__ delta, int N, int S, int H, int heads) {
  const long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (t >= (long long)N * heads * S) return;
  const int i = t % S, head = (t / S) % heads, n = t / ((long long)S * heads);
  const long long off = ((long long)n * S + i) * H + head * D;
  float acc = 0.f;
  for (int d = 0; d < D; ++d) acc += to_f(ctx[off + d]) * to_f(dctx[off + d]);
  delta[t] = acc;
}

// dQ: one thread per query row, key/value tiles in shared memory.
// p = exp(q·k·scale + mask − lse), dp = dctx·v, ds = p (dp − delta), dq += ds · k · scale.
template <typename T, int D>
__device__ void attn_bwd_dq(const T* __restrict__ qkv, const float* __restrict__ mask, const T* __restrict__ dctx,
                            const float* __restrict__ lse, const float* __restrict__ delta, T* __restrict__ dqkv,
                            int S, int H, int heads, float scale) {
  const int n = blockIdx.z, head = blockIdx.y, row = blockIdx.x * VB_BR + threadIdx.x;
  const long long W = 3LL * H;
  const T* base = qkv + (long long)n * S * W;
  __shared__ float ks[VB_BC][D + 1], vs[VB_BC][D + 1], ms[VB_BC];
  const bool valid = row < S;
  float q[D], dy[D], dq[D];
  const long long orow = ((long long)n * S + row) * H + head * D;
  for (int d = 0; d < D; ++d) {
    q[d] = valid ? to_f(base[row * W + head * D + d]) : 0.f;
    dy[d] = valid ? to_f(dctx[orow + d]) : 0.f;
    dq[d] = 0.f;
  }
  const long long r = ((long long)n * heads + head) * S + row;
  const float L = valid ? lse[r] : 0.f, Di = valid ? delta[r] : 0.f;
  for (int j0 = 0; j0 < S; j0 += VB_BC) {
    stage_keys<T, D>(base, mask, n, S, H, head, j0, ks, vs, ms);
    if (valid) {
      for (int j = 0; j < VB_BC; ++j) {
        float s = 0.f, dp = 0.f;
        for (int d = 0; d < D; ++d) {
          s += q[d] * ks[j][d];
          dp += dy[d] * vs[j][d];
        }
        const float p = __expf(s * scale + ms[j] - L);
        const float ds = p * (dp - Di) * scale;
        for (int d = 0; d < D; ++d) dq[d] += ds * ks[j][d];
      }
    }
    __syncthreads();
  }
  if (valid) {
    T* g = dqkv + (long long)n * S * W + row * W + head * D;
    for (int d = 0; d < D; ++d) g[d] = from_f<T>(dq[d]);
  }
}

// dK, dV: one thread per key row, query tiles (q, dctx, lse, delta) in shared memory.
// dv += p · dctx_i, dk += ds · q_i · scale.
template <typename T, int D>
__device__ void attn_bwd_dkv(const T* __restrict__ qkv, const float* __restrict__ mask, const T* __restrict__ dctx,
                             const float* __restrict__ lse, const float* __restrict__ delta, T* __restrict__ dqkv,
                             int S, int H, int heads, float scale) {
  const int n = blockIdx.z, head = blockIdx.y, row = blockIdx.x * VB_BR + threadIdx.x;
  const long long W = 3LL * H;
  const T* base = qkv + (long long)n * S * W;
  __shared__ float qs[VB_BC][D + 1], ys[VB_BC][D + 1], ls[VB_BC], dl[VB_BC];
  const bool valid = row < S;
  float k[D], v[D], dk[D], dv[D];
  for (int d = 0; d < D; ++d) {
    k[d] = valid ? to_f(base[row * W + H + head * D + d]) : 0.f;
    v[d] = valid ? to_f(base[row * W + 2 * H + head * D + d]) : 0.f;
    dk[d] = 0.f;
    dv[d] = 0.f;
  }
  const float mj = valid && mask ? mask[(long long)n * S + row] : 0.f;
  for (int i0 = 0; i0 < S; i0 += VB_BC) {
    for (int idx = threadIdx.x; idx < VB_BC * D; idx += VB_BR) {
      const int i = idx / D, d = idx % D, ii = i0 + i;
      qs[i][d] = ii < S ? to_f(base[ii * W + head * D + d]) : 0.f;
      ys[i][d] = ii < S ? to_f(dctx[((long long)n * S + ii) * H + head * D + d]) : 0.f;
    }
    for (int i = threadIdx.x; i < VB_BC; i += VB_BR) {
      const int ii = i0 + i;
      const long long r = ((long long)n * heads + head) * S + ii;
      ls[i] = ii < S ? lse[r] : CUDART_INF_F;  // padding queries: p = exp(… − inf) = 0
      dl[i] = ii < S ? delta[r] : 0.f;
    }
    __syncthreads();
    if (valid) {
      for (int i = 0; i < VB_BC; ++i) {
        float s = 0.f, dp = 0.f;
        for (int d = 0; d < D; ++d) {
          s += qs[i][d] * k[d];
          dp += ys[i][d] * v[d];
        }
        const float p = __expf(s * scale + mj - ls[i]);
        const float ds = p * (dp - dl[i]) * scale;
        for (int d = 0; d < D; ++d) {
          dv[d] += p * ys[i][d];
          dk[d] += ds * qs[i][d];
        }
      }
    }
    __syncthreads();
  }
  if (valid) {
    T* g = dqkv + (long long)n * S * W + row * W;
    for (int d = 0; d < D; ++d) {
      g[H + head * D + d] = from_f<T>(dk[d]);
      g[2 * H + head * D + d] = from_f<T>(dv[d]);
    }
  }
}

// extern "C" entry points: vb_attn_<kind>_<dtype>_d<D>, for the head sizes the presets use.
#define VB_INSTANTIATE(T, TN, D)                                                                                 \
  extern "C" __global__ void __launch_bounds__(VB_BR) vb_attn_fwd_##TN##_d##D(                                   \
      const T* qkv, const float* mask, T* out, float* lse, int S, int H, int heads, float scale) {               \
    attn_fwd<T, D>(qkv, mask, out, lse, S, H, heads, scale);                                                     \
  }                                                                                                              \
  extern "C" __global__ void vb_attn_delta_##TN##_d##D(const T* ctx, const T* dctx, float* delta, int N, int S,  \
                                                       int H, int heads) {                                       \
    attn_bwd_delta<T, D>(ctx, dctx, delta, N, S, H, heads);                                                      \
  }                                                                                                              \
  extern "C" __global__ void __launch_bounds__(VB_BR) vb_attn_dq_##TN##_d##D(                                    \
      const T* qkv, const float* mask, const T* dctx, const float* lse, const float* delta, T* dqkv, int S,      \
      int H, int heads, float scale) {                                                                           \
    attn_bwd_dq<T, D>(qkv, mask, dctx, lse, delta, dqkv, S, H, heads, scale);                                    \
  }                                                                                                              \
  extern "C" __global__ void __launch_bounds__(VB_BR) vb_attn_dkv_##TN##_d##D(                                   \
      const T* qkv, const float* mask, const T* dctx, const float* lse, const float* delta, T* dqkv, int S,      \
      int H, int heads, float scale) {                                                                           \
    attn_bwd_dkv<T, D>(qkv, mask, dctx, lse, delta, dqkv, S, H, heads, scale);                                   \
  }

#define VB_ALL_TYPES(D)                 \
  VB_INSTANTIATE(float, f32, D)         \
  VB_INSTANTIATE(__nv_bfloat16, bf16, D) \
  VB_INSTANTIATE(__half, f16, D)

VB_ALL_TYPES(128)
VB_ALL_TYPES(32)
VB_ALL_TYPES(64)
