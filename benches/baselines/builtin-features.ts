/**
 * The builtin frame descriptor (crates/videobert-video/src/builtin.rs) in plain TypeScript:
 * what a Node user would write without the native addon. Same bins, weights and normalisation, so
 * the benchmark compares the same work. Input: packed RGB24 bytes, width × height.
 */
const RAW = 44
const HUE = 12
const SV = 4
const ORIENT = 12
const MOTION = 8
const SHAPE_FLOOR = 0.05
const MOTION_FLOOR = 0.002

function centredBin(turns: number, bins: number): number {
  return Math.floor(turns * bins + 0.5) % bins
}

function normalize(v: Float64Array, floor = 0): void {
  let n = 0
  for (const x of v) n += x * x
  n = Math.sqrt(n)
  if (floor > 0) n = Math.max(n, floor)
  else if (n <= 1e-12) return
  for (let i = 0; i < v.length; i++) v[i]! /= n
}

export class BuiltinFeaturesTS {
  #prev: Float32Array | null = null

  constructor(readonly grid = 2) {}

  reset(): void {
    this.#prev = null
  }

  /** `[grid², 44]` region features of one frame. */
  frame(rgb: Uint8Array | Float32Array, w: number, h: number): Float32Array {
    const g = this.grid
    const luma = new Float32Array(w * h)
    for (let i = 0; i < w * h; i++) luma[i] = 0.299 * rgb[i * 3]! + 0.587 * rgb[i * 3 + 1]! + 0.114 * rgb[i * 3 + 2]!
    const out = new Float32Array(g * g * RAW)
    const at = (x: number, y: number) => luma[Math.min(y, h - 1) * w + Math.min(x, w - 1)]!
    const prev = this.#prev
    for (let gy = 0; gy < g; gy++) {
      for (let gx = 0; gx < g; gx++) {
        const x0 = Math.floor((gx * w) / g), x1 = Math.floor(((gx + 1) * w) / g)
        const y0 = Math.floor((gy * h) / g), y1 = Math.floor(((gy + 1) * h) / g)
        const colour = new Float64Array(HUE + 2 * SV)
        const shape = new Float64Array(ORIENT + 1)
        const motion = new Float64Array(MOTION + 3)
        const n = Math.max(1, (x1 - x0) * (y1 - y0))
        let sxx = 0, sxy = 0, syy = 0, sxt = 0, syt = 0, absT = 0
        for (let y = y0; y < y1; y++) {
          for (let x = x0; x < x1; x++) {
            const i = y * w + x
            const r = rgb[i * 3]! / 255, gg = rgb[i * 3 + 1]! / 255, b = rgb[i * 3 + 2]! / 255
            const max = Math.max(r, gg, b), min = Math.min(r, gg, b), d = max - min
            let hue = 0
            if (d > 1e-6) {
              if (max === r) hue = 60 * ((((gg - b) / d) % 6) + 6) % 360
              else if (max === gg) hue = 60 * ((b - r) / d + 2)
              else hue = 60 * ((r - gg) / d + 4)
            }
            const s = max <= 1e-6 ? 0 : d / max
            colour[Math.min(Math.floor((hue / 360) * HUE), HUE - 1)]! += s * max
            colour[HUE + Math.min(Math.floor(s * SV), SV - 1)]! += 1
            colour[HUE + SV + Math.min(Math.floor(max * SV), SV - 1)]! += 1
            const xm = Math.max(x - 1, 0), xp = x + 1, ym = Math.max(y - 1, 0), yp = y + 1
            const gxv = (at(xp, ym) + 2 * at(xp, y) + at(xp, yp) - (at(xm, ym) + 2 * at(xm, y) + at(xm, yp))) / (8 * 255)
            const gyv = (at(xm, yp) + 2 * at(x, yp) + at(xp, yp) - (at(xm, ym) + 2 * at(x, ym) + at(xp, ym))) / (8 * 255)
            const mag2 = gxv * gxv + gyv * gyv
            const mag = Math.sqrt(mag2)
            if (mag > 1e-4) {
              const theta = ((Math.atan2(gyv, gxv) % Math.PI) + Math.PI) % Math.PI
              shape[centredBin(theta / Math.PI, ORIENT)]! += mag
            }
            shape[ORIENT]! += mag
            if (prev) {
              const it = (luma[i]! - prev[i]!) / 255
              absT += Math.abs(it)
              sxx += gxv * gxv; sxy += gxv * gyv; syy += gyv * gyv; sxt += gxv * it; syt += gyv * it
              if (mag2 > 1e-4 && Math.abs(it) > 1e-3) {
                const vx = (-it * gxv) / mag2, vy = (-it * gyv) / mag2
                const phi = ((Math.atan2(vy, vx) % (2 * Math.PI)) + 2 * Math.PI) % (2 * Math.PI)
                motion[centredBin(phi / (2 * Math.PI), MOTION)]! += Math.abs(it) * mag
              }
            }
          }
        }
        for (let k = 0; k < colour.length; k++) colour[k]! /= n
        for (let k = 0; k < shape.length; k++) shape[k]! /= n
        if (prev) {
          let energy = 0
          for (let k = 0; k < MOTION; k++) { motion[k]! /= n; energy += motion[k]! }
          const det = sxx * syy - sxy * sxy
          if (Math.abs(det) > 1e-9) {
            motion[MOTION] = Math.tanh(-(syy * sxt - sxy * syt) / det) * energy
            motion[MOTION + 1] = Math.tanh(-(sxx * syt - sxy * sxt) / det) * energy
          }
          motion[MOTION + 2] = (absT / n) * Math.min(energy, 1)
        }
        normalize(colour)
        normalize(shape, SHAPE_FLOOR)
        normalize(motion, MOTION_FLOOR)
        const raw = new Float64Array(RAW)
        raw.set(colour, 0)
        raw.set(shape, 20)
        raw.set(motion, 33)
        normalize(raw)
        out.set(raw, (gy * g + gx) * RAW)
      }
    }
    this.#prev = luma
    return out
  }
}
