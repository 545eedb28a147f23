/** `videobert finetune --task classify` and `videobert classify`. */
import { LabelledDataset, readLabelFile, type LabelSource } from '../data/labelled.js'
import { VideoBertError } from '../errors.js'
import { evaluateClassifier, type ClassificationReport } from '../eval/classification.js'
import { classifyVideos } from '../inference/classify.js'
import { loadPretrained } from '../pretrained.js'
import { TokenShards } from '../shards.js'
import { FINETUNE_DEFAULTS as F, finetuneClassifier } from '../training/finetune.js'
import { deviceFlag, number, parseCommand, required } from './args.js'
import { FINETUNE_CAPTION_HELP, finetuneCaptionCommand } from './caption.js'
import { FINETUNE_QA_HELP, finetuneQACommand } from './qa.js'
import { DISTRIBUTED_HELP, FINETUNE_DISTRIBUTED_FLAGS, headFlags, LAYER_RATE_HELP } from './finetune-flags.js'
import { startedRank } from '../distributed.js'
import { readVideos } from './videos.js'

export const FINETUNE_HELP = `Usage: videobert finetune --task classify --checkpoint DIR --shards DIR (--label KEY | --labels FILE) --out RUN [options]

Fine-tunes a classification head on a pre-trained checkpoint with labelled videos (video only: the
captions are not shown). The run's final checkpoint (RUN/checkpoints/step-N) is what 'videobert
classify' reads; it carries the class names (classes.json). Prints the accuracy and a per-class
report on the held-out videos.

Options:
  --task classify            the fine-tuning task (--task qa: question answering, --task caption: a caption
                             decoder; see 'videobert finetune --task qa --help' / '--task caption --help')
  --checkpoint DIR           the pre-trained checkpoint
  --shards DIR               token shards of the labelled videos
  --label KEY                the label is the manifest's label[KEY] (e.g. direction)
  --labels FILE              labels from a file: JSONL {"id","label"} or CSV with columns id,label
  --classes a,b,c            class names in order (default: the sorted training labels)
  --label-fraction X         use the labels of this fraction of the training videos, per class (default ${F.labelFraction})
  --validation-fraction X    videos held out for the report (default ${F.validationFraction})
  --out RUN                  run directory (must not hold an earlier run's checkpoints)
  --steps N                  optimizer steps (default ${F.steps})
  --batch-size N             (default ${F.batchSize})
  --lr X                     peak learning rate (default ${F.lr}, ${F.maskLr} with --pooling mask; ${100 * F.warmupFraction} % warm-up, cosine decay)
${LAYER_RATE_HELP}
  --pooling P                what the head reads: cls (default), segments, text (with --prompt), or mask:
                             no new head — each class is the pre-trained fill-in-the-blank score of its
                             name at the prompt's last [MASK] (class names must be vocabulary words)
  --prompt TEXT              a fixed text with [MASK]s given with every video, e.g. "a [MASK] moves [MASK]"
                             (pooling defaults to text: the head reads the prompt's outputs)
  --seed N                   (default ${F.seed})
  --from-scratch             same architecture, random initial weights (the baseline)
  --threads N                threads for tensor math (default: physical cores)
  --device NAME              cpu, cuda or cuda:N (default cpu; CUDA needs the CUDA build)
${DISTRIBUTED_HELP}
  --json                     print the result as JSON on stdout`

export const CLASSIFY_HELP = `Usage: videobert classify --checkpoint DIR (VIDEO... | --shards DIR [--label KEY | --labels FILE]) [options]

Classifies videos with a fine-tuned checkpoint (videobert finetune): every window of maxSegments
segments is classified and the probabilities averaged. With --shards and labels, reports
the accuracy, the per-class precision / recall / F1 and the confusion matrix (per window) instead.

Options:
  --checkpoint DIR    a fine-tuned checkpoint (RUN/checkpoints/step-N)
  --shards DIR        a shard set instead of video files
  --label KEY         ground truth: the manifest's label[KEY]
  --labels FILE       ground truth from a file: JSONL {"id","label"} or CSV id,label
  --device NAME       cpu, cuda or cuda:N (default cpu; CUDA needs the CUDA build)
  --json              print the result as JSON on stdout`

function labelSource(key: unknown, file: unknown, command: string, need: boolean): LabelSource | null {
  if (key !== undefined && file !== undefined) throw new VideoBertError('InvalidConfig', `${command}: give --label KEY or --labels FILE, not both`)
  if (typeof key === 'string') return key
  if (typeof file === 'string') return readLabelFile(file)
  if (need) throw new VideoBertError('InvalidConfig', `${command}: --label KEY or --labels FILE is required`)
  return null
}

function printReport(r: ClassificationReport): void {
  const pad = Math.max(5, ...r.perClass.map((c) => c.class.length))
  process.stdout.write(`accuracy ${r.accuracy.toFixed(3)} on ${r.samples} samples (majority class ${r.majorityBaseline.toFixed(3)})\n`)
  process.stdout.write(`${'class'.padEnd(pad)}  precision  recall  f1     support\n`)
  for (const c of r.perClass) {
    process.stdout.write(`${c.class.padEnd(pad)}  ${c.precision.toFixed(3).padEnd(9)}  ${c.recall.toFixed(3).padEnd(6)}  ${c.f1.toFixed(3)}  ${c.support}\n`)
  }
}

export async function finetuneCommand(args: string[], signal: AbortSignal): Promise<number> {
  const s = { type: 'string' } as const
  const { values: v } = parseCommand(args, {
    task: s, checkpoint: s, shards: s, label: s, labels: s, classes: s, 'label-fraction': s, 'validation-fraction': s, out: s,
    steps: s, 'batch-size': s, lr: s, 'layer-decay': s, 'encoder-lr-scale': s, 'freeze-fraction': s, pooling: s, prompt: s, seed: s, 'from-scratch': { type: 'boolean' }, threads: s, device: s,
    'decoder-layers': s, 'label-smoothing': s, strategy: s, 'beam-size': s, format: s, ...FINETUNE_DISTRIBUTED_FLAGS,
  })
  if (v.help) {
    process.stdout.write(`${v.task === 'qa' ? FINETUNE_QA_HELP : v.task === 'caption' ? FINETUNE_CAPTION_HELP : FINETUNE_HELP}\n`)
    return 0
  }
  if (v.task === 'qa') return finetuneQACommand(v, signal)
  if (v.task === 'caption') return finetuneCaptionCommand(v, signal)
  if (v.task !== 'classify') throw new VideoBertError('InvalidConfig', `finetune: --task classify, qa or caption is required (got ${v.task === undefined ? 'none' : `'${String(v.task)}'`})`)
  for (const flag of ['decoder-layers', 'label-smoothing', 'strategy', 'beam-size', 'format']) {
    if (v[flag] !== undefined) throw new VideoBertError('InvalidConfig', `finetune --task classify: --${flag} is for another task`)
  }
  const labels = labelSource(v.label, v.labels, 'finetune', true)!
  const r = await finetuneClassifier({
    ...headFlags(v, signal),
    labels,
    classes: typeof v.classes === 'string' ? v.classes.split(',').map((c) => c.trim()).filter(Boolean) : undefined,
    labelFraction: number(v['label-fraction'], 'label-fraction', F.labelFraction, 1e-9, 1),
    prompt: typeof v.prompt === 'string' ? v.prompt : undefined,
  })
  // In a data-parallel run rank 0 reports; the others finish quietly.
  if (startedRank() !== 0) return r.fit.stopped === 'aborted' ? 130 : 0
  const summary = { checkpoint: r.checkpoint, classes: r.classes, videos: r.videos, steps: r.fit.state.step, stopped: r.fit.stopped, validation: r.validation }
  if (v.json) {
    process.stdout.write(`${JSON.stringify(summary)}\n`)
  } else {
    process.stdout.write(`fine-tuned ${r.fit.state.step} steps on ${r.videos.train} labelled videos → ${r.checkpoint}\n`)
    if (r.validation) printReport(r.validation)
  }
  return r.fit.stopped === 'aborted' ? 130 : 0
}

export async function classifyCommand(args: string[]): Promise<number> {
  const s = { type: 'string' } as const
  const { values: v, positionals } = parseCommand(args, { checkpoint: s, shards: s, label: s, labels: s, device: s })
  if (v.help) {
    process.stdout.write(`${CLASSIFY_HELP}\n`)
    return 0
  }
  const p = await loadPretrained(required(v.checkpoint, '--checkpoint DIR', 'classify'), { device: deviceFlag(v.device) })
  if (!p.classes) throw new VideoBertError('Checkpoint', `${String(v.checkpoint)} is not a classifier (no classes.json); fine-tune one with 'videobert finetune --task classify'`)
  const labels = labelSource(v.label, v.labels, 'classify', false)
  if (labels !== null) {
    const shardsDir = required(v.shards, '--shards DIR (ground truth is read with a shard set)', 'classify')
    const data = new LabelledDataset(await TokenShards.open(shardsDir), p.model.config, p.tokenizer, {
      labels, classes: p.classes, validationFraction: 1, featureNorm: p.featureNorm ?? 'none', prompt: p.prompt ?? undefined,
    })
    const report = await evaluateClassifier(p.model, data, 'validation')
    if (v.json) process.stdout.write(`${JSON.stringify(report)}\n`)
    else printReport(report)
    return 0
  }
  const videos = await readVideos(p, positionals, v.shards as string | undefined, 'classify')
  const preds = await classifyVideos(p, videos.map((x) => x.tokens))
  const rows = videos.map((x, i) => ({ id: x.id, ...preds[i]! }))
  if (v.json) process.stdout.write(`${JSON.stringify({ predictions: rows })}\n`)
  else for (const r of rows) process.stdout.write(`${r.id}\t${r.label}\t${r.probabilities[0]!.probability.toFixed(3)}\n`)
  return 0
}
