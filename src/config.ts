/**
 * Typed model configuration. The TS API is camelCase; `config.json` on disk is snake_case — the
 * conversion happens here and nowhere else. Presets come from the native core (one source of truth).
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

import { VideoBertError } from './errors.js'
import { CONFIG_FILE } from './files.js'
import { guardSync, normalizeConfig, presetConfig, presetNames, presetTraining, type PresetName } from './native.js'

export type { PresetName }
/** Every preset name, smallest first (the native core's list). */
export const PRESET_NAMES: readonly PresetName[] = Object.freeze(presetNames() as PresetName[])

/**
 * Each preset's default pre-training settings, peak learning rate and batch size, defined beside
 * the presets themselves in the native core (`PresetTraining` in crates/videobert-core/src/config.rs,
 * where the reasons for the values are).
 */
export const PRESET_TRAINING: Readonly<Record<PresetName, Readonly<{ lr: number; batchSize: number }>>> = Object.freeze(
  Object.fromEntries(PRESET_NAMES.map((name) => [name, Object.freeze(presetTraining(name))])) as Record<PresetName, { lr: number; batchSize: number }>,
)

/**
 * A complete model configuration: the architecture, the input layout, the pre-training losses and
 * the special token ids. camelCase here; a checkpoint's `config.json` holds the same fields in
 * snake_case. `resolveConfig` builds one from a preset and validates it.
 */
export interface VideoBertConfig {
  /** Text vocabulary size (WordPiece). */
  vocabSize: number
  /** Width H of every token. */
  hiddenSize: number
  /** Number of transformer blocks. */
  numHiddenLayers: number
  /** Attention heads; must divide `hiddenSize`. */
  numAttentionHeads: number
  /** Width of the GELU feed-forward layer. */
  intermediateSize: number
  /** L: caption tokens per sample, without [CLS]/[SEP]. */
  maxTextLen: number
  /** T: segments (video tokens) per sample. */
  maxSegments: number
  /** R: region tokens per segment (a g×g grid); 0 = one token per segment (original VideoBERT). */
  numRegions: number
  /** F: size of a region / segment feature vector. */
  featureDim: number
  /** `features` (continuous, default) or `visual_words` (k-means ids, the original VideoBERT). */
  videoInput: 'features' | 'visual_words'
  /** Codebook size when `videoInput = 'visual_words'`. @default 20736 */
  numVisualWords: number
  /** Masked video modelling objective: `l2` regression, `ce` over visual words, `nce` contrastive. */
  videoLoss: 'l2' | 'ce' | 'nce'
  /** Temperature of the `nce` loss. @default 0.1 */
  nceTemperature: number
  /** Weight of the masked-language-model loss. @default 1 */
  mlmWeight: number
  /** Weight of the masked-video loss. @default 1 */
  videoWeight: number
  /** Weight of the video-text matching loss. @default 1 */
  vtmWeight: number
  /** Fraction of caption tokens masked (80 % [MASK], 10 % random, 10 % kept). @default 0.15 */
  textMaskProb: number
  /**
   * At least this many caption tokens are masked (all of them when the caption is shorter): 15 % of
   * a five-word caption would round to one token. @default 2
   */
  textMaskMin: number
  /** Fraction of segments masked. @default 0.15 */
  videoMaskProb: number
  /** @default 1e-12 */
  layerNormEps: number
  /** Std of the normal weight initialisation. @default 0.02 */
  initializerRange: number
  /** @default 0 */
  padTokenId: number
  /** @default 2 */
  clsTokenId: number
  /** @default 3 */
  sepTokenId: number
  /** @default 4 */
  maskTokenId: number
  /** Classes of the classification head (`heads.classifier`); 0 = none (pre-training). @default 0 */
  numLabels: number
  /**
   * What the classification head reads: the `[CLS]` output, the mean of the segment outputs, the
   * mean of the text outputs (for a prompt of `[MASK]` tokens as the text), or `'mask'`: the
   * masked-language-model head at the prompt's last `[MASK]`, its logits of `classifierWords` (no
   * `heads.classifier`). @default 'cls'
   */
  classifierPooling: 'cls' | 'segments' | 'text' | 'mask'
  /** With `classifierPooling: 'mask'`: the word-piece id of each class, in class order; empty otherwise. @default [] */
  classifierWords: number[]
  /**
   * Layers of the caption decoder (`decoder.*`: causal self-attention, cross-attention to the
   * encoder's outputs, word embeddings tied to the encoder's); 0 = none. A model with a decoder
   * trains the captioning loss on batches with `captionIds` (`VideoBERT.forCaptioning`). @default 0
   */
  decoderLayers: number
  /** Label smoothing ε of the captioning loss (1 − ε on the reference word piece, ε spread over the vocabulary). @default 0.1 */
  labelSmoothing: number
}

const toSnake = (k: string) => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)
const toCamel = (k: string) => k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())

/** The one snake_case → camelCase conversion of on-disk JSON objects (top-level keys). */
export function camelKeys(raw: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(raw).map(([k, v]) => [toCamel(k), v]))
}

/** snake_case JSON (as in `config.json`) → typed camelCase config. */
export function configFromJson(json: string): VideoBertConfig {
  return camelKeys(JSON.parse(json) as Record<string, unknown>) as unknown as VideoBertConfig
}

/** Typed config → snake_case JSON. */
export function configToJson(config: Partial<VideoBertConfig>): string {
  return JSON.stringify(Object.fromEntries(Object.entries(config).map(([k, v]) => [toSnake(k), v])))
}

function loadPresets(): Readonly<Record<PresetName, Readonly<VideoBertConfig>>> {
  const entries = PRESET_NAMES.map((name) => [name, Object.freeze(configFromJson(presetConfig(name)))] as const)
  return Object.freeze(Object.fromEntries(entries) as Record<PresetName, Readonly<VideoBertConfig>>)
}

/** The built-in presets: `tiny` (tests), `small` (CPU), `base` and `large` (GPU). */
export const presets = loadPresets()

const FIELDS = new Set(Object.keys(presets.small))

/** A preset name, or a partial config on top of a preset (`preset`, default `small`). */
export type ConfigInput = PresetName | (Partial<VideoBertConfig> & { preset?: PresetName })

/** Resolve a preset / partial config into a complete, validated config. Errors name the field. */
export function resolveConfig(input: ConfigInput = 'small'): VideoBertConfig {
  const { preset = 'small', ...overrides } = typeof input === 'string' ? { preset: input } : input
  if (!(PRESET_NAMES as readonly string[]).includes(preset)) {
    throw new VideoBertError('UnknownPreset', `unknown preset \`${String(preset)}\` (expected one of: ${PRESET_NAMES.join(', ')})`)
  }
  for (const [key, value] of Object.entries(overrides)) {
    if (!FIELDS.has(key)) {
      throw new VideoBertError('InvalidConfig', `invalid config field \`${key}\`: unknown field`)
    }
    if (value === undefined) delete (overrides as Record<string, unknown>)[key]
  }
  const merged = { ...presets[preset], ...overrides }
  try {
    return configFromJson(guardSync(() => normalizeConfig(configToJson(merged))))
  } catch (err) {
    // The core names snake_case fields (as in config.json); name them as the caller wrote them.
    if (err instanceof VideoBertError && err.code === 'InvalidConfig') {
      throw new VideoBertError(err.code, err.message.replace(/`([a-z0-9_]+)`/, (_, f: string) => `\`${toCamel(f)}\``), {
        cause: err,
      })
    }
    throw err
  }
}

/** A checkpoint's config (`config.json`, validated) without loading its weights. */
export function checkpointConfig(dir: string): VideoBertConfig {
  const path = join(dir, CONFIG_FILE)
  try {
    return configFromJson(guardSync(() => normalizeConfig(readFileSync(path, 'utf8'))))
  } catch (err) {
    throw new VideoBertError('Checkpoint', `${path}: ${(err as Error).message}`, { cause: err })
  }
}
