import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect } from 'vitest'

import { VideoBertError, type ErrorCode } from '../src/index.js'
import { writeSafetensors } from '../src/safetensors.js'

/** A fresh directory under the run's temporary root (removed by __test__/global-setup.ts). */
export function tempDir(name: string): string {
  return mkdtempSync(join(process.env.VIDEOBERT_TEST_TMP ?? tmpdir(), `${name}-`))
}

/** Assert that `work` rejects/throws a VideoBertError with `code` and a message matching `pattern`. */
export async function expectCode(work: () => unknown, code: ErrorCode, pattern?: RegExp): Promise<VideoBertError> {
  let caught: unknown
  try {
    await work()
  } catch (err) {
    caught = err
  }
  expect(caught, 'expected an error').toBeInstanceOf(VideoBertError)
  const err = caught as VideoBertError
  expect(err.code, err.message).toBe(code)
  if (pattern) expect(err.message).toMatch(pattern)
  return err
}

/** A tiny, randomly initialised CLIP vision tower with Hugging Face's tensor names (D=32, 2 layers, 8-px patches, 32-px images). */
export function writeTinyClip(path: string, seed = 1): void {
  let a = seed
  const rand = () => {
    a = (a * 1103515245 + 12345) % 2147483648
    return a / 2147483648 - 0.5
  }
  const t = (shape: number[], scale = 0.2, offset = 0) => ({ shape, data: Float32Array.from({ length: shape.reduce((x, y) => x * y, 1) }, () => offset + scale * rand()) })
  const D = 32, F = 64
  const tensors: Record<string, { shape: number[]; data: Float32Array }> = {
    'vision_model.embeddings.class_embedding': t([D]),
    'vision_model.embeddings.patch_embedding.weight': t([D, 3, 8, 8]),
    'vision_model.embeddings.position_embedding.weight': t([17, D]),
    'vision_model.pre_layrnorm.weight': t([D], 0.1, 1),
    'vision_model.pre_layrnorm.bias': t([D], 0.1),
    'vision_model.post_layernorm.weight': t([D], 0.1, 1),
    'vision_model.post_layernorm.bias': t([D], 0.1),
  }
  for (let l = 0; l < 2; l++) {
    const p = `vision_model.encoder.layers.${l}`
    for (const n of ['layer_norm1', 'layer_norm2']) {
      tensors[`${p}.${n}.weight`] = t([D], 0.1, 1)
      tensors[`${p}.${n}.bias`] = t([D], 0.1)
    }
    for (const n of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) {
      tensors[`${p}.self_attn.${n}.weight`] = t([D, D])
      tensors[`${p}.self_attn.${n}.bias`] = t([D], 0.1)
    }
    tensors[`${p}.mlp.fc1.weight`] = t([F, D])
    tensors[`${p}.mlp.fc1.bias`] = t([F], 0.1)
    tensors[`${p}.mlp.fc2.weight`] = t([D, F])
    tensors[`${p}.mlp.fc2.bias`] = t([D], 0.1)
  }
  writeSafetensors(path, tensors)
}

/** The F32 tensors of a `.safetensors` file by name (other dtypes are skipped) — to compare checkpoints. */
export function readSafetensorsF32(path: string): Map<string, Float32Array> {
  const bytes = readFileSync(path)
  const headerLength = Number(bytes.readBigUInt64LE(0))
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, { dtype: string; data_offsets: [number, number] }>
  const base = 8 + headerLength
  const out = new Map<string, Float32Array>()
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__' || t.dtype !== 'F32') continue
    const [from, to] = t.data_offsets
    out.set(name, new Float32Array(bytes.buffer.slice(bytes.byteOffset + base + from, bytes.byteOffset + base + to)))
  }
  return out
}
