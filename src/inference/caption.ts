/**
 * Captioning. A checkpoint fine-tuned for captioning (`videobert finetune --task caption`) has a
 * caption decoder, which writes left to right (greedy or beam search, in the native core:
 * `VideoBERT.generateCaptions`). Any other checkpoint captions zero-shot by iterative masked
 * decoding (the masked-language-model head writes the text): start
 * from n `[MASK]` tokens next to the video; at each step predict every remaining blank and fill the
 * one the model is surest of (greedy), the best extensions of several partial captions (beam), or a
 * sample from the top-k at the surest blank (top-k). Every length in `[minLength, maxLength]` is
 * decoded side by side and the caption with the best mean log-probability per word piece wins.
 * Special tokens are never written; with `noRepeat` no word piece is written twice.
 */
import type { Batch } from '../batch.js'
import { VideoBertError } from '../errors.js'
import { rng } from '../random.js'
import type { InferenceContext } from './context.js'

/** One video as the model reads it: `[T, R, F]` standardised features and the `[T]` segment mask. */
export interface VideoFeatures {
  features: Float32Array
  mask: Uint8Array
  /** `[T]` visual-word ids, for a model that reads them. */
  words?: Uint32Array
}

/**
 * What the caption options are when left out. Masked decoding: `maxLength` min(maxTextLen, 10); the
 * caption decoder: `minLength` 1 and `maxLength` maxTextLen (`SUPERVISED_DEFAULTS`).
 */
export const CAPTION_DEFAULTS = { decoder: 'auto', strategy: 'greedy', beamSize: 4, topK: 5, temperature: 1, seed: 0, minLength: 3, maxLength: 10, noRepeat: true, lengthPenalty: 1, noRepeatNgram: 3, batchSize: 8 } as const
/** The caption decoder's defaults where they differ from `CAPTION_DEFAULTS` (its `maxLength` is maxTextLen). */
export const SUPERVISED_DEFAULTS = { minLength: 1 } as const

/** How `captionVideos` writes: which captioner, the search strategy and its parameters, the length bounds and the batch size. */
export interface CaptionOptions {
  /**
   * Which captioner writes: the fine-tuned caption decoder (`'supervised'`; an error for a checkpoint
   * without one), masked decoding with the MLM head (`'masked'`), or the decoder when the checkpoint
   * has one (`'auto'`). @default 'auto'
   */
  decoder?: 'auto' | 'masked' | 'supervised'
  /** @default 'greedy' */
  strategy?: 'greedy' | 'beam' | 'top-k'
  /** Partial captions kept per length (beam). @default 4 */
  beamSize?: number
  /** Words sampled from (top-k). @default 5 */
  topK?: number
  /** Softens (> 1) or sharpens (< 1) the top-k distribution. @default 1 */
  temperature?: number
  /** Seed of top-k sampling. @default 0 */
  seed?: number
  /** Shortest caption, in word pieces. @default 3 (masked), 1 (decoder) */
  minLength?: number
  /** Longest caption, in word pieces. @default min(maxTextLen, 10) (masked), maxTextLen (decoder) */
  maxLength?: number
  /** Never write a word piece twice (masked decoding). @default true */
  noRepeat?: boolean
  /** The decoder's beam search ranks finished captions by log P / (length + 1)^α. @default 1 */
  lengthPenalty?: number
  /** The decoder never repeats an n-gram of this size (0 = off). @default 3 */
  noRepeatNgram?: number
  /** Videos decoded per native call (each carries one partial caption per length and beam). @default 8 */
  batchSize?: number
}

/** One written caption: its text, its word-piece ids, and the decoding score. */
export interface Caption {
  text: string
  ids: number[]
  /** The decoding score: masked decoding's mean log-probability per word piece when it was written;
   * the decoder's log P(caption, [SEP]) / (length + 1)^lengthPenalty. */
  score: number
}

interface Hypothesis {
  video: number
  ids: Uint32Array
  logp: number
  filled: number
}

function checkOptions(o: CaptionOptions, maxTextLen: number, supervised: boolean): Required<CaptionOptions> {
  const r: Required<CaptionOptions> = {
    decoder: supervised ? 'supervised' : 'masked',
    strategy: o.strategy ?? CAPTION_DEFAULTS.strategy,
    beamSize: o.beamSize ?? CAPTION_DEFAULTS.beamSize,
    topK: o.topK ?? CAPTION_DEFAULTS.topK,
    temperature: o.temperature ?? CAPTION_DEFAULTS.temperature,
    seed: o.seed ?? CAPTION_DEFAULTS.seed,
    minLength: o.minLength ?? (supervised ? SUPERVISED_DEFAULTS.minLength : CAPTION_DEFAULTS.minLength),
    maxLength: o.maxLength ?? (supervised ? maxTextLen : Math.min(maxTextLen, CAPTION_DEFAULTS.maxLength)),
    noRepeat: o.noRepeat ?? CAPTION_DEFAULTS.noRepeat,
    lengthPenalty: o.lengthPenalty ?? CAPTION_DEFAULTS.lengthPenalty,
    noRepeatNgram: o.noRepeatNgram ?? CAPTION_DEFAULTS.noRepeatNgram,
    batchSize: o.batchSize ?? CAPTION_DEFAULTS.batchSize,
  }
  const positive = (k: keyof CaptionOptions, v: number) => {
    if (!Number.isInteger(v) || v <= 0) throw new VideoBertError('InvalidInput', `invalid input \`${k}\`: must be a positive integer, got ${v}`)
  }
  if (!['greedy', 'beam', 'top-k'].includes(r.strategy)) throw new VideoBertError('InvalidInput', `invalid input \`strategy\`: greedy, beam or top-k, got '${r.strategy}'`)
  for (const k of ['beamSize', 'topK', 'minLength', 'maxLength', 'batchSize'] as const) positive(k, r[k])
  if (r.minLength > r.maxLength || r.maxLength > maxTextLen) {
    throw new VideoBertError('InvalidInput', `invalid input \`maxLength\`: need minLength (${r.minLength}) <= maxLength (${r.maxLength}) <= maxTextLen (${maxTextLen})`)
  }
  if (!(r.temperature > 0 && Number.isFinite(r.temperature))) throw new VideoBertError('InvalidInput', `invalid input \`temperature\`: must be > 0, got ${r.temperature}`)
  if (!(r.lengthPenalty >= 0 && r.lengthPenalty <= 10)) throw new VideoBertError('InvalidInput', `invalid input \`lengthPenalty\`: must be in [0, 10], got ${r.lengthPenalty}`)
  if (!Number.isInteger(r.noRepeatNgram) || r.noRepeatNgram < 0) throw new VideoBertError('InvalidInput', `invalid input \`noRepeatNgram\`: must be a non-negative integer, got ${r.noRepeatNgram}`)
  if (supervised && r.strategy === 'top-k') {
    throw new VideoBertError('InvalidInput', "invalid input `strategy`: the caption decoder searches greedy or beam; top-k sampling is masked decoding's (decoder: 'masked')")
  }
  return r
}

/** Whether `decoder` asks for the fine-tuned caption decoder of this model (a coded error when asked for one it lacks). */
function usesDecoder(p: InferenceContext, decoder: CaptionOptions['decoder'] = CAPTION_DEFAULTS.decoder): boolean {
  if (!['auto', 'masked', 'supervised'].includes(decoder)) throw new VideoBertError('InvalidInput', `invalid input \`decoder\`: auto, masked or supervised, got '${decoder}'`)
  const has = p.model.config.decoderLayers > 0
  if (decoder === 'supervised' && !has) {
    throw new VideoBertError('Checkpoint', 'the checkpoint has no caption decoder (decoderLayers = 0): supervised captions need one fine-tuned with `videobert finetune --task caption`; zero-shot captions use decoder: \'masked\'')
  }
  return decoder === 'auto' ? has : decoder === 'supervised'
}

/** The special and unknown word pieces a caption never holds. */
function bannedIds(p: InferenceContext): Set<number> {
  const cfg = p.model.config
  const banned = new Set([cfg.padTokenId, cfg.clsTokenId, cfg.sepTokenId, cfg.maskTokenId])
  for (const t of ['[UNK]', '[PAD]', '[CLS]', '[SEP]', '[MASK]']) {
    const id = p.tokenizer.tokenToId(t)
    if (id !== null) banned.add(id)
  }
  return banned
}

/** Captions for several videos (one per video, in order). */
export async function captionVideos(p: InferenceContext, videos: VideoFeatures[], options: CaptionOptions = {}): Promise<Caption[]> {
  const supervised = usesDecoder(p, options.decoder)
  const o = checkOptions(options, p.model.config.maxTextLen, supervised)
  const banned = bannedIds(p)
  const out: Caption[] = []
  for (let start = 0; start < videos.length; start += o.batchSize) {
    const group = videos.slice(start, start + o.batchSize)
    out.push(...(await (supervised ? decoderGroup(p, group, o, banned, start) : decodeGroup(p, group, o, banned, start))))
  }
  return out
}

/** The video rows of a group as one batch with empty texts. */
function videoBatch(p: InferenceContext, videos: VideoFeatures[], offset: number): Batch {
  const { maxTextLen: L, padTokenId, videoInput } = p.model.config
  const per = videos[0]!.features.length
  const T = videos[0]!.mask.length
  const batch: Batch = {
    batchSize: videos.length,
    textIds: new Uint32Array(videos.length * L).fill(padTokenId),
    videoFeatures: new Float32Array(videos.length * per),
    videoMask: new Uint8Array(videos.length * T),
  }
  if (videoInput === 'visual_words') batch.visualWordIds = new Uint32Array(videos.length * T)
  videos.forEach((v, b) => {
    batch.videoFeatures!.set(v.features, b * per)
    batch.videoMask!.set(v.mask, b * T)
    if (batch.visualWordIds) {
      if (!v.words) throw new VideoBertError('InvalidInput', `video ${b + offset} has no visual words; the model reads them (videoInput 'visual_words')`)
      batch.visualWordIds.set(v.words, b * T)
    }
  })
  return batch
}

/** The fine-tuned decoder's captions for a group of videos. */
async function decoderGroup(p: InferenceContext, videos: VideoFeatures[], o: Required<CaptionOptions>, banned: Set<number>, offset: number): Promise<Caption[]> {
  const { sepTokenId, padTokenId, clsTokenId, maskTokenId } = p.model.config
  const extra = [...banned].filter((id) => ![sepTokenId, padTokenId, clsTokenId, maskTokenId].includes(id))
  const out = await p.model.generateCaptions(videoBatch(p, videos, offset), {
    strategy: o.strategy as 'greedy' | 'beam',
    beamSize: o.beamSize,
    minLength: o.minLength,
    maxLength: o.maxLength,
    lengthPenalty: o.lengthPenalty,
    noRepeatNgram: o.noRepeatNgram,
    banned: extra,
  })
  return out.map((g) => ({ text: p.tokenizer.decode([...g.ids]), ids: [...g.ids], score: g.score }))
}

async function decodeGroup(p: InferenceContext, videos: VideoFeatures[], o: Required<CaptionOptions>, banned: Set<number>, offset: number): Promise<Caption[]> {
  const { maxTextLen: L, maskTokenId, padTokenId } = p.model.config
  const draw = rng((o.seed * 65537 + offset) >>> 0)
  const keep = o.strategy === 'beam' ? o.beamSize : 1
  // Hypotheses per (video, length); all decoded in one batch per step.
  let groups: Hypothesis[][] = []
  for (let v = 0; v < videos.length; v++) {
    for (let n = o.minLength; n <= o.maxLength; n++) {
      const ids = new Uint32Array(L).fill(padTokenId)
      ids.fill(maskTokenId, 0, n)
      groups.push([{ video: v, ids, logp: 0, filled: 0 }])
    }
  }
  const per = videos[0]!.features.length
  const T = videos[0]!.mask.length
  for (let step = 0; step < o.maxLength; step++) {
    const active = groups.flatMap((g, gi) => g.filter((h) => h.ids.includes(maskTokenId)).map((h) => ({ h, gi })))
    if (active.length === 0) break
    const batch: Batch = {
      batchSize: active.length,
      textIds: new Uint32Array(active.length * L),
      videoFeatures: new Float32Array(active.length * per),
      videoMask: new Uint8Array(active.length * T),
    }
    if (p.model.config.videoInput === 'visual_words') batch.visualWordIds = new Uint32Array(active.length * T)
    active.forEach(({ h }, b) => {
      const v = videos[h.video]!
      batch.textIds.set(h.ids, b * L)
      batch.videoFeatures!.set(v.features, b * per)
      batch.videoMask!.set(v.mask, b * T)
      if (batch.visualWordIds) {
        if (!v.words) throw new VideoBertError('InvalidInput', `video ${h.video + offset} has no visual words; the model reads them (videoInput 'visual_words')`)
        batch.visualWordIds.set(v.words, b * T)
      }
    })
    const topK = Math.min(p.model.config.vocabSize, banned.size + L + Math.max(o.beamSize, o.topK) + 2)
    const preds = await p.model.predictMasked(batch, { topK })
    // Allowed choices per hypothesis and blank, most probable first.
    const choices = active.map(() => [] as { position: number; id: number; prob: number }[][])
    for (const pr of preds) {
      const h = active[pr.sample]!.h
      const allowed: { position: number; id: number; prob: number }[] = []
      for (let i = 0; i < pr.ids.length; i++) {
        const id = pr.ids[i]!
        if (banned.has(id) || (o.noRepeat && h.ids.includes(id))) continue
        allowed.push({ position: pr.position, id, prob: pr.probs[i]! })
      }
      if (allowed.length > 0) choices[pr.sample]!.push(allowed)
    }
    const next: Hypothesis[][] = groups.map((g) => g.filter((h) => !h.ids.includes(maskTokenId)))
    active.forEach(({ h, gi }, b) => {
      const blanks = choices[b]!
      const fill = (position: number, id: number, prob: number): Hypothesis => {
        const ids = h.ids.slice()
        ids[position] = id
        return { video: h.video, ids, logp: h.logp + Math.log(Math.max(prob, 1e-30)), filled: h.filled + 1 }
      }
      if (blanks.length === 0) {
        // Nothing allowed is left in the top-k: the caption ends here (its remaining blanks dropped), penalised.
        next[gi]!.push({ ...h, ids: h.ids.map((id) => (id === maskTokenId ? padTokenId : id)), logp: h.logp - 30 })
        return
      }
      const surest = blanks.reduce((a, c) => (c[0]!.prob > a[0]!.prob ? c : a))
      if (o.strategy === 'greedy') {
        next[gi]!.push(fill(surest[0]!.position, surest[0]!.id, surest[0]!.prob))
      } else if (o.strategy === 'top-k') {
        const pool = surest.slice(0, o.topK)
        const w = pool.map((c) => Math.pow(c.prob, 1 / o.temperature))
        let u = draw() * w.reduce((a, x) => a + x, 0)
        let pick = pool.length - 1
        for (let i = 0; i < pool.length; i++) {
          u -= w[i]!
          if (u <= 0) {
            pick = i
            break
          }
        }
        next[gi]!.push(fill(pool[pick]!.position, pool[pick]!.id, pool[pick]!.prob))
      } else {
        for (const blank of blanks) for (const c of blank.slice(0, o.beamSize)) next[gi]!.push(fill(c.position, c.id, c.prob))
      }
    })
    // Keep the best `keep` distinct hypotheses per (video, length).
    groups = next.map((g) => {
      const seen = new Set<string>()
      return g
        .sort((a, b) => b.logp - a.logp)
        .filter((h) => {
          const key = h.ids.join(',')
          if (seen.has(key)) return false
          seen.add(key)
          return true
        })
        .slice(0, keep)
    })
  }
  return videos.map((_, v) => {
    let best: Hypothesis | null = null
    let bestScore = -Infinity
    for (const g of groups) {
      for (const h of g) {
        const score = h.logp / Math.max(1, h.filled)
        if (h.video === v && score > bestScore) {
          best = h
          bestScore = score
        }
      }
    }
    const ids = [...best!.ids].filter((id) => id !== padTokenId && id !== maskTokenId)
    return { text: p.tokenizer.decode(ids), ids, score: bestScore }
  })
}
