/** `loss-curve.html` in the run directory: train and validation losses as an inline SVG (no assets). */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

import { LOSS_CURVE_FILE, METRICS_FILE } from '../files.js'

interface Row {
  step: number
  split: 'train' | 'validation'
  loss: number
  mlmLoss: number
  videoLoss: number
  vtmLoss: number
}

const SERIES: [keyof Row, string][] = [
  ['loss', '#1f77b4'],
  ['mlmLoss', '#ff7f0e'],
  ['videoLoss', '#2ca02c'],
  ['vtmLoss', '#d62728'],
]

export function writeLossCurve(out: string): string | null {
  const metrics = join(out, METRICS_FILE)
  if (!existsSync(metrics)) return null
  const rows = readFileSync(metrics, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Row)
  const train = rows.filter((r) => r.split === 'train')
  const val = rows.filter((r) => r.split === 'validation')
  if (train.length === 0) return null
  const [W, H, P] = [900, 420, 50]
  const maxStep = Math.max(...rows.map((r) => r.step))
  const values = rows.flatMap((r) => SERIES.map(([k]) => r[k] as number)).filter(Number.isFinite)
  const maxY = Math.max(...values, 1e-9)
  const x = (s: number) => P + ((W - 2 * P) * s) / Math.max(1, maxStep)
  const y = (v: number) => H - P - ((H - 2 * P) * v) / maxY
  const lines = SERIES.map(
    ([k, colour]) =>
      `<polyline fill="none" stroke="${colour}" stroke-width="1.5" points="${train.map((r) => `${x(r.step).toFixed(1)},${y(r[k] as number).toFixed(1)}`).join(' ')}"><title>train ${k}</title></polyline>` +
      val.map((r) => `<circle cx="${x(r.step).toFixed(1)}" cy="${y(r[k] as number).toFixed(1)}" r="3.5" fill="${colour}"><title>validation ${k} ${(r[k] as number).toFixed(4)} @ ${r.step}</title></circle>`).join(''),
  ).join('\n')
  const legend = SERIES.map(([k, c], i) => `<text x="${P + 10 + i * 130}" y="${P - 15}" fill="${c}" font-size="13">● ${k}</text>`).join('')
  const axes = `<line x1="${P}" y1="${H - P}" x2="${W - P}" y2="${H - P}" stroke="#444"/><line x1="${P}" y1="${P}" x2="${P}" y2="${H - P}" stroke="#444"/>` +
    `<text x="${W - P}" y="${H - P + 20}" text-anchor="end" font-size="12">step ${maxStep}</text><text x="${P - 5}" y="${P + 4}" text-anchor="end" font-size="12">${maxY.toFixed(2)}</text><text x="${P - 5}" y="${H - P}" text-anchor="end" font-size="12">0</text>`
  const html = `<!doctype html><meta charset="utf-8"><title>VideoBERT losses — ${out}</title>
<body style="font-family:sans-serif"><h3>Losses (lines: train, dots: validation)</h3>
<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">${axes}${legend}
${lines}</svg></body>`
  const path = join(out, LOSS_CURVE_FILE)
  writeFileSync(path, html)
  return path
}
