/** `videobert pretrain`: token shards + vocabulary → a pre-trained checkpoint (`pretrain` in the library). */
import { readFileSync } from 'node:fs'

import { configFromJson, PRESET_NAMES, type PresetName, type VideoBertConfig } from '../config.js'
import { VideoBertError } from '../errors.js'
import { pretrain, PRESET_TRAINING, PRETRAIN_DEFAULTS as D } from '../training/pretrain.js'
import { choice, deviceFlag, distributedFlag, number, optionalInt, parseCommand, required } from './args.js'
import { DISTRIBUTED_DEFAULTS, startedRank } from '../distributed.js'

const byPreset = (k: 'lr' | 'batchSize') => PRESET_NAMES.map((p) => `${p} ${PRESET_TRAINING[p][k]}`).join(', ')

export const PRETRAIN_HELP = `Usage: videobert pretrain --data SHARDS --tokenizer tokenizer.json --out RUN [options]

Pre-trains VideoBERT on token shards (videobert tokenize) with captions tokenized by the vocabulary
(videobert vocab). Checkpoints go to RUN/checkpoints/step-N (atomic), metrics to RUN/metrics.jsonl.
featureDim / numRegions come from the shards and vocabSize from the tokenizer unless the config sets them.

Options:
  --preset NAME           ${PRESET_NAMES.join(' | ')} (default ${D.preset})
  --config FILE           config.json (snake_case) overriding the preset
  --steps N               optimizer steps (default ${D.steps})
  --batch-size N          samples per micro-batch (default by preset: ${byPreset('batchSize')})
  --grad-accum N          micro-batches per step (default ${D.gradientAccumulation})
  --lr X                  peak learning rate (default by preset: ${byPreset('lr')})
  --warmup N              warm-up steps (default ${100 * D.warmupFraction}% of --steps)
  --decay cosine|linear|constant   (default ${D.decay})
  --eval-every N          validate every N steps (default ${D.evalEvery})
  --checkpoint-every N    checkpoint every N steps (default ${D.checkpointEvery})
  --keep-last N           checkpoints kept besides the best (default ${D.keepLast})
  --validation-fraction X videos held out (default ${D.validationFraction}), or with --split time the
                          end of each video
  --split video|time      hold out whole videos (default ${D.split}), or the last part of each video
                          (one long video or a few)
  --windows auto|tiles|captions   what a training window is (default ${D.windows}): tiles, runs of
                          maxSegments segments with every caption they overlap; captions, one per
                          caption with its own segments (the paper's alignment); auto, captions for
                          a video with two or more timed captions (subtitles), tiles otherwise
  --seed N                (default ${D.seed})
  --threads N             threads for tensor math (default: physical cores)
  --device NAME           cpu, cuda or cuda:N (default cpu; CUDA needs the CUDA build)
  --resume                continue from the latest complete checkpoint in RUN
  --distributed auto|on|off  data-parallel over the processes of mpirun, mpiexec or srun (default
                          auto: on when launched as one of several); --batch-size is per process
  --distributed-timeout S seconds a process waits for the others before stopping with a
                          Distributed error (default ${DISTRIBUTED_DEFAULTS.timeoutS})
  --json                  print the result as JSON on stdout
Ctrl-C saves a checkpoint and exits (130); re-run with --resume to continue.`

function readConfig(path: string): Partial<VideoBertConfig> {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw new VideoBertError('Io', `${path}: ${(err as Error).message}`)
  }
  try {
    return configFromJson(text)
  } catch (err) {
    throw new VideoBertError('InvalidConfig', `${path}: not valid JSON (${(err as Error).message})`)
  }
}

export async function pretrainCommand(args: string[], signal: AbortSignal): Promise<number> {
  const s = { type: 'string' } as const
  const { values: v } = parseCommand(args, {
    data: s, tokenizer: s, out: s, preset: s, config: s, steps: s, 'batch-size': s, 'grad-accum': s, lr: s, warmup: s, decay: s,
    'eval-every': s, 'checkpoint-every': s, 'keep-last': s, 'validation-fraction': s, split: s, windows: s, seed: s, threads: s, device: s, resume: { type: 'boolean' },
    distributed: s, 'distributed-timeout': s,
  }, false)
  if (v.help) {
    process.stdout.write(`${PRETRAIN_HELP}\n`)
    return 0
  }
  if (!v.data || !v.tokenizer || !v.out) throw new VideoBertError('InvalidConfig', 'pretrain: --data SHARDS, --tokenizer FILE and --out RUN are required')
  const out = required(v.out, '--out RUN', 'pretrain')
  const r = await pretrain({
    data: required(v.data, '--data SHARDS', 'pretrain'),
    tokenizer: required(v.tokenizer, '--tokenizer FILE', 'pretrain'),
    out,
    preset: v.preset === undefined ? undefined : (v.preset as PresetName),
    config: v.config ? readConfig(v.config as string) : undefined,
    steps: optionalInt(v.steps, 'steps'),
    batchSize: optionalInt(v['batch-size'], 'batch-size'),
    gradientAccumulation: optionalInt(v['grad-accum'], 'grad-accum'),
    lr: v.lr === undefined ? undefined : number(v.lr, 'lr', 0, 0),
    warmupSteps: optionalInt(v.warmup, 'warmup'),
    decay: v.decay === undefined ? undefined : choice(v.decay, 'decay', ['cosine', 'linear', 'constant'] as const, D.decay),
    evalEvery: optionalInt(v['eval-every'], 'eval-every'),
    checkpointEvery: optionalInt(v['checkpoint-every'], 'checkpoint-every'),
    keepLast: optionalInt(v['keep-last'], 'keep-last'),
    validationFraction: v['validation-fraction'] === undefined ? undefined : number(v['validation-fraction'], 'validation-fraction', D.validationFraction, 0),
    split: choice(v.split, 'split', ['video', 'time'] as const, D.split),
    windows: choice(v.windows, 'windows', ['auto', 'tiles', 'captions'] as const, D.windows),
    seed: optionalInt(v.seed, 'seed'),
    threads: optionalInt(v.threads, 'threads'),
    device: deviceFlag(v.device),
    resume: Boolean(v.resume),
    distributed: distributedFlag(v.distributed, v['distributed-timeout']),
    signal,
    progress: !v.json,
  })
  // In a data-parallel run rank 0 reports; the others finish quietly.
  if (startedRank() !== 0) return r.stopped === 'aborted' ? 130 : 0
  const summary = { stopped: r.stopped, step: r.state.step, best: r.state.best, validation: r.lastValidation, validationNote: r.validationNote, dataWaitFraction: r.dataWaitFraction, skipped: r.skipped.length, health: r.health, out }
  if (v.json) process.stdout.write(`${JSON.stringify(summary)}\n`)
  else {
    process.stderr.write(`pretrain ${r.stopped} at step ${r.state.step}; ${r.state.best ? `best validation ${r.state.best.value.toFixed(4)} at step ${r.state.best.step}` : r.validationNote ? 'no best checkpoint (no validation windows: see the note above)' : 'no validation ran (it runs every --eval-every steps)'}; ${(100 * r.dataWaitFraction).toFixed(1)}% of the time preparing data; ${r.skipped.length} unreadable items skipped → ${out}\n`)
    for (const w of r.health) process.stderr.write(`health (step ${w.step}): ${w.message}\n`)
  }
  return r.stopped === 'aborted' ? 130 : 0
}
