/**
 * The retrieval `likelihood` scorer's inner call at a real vocabulary: every caption word piece
 * masked in turn and scored given the video. Before: `predictMasked(batch, { topK: vocabSize })`
 * (the whole distribution of every mask crosses into JS, then one entry is looked up); now:
 * `maskLogProbs(batch, answers)` (the log-probability of the answer only). `small` preset with a
 * BERT-sized vocabulary (30 522) and with the demo's (69), batch of 32 masked captions, 2 threads.
 * Then caption decoding per clip (`captionVideos` with its defaults, greedy and beam 4, 8 clips per
 * call) at both vocabularies, with the share of the time spent in the native `predictMasked` calls.
 * Prints the tables for benches/RESULTS.md (written between the `inference` markers).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

import { captionVideos, presets, randomBatch, TextTokenizer, VideoBERT, type InferenceContext } from 'videobert-native'

import { dataDir, machine } from './common.js'

const rows: string[] = []
for (const vocabSize of [30_522, 69]) {
  const config = { ...presets.small, vocabSize }
  const model = await VideoBERT.create(config, { seed: 0 })
  const batch = randomBatch(config, { batchSize: 32, seed: 3 })
  const L = config.maxTextLen
  const answers = Uint32Array.from({ length: 32 }, (_, i) => batch.textIds[i * L]!)
  for (let i = 0; i < 32; i++) batch.textIds[i * L] = config.maskTokenId
  const time = async (f: () => Promise<Float32Array>): Promise<{ ms: number; out: Float32Array }> => {
    const times: number[] = []
    let out: Float32Array = new Float32Array(0)
    for (let i = 0; i < 8; i++) {
      const t0 = performance.now()
      out = await f()
      if (i >= 2) times.push(performance.now() - t0)
    }
    times.sort((a, b) => a - b)
    return { ms: times[Math.floor(times.length / 2)]!, out }
  }
  const full = await time(async () => {
    const preds = await model.predictMasked(batch, { topK: vocabSize })
    return Float32Array.from(preds, (p, m) => Math.log(p.probs[p.ids.indexOf(answers[m]!)]!))
  })
  const direct = await time(() => model.maskLogProbs(batch, answers))
  const diff = Math.max(...direct.out.map((v, i) => Math.abs(v - full.out[i]!)))
  rows.push(`| ${vocabSize} | ${(full.ms / 32).toFixed(2)} ms | ${(direct.ms / 32).toFixed(2)} ms | ${(full.ms / direct.ms).toFixed(1)}× | ${diff.toExponential(1)} |`)
  console.log(rows.at(-1))
}
/** A BERT-style WordPiece `tokenizer.json` with `size` pieces: the five specials, then `w5`, `w6`, …. */
function syntheticTokenizer(size: number): TextTokenizer {
  const vocab: Record<string, number> = {}
  ;['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'].forEach((t, i) => (vocab[t] = i))
  for (let i = 5; i < size; i++) vocab[`w${i}`] = i
  const json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [],
    normalizer: null,
    pre_tokenizer: { type: 'Whitespace' },
    post_processor: null,
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
  }
  const dir = join(dataDir, `tokenizer-${size}`)
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(json))
  return TextTokenizer.load(join(dir, 'tokenizer.json'))
}

const captionRows: string[] = []
for (const vocabSize of [30_522, 69]) {
  const config = { ...presets.small, vocabSize }
  const model = await VideoBERT.create(config, { seed: 0 })
  const tokenizer = syntheticTokenizer(vocabSize)
  const clips = 8
  const batch = randomBatch(config, { batchSize: clips, seed: 5 })
  const T = config.maxSegments
  const per = batch.videoFeatures!.length / clips
  const videos = Array.from({ length: clips }, (_, i) => ({ features: batch.videoFeatures!.slice(i * per, (i + 1) * per), mask: batch.videoMask!.slice(i * T, (i + 1) * T) }))
  // Time spent inside the native calls, measured around the model's own method.
  let nativeMs = 0
  const predict = model.predictMasked.bind(model)
  model.predictMasked = async (b, o) => {
    const t0 = performance.now()
    try {
      return await predict(b, o)
    } finally {
      nativeMs += performance.now() - t0
    }
  }
  const context: InferenceContext = { model, tokenizer, featureNorm: null, videoTokenizer: null, classes: null, prompt: null }
  for (const strategy of ['greedy', 'beam'] as const) {
    const runs: { ms: number; native: number }[] = []
    for (let i = 0; i < 4; i++) {
      nativeMs = 0
      const t0 = performance.now()
      const caps = await captionVideos(context, videos, { strategy })
      const ms = performance.now() - t0
      if (caps.length !== clips) throw new Error(`expected ${clips} captions, got ${caps.length}`)
      if (i >= 1) runs.push({ ms, native: nativeMs })
    }
    runs.sort((a, b) => a.ms - b.ms)
    const m = runs[Math.floor(runs.length / 2)]!
    captionRows.push(`| ${vocabSize} | ${strategy}${strategy === 'beam' ? ' (4)' : ''} | ${(m.ms / clips).toFixed(1)} ms | ${(clips / (m.ms / 1000)).toFixed(1)} | ${((100 * m.native) / m.ms).toFixed(0)} % |`)
    console.log(captionRows.at(-1))
  }
}

const table = [
  '<!-- inference:begin -->',
  `The likelihood scorer's call, per masked caption token (batch of 32, \`small\` preset, median of 6; ${machine()}; \`npm run bench\`):`,
  '',
  '| vocabulary | predictMasked(topK = V) + lookup (before) | maskLogProbs (now) | speed-up | max abs difference of the log-probabilities |',
  '|---|---|---|---|---|',
  ...rows,
  '',
  `Caption decoding per clip (\`captionVideos\` defaults: lengths 3–10 decoded side by side, \`small\` preset, random weights, 8 clips per call, median of 3 after 1; ${machine()}):`,
  '',
  '| vocabulary | strategy | per clip | clips/s | time inside the native `predictMasked` calls |',
  '|---|---|---|---|---|',
  ...captionRows,
  '<!-- inference:end -->',
].join('\n')
const resultsPath = fileURLToPath(new URL('../../benches/RESULTS.md', import.meta.url))
const results = readFileSync(resultsPath, 'utf8')
const marked = /<!-- inference:begin -->[\s\S]*<!-- inference:end -->/
writeFileSync(resultsPath, marked.test(results) ? results.replace(marked, table) : `${results.trimEnd()}\n\n### Inference (issue 13)\n\n${table}\n`)
console.log(table)
