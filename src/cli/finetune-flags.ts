/** The `videobert finetune` flags every task (classify, qa, caption) reads. */
import { FINETUNE_DEFAULTS as F } from '../training/finetune.js'
import { DISTRIBUTED_DEFAULTS } from '../distributed.js'
import { choice, deviceFlag, distributedFlag, number, positiveInt, required } from './args.js'

/** The `finetune` flags every task reads (checkpoint, data, run directory, schedule, head, machine); `defaults`: the task's steps and lr. */
export function headFlags(v: Record<string, unknown>, signal: AbortSignal, defaults: { steps: number; lr: number } = F) {
  return {
    checkpoint: required(v.checkpoint, '--checkpoint DIR', 'finetune'),
    shards: required(v.shards, '--shards DIR', 'finetune'),
    out: required(v.out, '--out RUN', 'finetune'),
    validationFraction: number(v['validation-fraction'], 'validation-fraction', F.validationFraction, 0, 1),
    steps: positiveInt(v.steps, 'steps', defaults.steps),
    batchSize: positiveInt(v['batch-size'], 'batch-size', F.batchSize),
    // Left out, the task picks it (a prompt classifier learns at a smaller rate than a new head).
    lr: v.lr === undefined ? undefined : number(v.lr, 'lr', defaults.lr, 0),
    layerDecay: number(v['layer-decay'], 'layer-decay', F.layerDecay, 1e-6, 1),
    encoderLrScale: number(v['encoder-lr-scale'], 'encoder-lr-scale', F.encoderLrScale, 0, 1),
    freezeFraction: number(v['freeze-fraction'], 'freeze-fraction', F.freezeFraction, 0, 1),
    pooling: v.pooling === undefined ? undefined : choice(v.pooling, 'pooling', ['cls', 'segments', 'text', 'mask'] as const, 'cls'),
    seed: number(v.seed, 'seed', F.seed, 0),
    fromScratch: Boolean(v['from-scratch']),
    numThreads: v.threads === undefined ? undefined : positiveInt(v.threads, 'threads', 1),
    device: deviceFlag(v.device),
    distributed: distributedFlag(v.distributed, v['distributed-timeout']),
    signal,
  }
}

/** The `finetune` flags of a data-parallel run (every task), as `headFlags` reads them. */
export const FINETUNE_DISTRIBUTED_FLAGS = { distributed: { type: 'string' }, 'distributed-timeout': { type: 'string' } } as const

/** The help lines of `FINETUNE_DISTRIBUTED_FLAGS`. */
export const DISTRIBUTED_HELP = `  --distributed auto|on|off  data-parallel over the processes of mpirun, mpiexec or srun (default auto:
                             on when launched as one of several); --batch-size is per process
  --distributed-timeout S    seconds a process waits for the others before stopping with a Distributed
                             error (default ${DISTRIBUTED_DEFAULTS.timeoutS})`

/** The help lines of the flags `headFlags` adds to every task's schedule. */
export const LAYER_RATE_HELP = `  --layer-decay X            layer-wise learning-rate decay in (0, 1]: encoder layer i of L learns at
                             lr × X^(L − i), the embeddings at lr × X^(L + 1), the task head at lr (default ${F.layerDecay})
  --encoder-lr-scale X       multiplier in [0, 1] on the encoder's learning rate; 0 trains the head alone (default ${F.encoderLrScale})
  --freeze-fraction X        the encoder is frozen for this fraction of the steps at the start (default ${F.freezeFraction})`
