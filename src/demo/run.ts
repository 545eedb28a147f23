/**
 * `videobert demo`: the whole pipeline on a synthetic captioned set — make the clips (rendered here,
 * encoded by the addon's FFmpeg), train the vocabulary, tokenize with the builtin extractor, pre-train, then evaluate on the held-out clips:
 * text→video retrieval (R@1/5/10 vs chance), fill-in-the-blank and captions per attribute (vs
 * chance); optionally the label-efficiency experiment (fine-tuning with 10 % of the labels).
 */
import { mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'

import { resolveConfig, type VideoBertConfig } from '../config.js'
import { VideoTextDataset } from '../data/dataset.js'
import { fillInTheBlank, type BlankMetrics } from '../eval/fill-in-the-blank.js'
import { textToVideoRetrieval, type RetrievalMetrics } from '../eval/retrieval.js'
import { evaluateCaptions, type CaptionEvaluation } from '../eval/captioning.js'
import { labelEfficiency, type LabelEfficiencyResult } from './label-efficiency.js'
import { demoCaptionScores, demoFineTunedCaptions, type DemoCaptionScores, type DemoFineTunedCaptions } from './caption-scores.js'
import { demoQuestionAnswering, type DemoQAResult } from './question-answering.js'
import { VideoBERT, type Device } from '../model.js'
import { assignCodebookToShards, fitCodebookOnShards } from '../codebook.js'
import { TextTokenizer, trainVocabulary } from '../vocab.js'
import { TokenShards } from '../shards.js'
import { VideoTokenizer, type TokenizeOptions } from '../video-tokenizer.js'
import { PRESET_TRAINING, PRETRAIN_DEFAULTS } from '../training/pretrain.js'
import { Trainer, type FitResult } from '../training/trainer.js'
import { ATTRIBUTE_WORDS, DEMO_PROMPTS, writeSyntheticSet } from './synthetic.js'

export interface DemoOptions {
  /** Working directory: clips, manifests, vocabulary, shards and the run (checkpoints, metrics). */
  out: string
  /** The 1-minute version (fewer training clips and steps), used by the tests. @default false */
  quick?: boolean
  /** Optimizer steps. @default 4500 (quick: 800) */
  steps?: number
  /** Peak learning rate. @default the tiny preset's (PRESET_TRAINING) */
  lr?: number
  /** Samples per step. @default the tiny preset's (PRESET_TRAINING) */
  batchSize?: number
  /**
   * What the model reads of each segment: `'features'` (the builtin region features, continuous,
   * `l2` video loss) or `'visual_words'` (the VideoBERT paper's set-up: a hierarchical k-means
   * codebook fitted on the training segments, one word per segment, a softmax over the words as the
   * video loss). @default 'features'
   */
  videoInput?: 'features' | 'visual_words'
  /** Seeds the clips, the split, initialisation and masking. @default 0 */
  seed?: number
  /**
   * A pretrained image network's weights file (what `tokenize --weights` takes: MobileNetV2,
   * EfficientNet-Lite0, ResNet, CLIP; docs/backbones.md): the clips are tokenized with it instead
   * of the builtin extractor. @default none (the builtin extractor)
   */
  weights?: string
  /** Threads for tensor math. @default physical cores */
  threads?: number
  /** Where the model computes: `'cpu'`, `'cuda'` or `'cuda:N'` (`CreateOptions.device`). @default 'cpu' */
  device?: Device
  signal?: AbortSignal
  /** Stage messages (one line each). */
  log?: (line: string) => void
  /** Draw the Trainer's progress line on stderr. @default true */
  progress?: boolean
  /**
   * Also run the label-efficiency experiment: fine-tune direction and shape classifiers with 10 % of
   * the training labels from the checkpoint and from scratch, 3 seeds each (~1.5 min). @default false
   */
  labelEfficiency?: boolean
  /**
   * Also run the downstream tasks on the pre-trained model: captions of the test clips scored with
   * BLEU-4 / METEOR / ROUGE-L / CIDEr-D — zero-shot, the nearest training clip's caption, and a caption decoder
   * fine-tuned from the checkpoint and from scratch (`finetuneCaptioner`); and open-answer question
   * answering ("what colour", "what shape", "which way") fine-tuned from the checkpoint and from
   * scratch, 3 seeds each, scored on the test clips per question type. @default false
   */
  downstream?: boolean
}

export interface DemoResult {
  clips: { train: number; test: number }
  videoInput: 'features' | 'visual_words'
  /** The extractor of the clips' features, as the shards record it (`builtin`, `backbone:<arch>:<hash>`). */
  extractor: string
  /** The visual-word codebook (null for `features`). */
  codebook: { words: number; fittedOn: number } | null
  config: VideoBertConfig
  numParameters: number
  train: { steps: number; stopped: FitResult['stopped']; seconds: number; stepsPerSecond: number; dataWaitFraction: number; validation: FitResult['lastValidation'] }
  /**
   * Text→video retrieval among the test clips (each test caption names exactly one clip), ranked by
   * the caption's likelihood given the clip (MLM head), by the video-text matching head, by the word
   * profile (one forward pass per clip), and by the word profile with each query's top
   * `RETRIEVAL_DEFAULTS.rerankTop` re-scored by likelihood (the default of `retrieve`).
   */
  retrieval: { likelihood: RetrievalMetrics; match: RetrievalMetrics; words: RetrievalMetrics; wordsThenLikelihood: RetrievalMetrics }
  /** Greedy captions of the test clips: per attribute, how often the caption names it right. */
  captions: Omit<CaptionEvaluation, 'captions'>
  /** The label-efficiency experiment (null unless asked for). */
  labelEfficiency: LabelEfficiencyResult | null
  /** The downstream tasks (null unless asked for): COCO metrics of the zero-shot captions, a retrieval baseline and the fine-tuned caption decoder; question answering. */
  downstream: { captions: DemoCaptionScores; fineTunedCaptions: DemoFineTunedCaptions; qa: DemoQAResult } | null
  /** Fill-in-the-blank on the test captions, per attribute. */
  fillInTheBlank: Record<keyof typeof ATTRIBUTE_WORDS, BlankMetrics>
  seconds: { data: number; tokenize: number; train: number; evaluate: number; labelEfficiency: number; downstream: number; total: number }
  out: string
}

/** What the demo's options are when left out (the CLI's help shows these). */
export const DEMO_DEFAULTS = { out: 'videobert-demo', steps: 4500, quickSteps: 800, lr: PRESET_TRAINING.tiny.lr, batchSize: PRESET_TRAINING.tiny.batchSize, seed: 0 }

/**
 * The demo's codebook: 12 children per node as in the paper, 2 levels (144 words) — the paper's 4
 * levels (20 736 words) would give most words no training segment at all on 1 152 segments — fitted
 * on standardised features (the library's default). Chosen on the validation split (dev) of seed 0,
 * 2026-12-07: raw features val loss 4.59 / val R@1 0.034; standardised 3.01 / 0.207; standardised
 * with 17² = 289 words 8.32 / 0.138; standardised with weight decay 0.1 2.78 / 0.138 (docs/demo.md).
 */
export const DEMO_CODEBOOK = { branching: 12, depth: 2, standardize: true } as const

/** Tokenizer settings of the demo: 10 fps, 8-frame segments (0.8 s), 2×2 regions, builtin features. */
export const DEMO_TOKENIZE = { fps: 10, framesPerSegment: 8, grid: 2, extractor: 'builtin' } as const

/** The demo's tokenizer options: `DEMO_TOKENIZE`, or the same with a pretrained network's weights. */
function demoTokenize(weights: string | undefined): TokenizeOptions {
  return weights === undefined ? DEMO_TOKENIZE : { ...DEMO_TOKENIZE, extractor: 'backbone', backboneWeights: weights }
}

export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const { out, quick = false, seed = DEMO_DEFAULTS.seed, signal } = options
  const steps = options.steps ?? (quick ? DEMO_DEFAULTS.quickSteps : DEMO_DEFAULTS.steps)
  const log = options.log ?? (() => {})
  const t0 = performance.now()
  mkdirSync(out, { recursive: true })

  log(`1/5 rendering and encoding the synthetic clips (MPEG-4, in-process) → ${join(out, 'data')}`)
  const set = await writeSyntheticSet(join(out, 'data'), { trainPerCombination: quick ? 1 : 3, seed, signal })
  const counts = { train: set.clips.filter((c) => c.split === 'train').length, test: set.clips.filter((c) => c.split === 'test').length }
  const tData = since(t0)

  log(`2/5 vocabulary and tokenization (${counts.train} train + ${counts.test} test clips)`)
  const t1 = performance.now()
  const tokens = await tokenizeDemo(out, set.manifests, options.videoInput ?? 'features', seed, log, signal, options.weights)
  const tTokenize = since(t1)

  const config = demoConfig(tokens)
  const model = await VideoBERT.create(config, { seed, numThreads: options.threads, device: options.device })
  log(`3/5 pre-training the tiny preset (${model.numParameters.toLocaleString()} parameters) for ${steps} steps`)
  const t2 = performance.now()
  const { data, fit } = await pretrainDemo(out, model, tokens, steps, options)
  const tTrain = since(t2)

  log('4/5 evaluating on the held-out clips')
  const t3 = performance.now()
  const evaluation = await evaluateDemo(fit.model, tokens, data, seed)
  const tEval = since(t3)

  const checkpoint = join(out, 'run', 'checkpoints', `step-${fit.state.step}`)
  const tLabel = performance.now()
  let efficiency: LabelEfficiencyResult | null = null
  if (options.labelEfficiency) {
    log('5/5 label efficiency: fine-tuning with 10 % of the labels, pre-trained vs from scratch')
    const { threads, device } = options
    efficiency = await labelEfficiency({ checkpoint, train: tokens.shardDirs.train, test: tokens.shardDirs.test, out: join(out, 'run', 'label-efficiency'), prompts: DEMO_PROMPTS, threads, device, log, signal })
  }
  const tLabelEfficiency = since(tLabel)

  const t4 = performance.now()
  const downstream = options.downstream ? await downstreamDemo(out, checkpoint, tokens, evaluation, options, log) : null

  return {
    clips: counts,
    videoInput: tokens.videoInput,
    extractor: tokens.trainShards.params.extractor,
    codebook: tokens.codebook,
    config,
    numParameters: model.numParameters,
    train: { steps: fit.state.step, stopped: fit.stopped, seconds: tTrain, stepsPerSecond: fit.state.step / tTrain, dataWaitFraction: fit.dataWaitFraction, validation: fit.lastValidation },
    retrieval: evaluation.retrieval,
    fillInTheBlank: evaluation.blanks,
    captions: evaluation.captions,
    labelEfficiency: efficiency,
    downstream,
    seconds: { data: tData, tokenize: tTokenize, train: tTrain, evaluate: tEval, labelEfficiency: tLabelEfficiency, downstream: since(t4), total: since(t0) },
    out,
  }
}

const since = (t: number) => (performance.now() - t) / 1000

/** What step 2 leaves: the vocabulary, the shards of both splits and, for visual words, the codebook. */
interface DemoTokens {
  tokenizer: TextTokenizer
  tokenizerPath: string
  shardDirs: { train: string; test: string }
  trainShards: TokenShards
  testShards: TokenShards
  videoInput: DemoResult['videoInput']
  codebook: DemoResult['codebook']
  /** How the clips were tokenized (new files at inference the same way). */
  videoTokenizer: Readonly<TokenizeOptions>
}

/** Step 2: the WordPiece vocabulary from the training captions, both splits tokenized afresh, visual words when asked for. */
async function tokenizeDemo(out: string, manifests: { train: string; test: string }, videoInput: DemoResult['videoInput'], seed: number, log: (line: string) => void, signal?: AbortSignal, weights?: string): Promise<DemoTokens> {
  const tokenizerPath = join(out, 'tokenizer.json')
  await trainVocabulary(manifests.train, tokenizerPath, { vocabSize: 256, minFrequency: 1 })
  const tokenizer = TextTokenizer.load(tokenizerPath)
  const videoTokenizer = new VideoTokenizer(demoTokenize(weights))
  const shardDirs = { train: join(out, 'shards', 'train'), test: join(out, 'shards', 'test') }
  // Always tokenized afresh (2 s): shards left by an earlier run (say --quick) hold other clips.
  rmSync(join(out, 'shards'), { recursive: true, force: true })
  for (const split of ['train', 'test'] as const) {
    const s = await videoTokenizer.tokenizeManifest(manifests[split], { out: shardDirs[split], signal })
    if (s.failures.length > 0) throw new Error(`demo: ${s.failures.length} clips failed to tokenize, e.g. ${s.failures[0]!.path}: ${s.failures[0]!.message}`)
  }
  let codebook: DemoResult['codebook'] = null
  if (videoInput === 'visual_words') {
    const path = join(out, 'codebook.safetensors')
    const info = await fitCodebookOnShards(shardDirs.train, path, { ...DEMO_CODEBOOK, seed })
    for (const split of ['train', 'test'] as const) await assignCodebookToShards(shardDirs[split], path)
    codebook = { words: info.words, fittedOn: info.fittedOn }
    log(`    visual words: a ${DEMO_CODEBOOK.branching}^${DEMO_CODEBOOK.depth} = ${info.words}-word codebook fitted on ${info.fittedOn} training segments`)
  }
  return { tokenizer, tokenizerPath, shardDirs, trainShards: await TokenShards.open(shardDirs.train), testShards: await TokenShards.open(shardDirs.test), videoInput, codebook, videoTokenizer: videoTokenizer.options }
}

/**
 * The library's defaults (the tiny preset, its learning rate and batch size); only the shapes come
 * from the data: every clip is 3.2 s = 4 segments of 0.8 s (one window each), captions are short.
 */
function demoConfig(t: DemoTokens): VideoBertConfig {
  return resolveConfig({
    preset: 'tiny',
    vocabSize: t.tokenizer.vocabSize,
    featureDim: t.trainShards.params.featureDim,
    numRegions: t.trainShards.numRegions,
    maxSegments: 4,
    maxTextLen: 12,
    // The paper's set-up: one visual word per segment, predicted with a softmax over the codebook.
    ...(t.codebook && { videoInput: 'visual_words', videoLoss: 'ce', numVisualWords: t.codebook.words, numRegions: 0 }),
  })
}

/** Step 3: pre-training with the Trainer in the demo's own (always fresh) run directory. */
async function pretrainDemo(out: string, model: VideoBERT, t: DemoTokens, steps: number, options: DemoOptions): Promise<{ data: VideoTextDataset; fit: FitResult }> {
  const seed = options.seed ?? DEMO_DEFAULTS.seed
  const data = new VideoTextDataset(t.trainShards, model.config, t.tokenizer, { validationFraction: 0.1, seed })
  rmSync(join(out, 'run'), { recursive: true, force: true })
  const trainer = new Trainer({
    out: join(out, 'run'),
    steps,
    batchSize: options.batchSize ?? DEMO_DEFAULTS.batchSize,
    schedule: { lr: options.lr ?? DEMO_DEFAULTS.lr, warmupSteps: Math.round(steps * PRETRAIN_DEFAULTS.warmupFraction), decay: PRETRAIN_DEFAULTS.decay },
    evalEvery: Math.max(1, Math.round(steps / 5)),
    checkpointEvery: 0,
    keepLast: 1,
    checkpointFiles: { 'tokenizer.json': t.tokenizerPath },
    signal: options.signal,
    progress: options.progress ?? true,
  })
  return { data, fit: await trainer.fit(model, data) }
}

/** Step 4 on the held-out clips, standardised with the training statistics as inference on a checkpoint would be. */
async function evaluateDemo(model: VideoBERT, t: DemoTokens, data: VideoTextDataset, seed: number) {
  const test = new VideoTextDataset(t.testShards, model.config, t.tokenizer, { validationFraction: 1, seed, featureNorm: data.featureNorm ?? 'none' })
  const retrieval = {
    likelihood: await textToVideoRetrieval(model, test, 'validation', { scorer: 'likelihood', rerank: 'none' }),
    match: await textToVideoRetrieval(model, test, 'validation', { scorer: 'match', rerank: 'none' }),
    words: await textToVideoRetrieval(model, test, 'validation', { scorer: 'words', rerank: 'none' }),
    wordsThenLikelihood: await textToVideoRetrieval(model, test, 'validation', { scorer: 'words', rerank: 'likelihood' }),
  }
  const pretrained = { model, tokenizer: t.tokenizer, featureNorm: data.featureNorm, videoTokenizer: t.videoTokenizer, classes: null, prompt: null }
  const { captions: written, ...captions } = await evaluateCaptions(pretrained, test, 'validation', ATTRIBUTE_WORDS, { strategy: 'greedy' })
  const blanks = (await fillInTheBlank(model, test, 'validation', ATTRIBUTE_WORDS)) as DemoResult['fillInTheBlank']
  return { retrieval, pretrained, written, captions, blanks }
}

/** `--downstream`: captions (zero-shot, nearest training caption, fine-tuned decoders) and question answering. */
async function downstreamDemo(out: string, checkpoint: string, t: DemoTokens, e: Awaited<ReturnType<typeof evaluateDemo>>, options: DemoOptions, log: (line: string) => void): Promise<DemoResult['downstream']> {
  const { threads, device, signal } = options
  log('downstream: captions (zero-shot, nearest training caption, a caption decoder fine-tuned from the checkpoint and from scratch); question answering fine-tuned from the checkpoint and from scratch (3 seeds each)')
  return {
    captions: await demoCaptionScores(e.pretrained, t.trainShards, t.testShards, e.written.map((c) => c.text)),
    fineTunedCaptions: await demoFineTunedCaptions(e.pretrained, t.trainShards, t.testShards, { checkpoint, out: join(out, 'run', 'captioning'), steps: options.quick ? 300 : undefined, threads, device, log, signal }),
    qa: await demoQuestionAnswering({ checkpoint, train: t.shardDirs.train, test: t.shardDirs.test, out: join(out, 'run', 'question-answering'), threads, device, log, signal }),
  }
}
