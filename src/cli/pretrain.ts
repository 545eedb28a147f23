/** `videobert pretrain`: token shards + vocabulary → a pre-trained checkpoint (Trainer). */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'

import { configFromJson, resolveConfig, type PresetName, type VideoBertConfig } from '../config.js'
import { VideoTextDataset } from '../data/dataset.js'
import { VideoBertError } from '../errors.js'
import { VideoBERT } from '../model.js'
import { TextTokenizer, TokenShards } from '../shards.js'
import { Trainer } from '../training/trainer.js'

export const PRETRAIN_HELP = `Usage: videobert pretrain --data SHARDS --tokenizer tokenizer.json --out RUN [options]

Pre-trains VideoBERT on token shards (videobert tokenize) with captions tokenized by the vocabulary
(videobert vocab). Checkpoints go to RUN/checkpoints/step-N (atomic), metrics to RUN/metrics.jsonl.
featureDim / numRegions come from the shards and vocabSize from the tokenizer unless the config sets them.

Options:
  --preset NAME           tiny | small | base | large (default small)
  --config FILE           config.json (snake_case) overriding the preset
  --steps N               optimizer steps (default 1000)
  --batch-size N          samples per micro-batch (default 8)
  --grad-accum N          micro-batches per step (default 1)
  --lr X                  peak learning rate (default 1e-4)
  --warmup N              warm-up steps (default 10% of --steps)
  --decay cosine|linear|constant   (default cosine)
  --eval-every N          validate every N steps (default 100)
  --checkpoint-every N    checkpoint every N steps (default 100)
  --keep-last N           checkpoints kept besides the best (default 3)
  --validation-fraction X videos held out (default 0.1)
  --seed N                (default 0)
  --threads N             threads for tensor math (default: physical cores)
  --resume                continue from the latest complete checkpoint in RUN
  --json                  print the result as JSON on stdout
Ctrl-C saves a checkpoint and exits (130); re-run with --resume to continue.`

class Usage extends VideoBertError {
  constructor(message: string) {
    super('InvalidConfig', message)
  }
}

function num(v: unknown, flag: string, int = true): number | undefined {
  if (v === undefined) return undefined
  const n = Number(v)
  if (!Number.isFinite(n) || n < 0 || (int && !Number.isInteger(n))) throw new Usage(`--${flag} expects a ${int ? 'non-negative integer' : 'number'}, got '${String(v)}'`)
  return n
}

export async function pretrain(args: string[], signal: AbortSignal): Promise<number> {
  const s = { type: 'string' } as const
  let parsed
  try {
    parsed = parseArgs({
      args,
      options: {
        data: s, tokenizer: s, out: s, preset: s, config: s, steps: s, 'batch-size': s, 'grad-accum': s, lr: s, warmup: s, decay: s,
        'eval-every': s, 'checkpoint-every': s, 'keep-last': s, 'validation-fraction': s, seed: s, threads: s,
        resume: { type: 'boolean' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    })
  } catch (err) {
    throw new Usage((err as Error).message)
  }
  const v = parsed.values
  if (v.help) {
    process.stdout.write(`${PRETRAIN_HELP}\n`)
    return 0
  }
  if (!v.data || !v.tokenizer || !v.out) throw new Usage('pretrain: --data SHARDS, --tokenizer FILE and --out RUN are required')
  const shards = await TokenShards.open(v.data)
  if (shards.length === 0) throw new VideoBertError('InvalidInput', `${v.data}: the shard directory has no videos`)
  const tokenizer = TextTokenizer.load(v.tokenizer)
  let fromFile: Partial<VideoBertConfig> = {}
  if (v.config) {
    let text: string
    try {
      text = readFileSync(v.config, 'utf8')
    } catch (err) {
      throw new VideoBertError('Io', `${v.config}: ${(err as Error).message}`)
    }
    try {
      fromFile = configFromJson(text)
    } catch (err) {
      throw new VideoBertError('InvalidConfig', `${v.config}: not valid JSON (${(err as Error).message})`)
    }
  }
  const config = resolveConfig({
    preset: (v.preset ?? 'small') as PresetName,
    featureDim: shards.params.featureDim,
    numRegions: shards.numRegions,
    vocabSize: tokenizer.vocabSize,
    ...fromFile,
  })
  const steps = num(v.steps, 'steps') ?? 1000
  const data = new VideoTextDataset(shards, config, tokenizer, {
    validationFraction: num(v['validation-fraction'], 'validation-fraction', false) ?? 0.1,
    seed: num(v.seed, 'seed') ?? 0,
  })
  const model = await VideoBERT.create(config, { seed: num(v.seed, 'seed') ?? 0, numThreads: num(v.threads, 'threads') })
  const decay = (v.decay ?? 'cosine') as 'cosine' | 'linear' | 'constant'
  if (!['cosine', 'linear', 'constant'].includes(decay)) throw new Usage(`--decay expects cosine, linear or constant, got '${decay}'`)
  const trainer = new Trainer({
    out: v.out,
    steps,
    batchSize: num(v['batch-size'], 'batch-size') ?? 8,
    gradientAccumulation: num(v['grad-accum'], 'grad-accum') ?? 1,
    schedule: { lr: num(v.lr, 'lr', false) ?? 1e-4, warmupSteps: num(v.warmup, 'warmup') ?? Math.round(steps / 10), decay },
    evalEvery: num(v['eval-every'], 'eval-every') ?? 100,
    checkpointEvery: num(v['checkpoint-every'], 'checkpoint-every') ?? 100,
    keepLast: num(v['keep-last'], 'keep-last') ?? 3,
    resume: Boolean(v.resume),
    checkpointFiles: { 'tokenizer.json': v.tokenizer },
    signal,
    progress: !v.json,
  })
  const r = await trainer.fit(model, data)
  const summary = { stopped: r.stopped, step: r.state.step, best: r.state.best, validation: r.lastValidation, dataWaitFraction: r.dataWaitFraction, skipped: r.skipped.length, out: v.out }
  if (v.json) process.stdout.write(`${JSON.stringify(summary)}\n`)
  else process.stderr.write(`pretrain ${r.stopped} at step ${r.state.step}; best ${JSON.stringify(r.state.best)}; ${(100 * r.dataWaitFraction).toFixed(1)}% of the time preparing data; ${r.skipped.length} unreadable items skipped → ${v.out}\n`)
  return r.stopped === 'aborted' ? 130 : 0
}
