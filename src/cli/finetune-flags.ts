/** The `videobert finetune` flags every task (classify, qa, caption) reads. */
import { FINETUNE_DEFAULTS as F } from '../training/finetune.js'
import { choice, deviceFlag, number, positiveInt, required } from './args.js'

/** The `finetune` flags every task reads (checkpoint, data, run directory, schedule, head, machine); `defaults`: the task's steps and lr. */
export function headFlags(v: Record<string, unknown>, signal: AbortSignal, defaults: { steps: number; lr: number } = F) {
  return {
    checkpoint: required(v.checkpoint, '--checkpoint DIR', 'finetune'),
    shards: required(v.shards, '--shards DIR', 'finetune'),
    out: required(v.out, '--out RUN', 'finetune'),
    validationFraction: number(v['validation-fraction'], 'validation-fraction', F.validationFraction, 0, 1),
    steps: positiveInt(v.steps, 'steps', defaults.steps),
    batchSize: positiveInt(v['batch-size'], 'batch-size', F.batchSize),
    lr: number(v.lr, 'lr', defaults.lr, 0),
    pooling: v.pooling === undefined ? undefined : choice(v.pooling, 'pooling', ['cls', 'segments', 'text'] as const, 'cls'),
    seed: number(v.seed, 'seed', F.seed, 0),
    fromScratch: Boolean(v['from-scratch']),
    numThreads: v.threads === undefined ? undefined : positiveInt(v.threads, 'threads', 1),
    device: deviceFlag(v.device),
    signal,
  }
}
