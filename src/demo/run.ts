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
import { VideoBERT } from '../model.js'
import { TextTokenizer, TokenShards, trainVocabulary } from '../shards.js'
import { VideoTokenizer } from '../tokenizer.js'
import { Trainer, type FitResult } from '../training/trainer.js'
import { ATTRIBUTE_WORDS, writeSyntheticSet } from './synthetic.js'

export interface DemoOptions {
  /** Working directory: clips, manifests, vocabulary, shards and the run (checkpoints, metrics). */
  out: string
  /** The 1-minute version (fewer training clips and steps), used by the tests. @default false */
  quick?: boolean
  /** Optimizer steps. @default 4500 (quick: 800) */
  steps?: number
  /** Peak learning rate. @default 2e-3 */
  lr?: number
  /** Samples per step. @default 32 */
  batchSize?: number
  /** Seeds the clips, the split, initialisation and masking. @default 0 */
  seed?: number
  /** Threads for tensor math. @default physical cores */
  threads?: number
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
}

export interface DemoResult {
  clips: { train: number; test: number }
  config: VideoBertConfig
  numParameters: number
  train: { steps: number; stopped: FitResult['stopped']; seconds: number; stepsPerSecond: number; dataWaitFraction: number; validation: FitResult['lastValidation'] }
  /**
   * Text→video retrieval among the test clips (each test caption names exactly one clip), ranked by
   * the caption's likelihood given the clip (MLM head) and by the video-text matching head.
   */
  retrieval: { likelihood: RetrievalMetrics; match: RetrievalMetrics; words: RetrievalMetrics }
  /** Greedy captions of the test clips: per attribute, how often the caption names it right. */
  captions: Omit<CaptionEvaluation, 'captions'>
  /** The label-efficiency experiment (null unless asked for). */
  labelEfficiency: LabelEfficiencyResult | null
  /** Fill-in-the-blank on the test captions, per attribute. */
  fillInTheBlank: Record<keyof typeof ATTRIBUTE_WORDS, BlankMetrics>
  seconds: { data: number; tokenize: number; train: number; evaluate: number; labelEfficiency: number; total: number }
  out: string
}

/** What the demo's options are when left out (the CLI's help shows these). */
export const DEMO_DEFAULTS = { out: 'videobert-demo', steps: 4500, quickSteps: 800, lr: 2e-3, batchSize: 32, seed: 0 }

/** Tokenizer settings of the demo: 10 fps, 8-frame segments (0.8 s), 2×2 regions, builtin features. */
export const DEMO_TOKENIZE = { fps: 10, framesPerSegment: 8, grid: 2, extractor: 'builtin' } as const

export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const { out, quick = false, seed = DEMO_DEFAULTS.seed, signal } = options
  const steps = options.steps ?? (quick ? DEMO_DEFAULTS.quickSteps : DEMO_DEFAULTS.steps)
  const log = options.log ?? (() => {})
  const t0 = performance.now()
  const since = (t: number) => (performance.now() - t) / 1000
  mkdirSync(out, { recursive: true })

  log(`1/5 rendering and encoding the synthetic clips (MPEG-4, in-process) → ${join(out, 'data')}`)
  const set = await writeSyntheticSet(join(out, 'data'), { trainPerCombination: quick ? 1 : 3, seed, signal })
  const counts = { train: set.clips.filter((c) => c.split === 'train').length, test: set.clips.filter((c) => c.split === 'test').length }
  const tData = since(t0)

  log(`2/5 vocabulary and tokenization (${counts.train} train + ${counts.test} test clips)`)
  const t1 = performance.now()
  const tokenizerPath = join(out, 'tokenizer.json')
  await trainVocabulary(set.manifests.train, tokenizerPath, { vocabSize: 256, minFrequency: 1 })
  const tokenizer = TextTokenizer.load(tokenizerPath)
  const videoTokenizer = new VideoTokenizer(DEMO_TOKENIZE)
  const shardDirs = { train: join(out, 'shards', 'train'), test: join(out, 'shards', 'test') }
  // Always tokenized afresh (2 s): shards left by an earlier run (say --quick) hold other clips.
  rmSync(join(out, 'shards'), { recursive: true, force: true })
  for (const split of ['train', 'test'] as const) {
    const s = await videoTokenizer.tokenizeManifest(set.manifests[split], { out: shardDirs[split], signal })
    if (s.failures.length > 0) throw new Error(`demo: ${s.failures.length} clips failed to tokenize, e.g. ${s.failures[0]!.path}: ${s.failures[0]!.message}`)
  }
  const trainShards = await TokenShards.open(shardDirs.train)
  const testShards = await TokenShards.open(shardDirs.test)
  const tTokenize = since(t1)

  // Every clip is 3.2 s = 4 segments of 0.8 s: one window each.
  const config = resolveConfig({
    preset: 'tiny',
    vocabSize: tokenizer.vocabSize,
    featureDim: trainShards.params.featureDim,
    numRegions: trainShards.numRegions,
    maxSegments: 4,
    maxTextLen: 12,
    // Short captions: mask more of them. Standardised features make the video loss large next to
    // the text losses: weigh it down. The matching head learns last (its loss sits at ln 2 for the
    // first ~1000 steps): weigh it up. Measured on this set: see the README's demo section.
    textMaskProb: 0.3,
    videoWeight: 0.1,
    vtmWeight: 5,
  })
  const model = await VideoBERT.create(config, { seed, numThreads: options.threads })
  log(`3/5 pre-training the tiny preset (${model.numParameters.toLocaleString()} parameters) for ${steps} steps`)
  const t2 = performance.now()
  const data = new VideoTextDataset(trainShards, config, tokenizer, { validationFraction: 0.1, seed })
  rmSync(join(out, 'run'), { recursive: true, force: true }) // the demo's own run directory: always a fresh run
  const trainer = new Trainer({
    out: join(out, 'run'),
    steps,
    batchSize: options.batchSize ?? DEMO_DEFAULTS.batchSize,
    schedule: { lr: options.lr ?? DEMO_DEFAULTS.lr, warmupSteps: Math.round(steps / 20), decay: 'cosine' },
    evalEvery: Math.max(1, Math.round(steps / 5)),
    checkpointEvery: 0,
    keepLast: 1,
    checkpointFiles: { 'tokenizer.json': tokenizerPath },
    signal,
    progress: options.progress ?? true,
  })
  const fit = await trainer.fit(model, data)
  const tTrain = since(t2)

  log('4/5 evaluating on the held-out clips')
  const t3 = performance.now()
  // The test clips are standardised with the training statistics, as inference on a checkpoint would be.
  const test = new VideoTextDataset(testShards, config, tokenizer, { validationFraction: 1, seed, featureNorm: data.featureNorm ?? 'none' })
  const retrieval = {
    likelihood: await textToVideoRetrieval(fit.model, test, 'validation', { scorer: 'likelihood' }),
    match: await textToVideoRetrieval(fit.model, test, 'validation', { scorer: 'match' }),
    words: await textToVideoRetrieval(fit.model, test, 'validation', { scorer: 'words' }),
  }
  const pretrained = { model: fit.model, tokenizer, featureNorm: data.featureNorm, videoTokenizer: DEMO_TOKENIZE, classes: null, prompt: null }
  const { captions: _, ...captions } = await evaluateCaptions(pretrained, test, 'validation', ATTRIBUTE_WORDS, { strategy: 'greedy' })
  const blanks = (await fillInTheBlank(fit.model, test, 'validation', ATTRIBUTE_WORDS)) as DemoResult['fillInTheBlank']
  const tEval = since(t3)

  let efficiency: LabelEfficiencyResult | null = null
  if (options.labelEfficiency) {
    log('5/5 label efficiency: fine-tuning with 10 % of the labels, pre-trained vs from scratch')
    efficiency = await labelEfficiency({
      checkpoint: join(out, 'run', 'checkpoints', `step-${fit.state.step}`),
      train: shardDirs.train,
      test: shardDirs.test,
      out: join(out, 'run', 'label-efficiency'),
      threads: options.threads,
      log,
      signal,
    })
  }

  return {
    clips: counts,
    config,
    numParameters: model.numParameters,
    train: {
      steps: fit.state.step,
      stopped: fit.stopped,
      seconds: tTrain,
      stepsPerSecond: fit.state.step / tTrain,
      dataWaitFraction: fit.dataWaitFraction,
      validation: fit.lastValidation,
    },
    retrieval,
    fillInTheBlank: blanks,
    captions,
    labelEfficiency: efficiency,
    seconds: { data: tData, tokenize: tTokenize, train: tTrain, evaluate: tEval, labelEfficiency: since(t3) - tEval, total: since(t0) },
    out,
  }
}
