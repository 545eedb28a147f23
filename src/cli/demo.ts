/** `videobert demo`: the embedded default — synthetic captioned clips → pre-training → held-out evaluation. */
import { resolve } from 'node:path'

import { DEMO_CODEBOOK, DEMO_DEFAULTS as D, runDemo, type DemoOptions, type DemoResult } from '../demo/run.js'
import { DEMO_RETRIEVAL_LABELS, meanSd, runDemoSeeds, type DemoSeedsResult } from '../demo/seeds.js'
import type { FinetuneRecipe } from '../demo/label-efficiency.js'
import { VideoBertError } from '../errors.js'
import type { CaptionScores } from '../eval/caption-metrics.js'
import type { RetrievalMetrics } from '../eval/retrieval.js'
import { choice, deviceFlag, optionalInt, optionalPositive, optionalPositiveInt, parseCommand } from './args.js'

export const DEMO_HELP = `Usage: videobert demo [options]

Makes a captioned synthetic video set (a coloured shape moving across the frame: 6 colours ×
4 shapes × 4 directions, captions such as "a red circle moves left"), rendered and encoded in-process
as MPEG-4 by the addon's own FFmpeg (no ffmpeg command line needed), trains a WordPiece
vocabulary, tokenizes the clips with the builtin extractor, pre-trains the tiny preset, then
evaluates on the held-out test clips (one per combination, never trained on):
  - text→video retrieval among the test clips, R@1/R@5/R@10 vs chance;
  - text→video retrieval by the fast word-profile first stage (one forward pass per clip);
  - fill-in-the-blank: the colour, shape or direction word masked, top-1 accuracy vs chance;
  - captions written by the model (greedy masked decoding): does each name the right colour,
    shape and direction?
With --label-efficiency it also fine-tunes direction and shape classifiers with 10 % of the training
labels, from the pre-trained checkpoint and from scratch (3 seeds each), and compares test accuracy.
About 3.5 minutes on 2 cores (+1 with --label-efficiency, +3.5 with --downstream); --quick takes about 1 minute.

Options:
  --out DIR         working directory (default ./${D.out}); clips are reused when present,
                    the run directory (DIR/run) is replaced
  --quick           the short version (96 training clips, ${D.quickSteps} steps)
  --label-efficiency  also run the fine-tuning experiment (pre-trained vs from scratch, 10 % labels)
  --downstream      also score captions of the test clips (BLEU-4, METEOR, ROUGE-L, CIDEr-D): zero-shot, the
                    nearest training clip's caption, and a caption decoder fine-tuned from the
                    checkpoint and from scratch; and fine-tune video question answering (what colour /
                    what shape / which way; open answers and multiple choice), pre-trained vs from
                    scratch, 3 seeds, per-type accuracy
  --video-input features|visual_words
                    what the model reads of a segment: the builtin region features (default), or
                    one visual word (the VideoBERT paper: a ${DEMO_CODEBOOK.branching}^${DEMO_CODEBOOK.depth}-word hierarchical k-means codebook
                    fitted on the training segments' standardised features, softmax video loss)
  --steps N         optimizer steps (default ${D.steps}; quick ${D.quickSteps})
  --lr X            peak learning rate (default ${D.lr}, the tiny preset's)
  --batch-size N    samples per step (default ${D.batchSize}, the tiny preset's)
  --seed N          seeds the clips, split, initialisation and masking (default ${D.seed})
  --weights FILE    tokenize the clips with this pretrained image network (a tokenize --weights
                    file: MobileNetV2, EfficientNet-Lite0, ResNet, CLIP; docs/backbones.md)
                    instead of the builtin extractor
  --seeds LIST      run the demo once per seed (e.g. 0,1,2; each in OUT/seed-N) and report every
                    figure as mean ± standard deviation over them, goals judged on the means
  --threads N       threads for tensor math (default: physical cores)
  --device NAME     cpu, cuda or cuda:N (default cpu; CUDA needs the CUDA build)
  --json            print the result as JSON on stdout
Relative paths (--out) are relative to the working directory.`

/**
 * The demo's goals: retrieval R@1 at least 10× chance, every fill-in-the-blank at least 3× chance,
 * every caption attribute at least 1.5× chance; with --label-efficiency, pre-training adds at least
 * 10 accuracy points to the direction classifier (the value is the pre-trained mean, the "chance" the
 * from-scratch mean). Shape is reported beside it: from scratch it is already learned from 10 % of the
 * labels (the builtin features separate shapes almost linearly), so there is little left to add.
 */
export interface DemoGoal {
  name: string
  value: number
  chance: number
  /** Ratio goals: value ≥ factor × chance. */
  factor: number
  /** Gain goals (label efficiency): value − chance ≥ this many points / 100. */
  minGainPoints?: number
  met: boolean
}

export function demoGoals(r: DemoResult): DemoGoal[] {
  const rows = [{ name: 'retrieval R@1 (likelihood)', value: r.retrieval.likelihood.recall[1], chance: r.retrieval.likelihood.chance[1], factor: 10 }]
  for (const [attr, m] of Object.entries(r.fillInTheBlank)) rows.push({ name: `fill-in-the-blank ${attr}`, value: m.accuracy, chance: m.chance, factor: 3 })
  for (const [attr, m] of Object.entries(r.captions.perGroup)) rows.push({ name: `caption names the ${attr}`, value: m.accuracy, chance: m.chance, factor: 1.5 })
  const goals: DemoGoal[] = rows.map((g) => ({ ...g, met: g.value >= g.factor * g.chance }))
  for (const [label, s] of Object.entries(r.labelEfficiency?.summary ?? {})) {
    if (label !== 'direction') continue
    goals.push({ name: `10 % labels, ${label}: pre-trained − scratch ≥ 10 points`, value: s.pretrained, chance: s.scratch, factor: 1, minGainPoints: 10, met: s.gainPoints >= 10 })
  }
  return goals
}

function table(r: DemoResult): string {
  const row = (name: string, value: number, chance: number, goal = '') =>
    `${name.padEnd(44)}${value.toFixed(3).padStart(8)}${chance.toFixed(3).padStart(9)}${`${(value / chance).toFixed(1)}×`.padStart(9)}  ${goal}`
  const goals = new Map(demoGoals(r).map((g) => [g.name, g]))
  const mark = (name: string) => {
    const g = goals.get(name)
    return g ? `${g.met ? 'ok' : 'MISSED'} (goal ≥ ${g.factor}× chance)` : ''
  }
  const retrieval = (label: string, m: RetrievalMetrics) =>
    ([1, 5, 10] as const).map((k) => row(`retrieval R@${k} (${label})`, m.recall[k], m.chance[k], k === 1 ? mark(`retrieval R@1 (${label})`) : ''))
  const L = DEMO_RETRIEVAL_LABELS
  const lines = [
    `Held-out test clips: ${r.clips.test} (one per colour × shape × direction; trained on ${r.clips.train} other clips)`,
    `Model: tiny preset, ${r.numParameters.toLocaleString()} parameters, reading ${r.codebook ? `visual words (${r.codebook.words}-word codebook)` : 'region features'} of the ${r.extractor.split(':').slice(0, 2).join(' ')} extractor, ${r.train.steps} steps in ${r.train.seconds.toFixed(0)} s (${r.train.stepsPerSecond.toFixed(1)} steps/s)`,
    '',
    `${'metric'.padEnd(44)}${'model'.padStart(8)}${'chance'.padStart(9)}${'ratio'.padStart(9)}`,
    ...retrieval(L.likelihood, r.retrieval.likelihood),
    ...retrieval(L.match, r.retrieval.match),
    row('retrieval median rank (likelihood)', r.retrieval.likelihood.medianRank, (r.retrieval.likelihood.candidates + 1) / 2),
    ...retrieval(L.words, r.retrieval.words),
    ...retrieval(L.wordsThenLikelihood, r.retrieval.wordsThenLikelihood),
    ...Object.entries(r.fillInTheBlank).map(([attr, m]) => row(`fill-in-the-blank ${attr}`, m.accuracy, m.chance, mark(`fill-in-the-blank ${attr}`))),
    ...Object.entries(r.captions.perGroup).map(([attr, m]) => row(`caption names the ${attr}`, m.accuracy, m.chance, mark(`caption names the ${attr}`))),
    '',
    'Captions of the first test clips (generated | reference):',
    ...r.captions.examples.slice(0, 4).map((e) => `  ${e.caption} | ${e.reference}`),
    ...(r.labelEfficiency ? labelEfficiencyLines(r) : []),
    ...(r.downstream ? downstreamLines(r) : []),
    '',
    `Time: clips ${r.seconds.data.toFixed(0)} s, tokenize ${r.seconds.tokenize.toFixed(0)} s, train ${r.seconds.train.toFixed(0)} s, evaluate ${r.seconds.evaluate.toFixed(0)} s${r.labelEfficiency ? `, label efficiency ${r.seconds.labelEfficiency.toFixed(0)} s` : ''}${r.downstream ? `, downstream ${r.seconds.downstream.toFixed(0)} s` : ''}, total ${r.seconds.total.toFixed(0)} s`,
    `Run directory (checkpoint, metrics.jsonl, loss-curve.html): ${r.out}/run`,
  ]
  return lines.join('\n')
}

function downstreamLines(r: DemoResult): string[] {
  const { qa, captions: c, fineTunedCaptions: f } = r.downstream!
  const s = qa.settings
  const fs = f.settings
  const scores = (name: string, x: CaptionScores) => `  ${name.padEnd(44)} BLEU-4 ${x.bleu4.toFixed(3)}  METEOR ${x.meteor.toFixed(3)}  ROUGE-L ${x.rougeL.toFixed(3)}  CIDEr-D ${x.ciderD.toFixed(3)}`
  return [
    '',
    `Captions of the ${c.clips} test clips against their reference (COCO metrics; METEOR: exact + stem modules); the caption decoder fine-tuned`,
    `on the training clips' captions (${fs.decoderLayers} layers, ${fs.steps} steps, lr ${fs.lr}, batch ${fs.batchSize}, label smoothing ${fs.labelSmoothing}, seed ${fs.seed}):`,
    scores('zero-shot (greedy masked decoding)', c.zeroShot),
    scores('nearest training clip\'s caption', c.nearestTrainingCaption),
    scores('fine-tuned decoder, greedy', f.pretrained.greedy),
    scores(`fine-tuned decoder, beam ${fs.beamSize}`, f.pretrained.beam),
    scores('same fine-tuning from scratch, greedy', f.scratch.greedy),
    scores(`same fine-tuning from scratch, beam ${fs.beamSize}`, f.scratch.beam),
    ...f.examples.slice(0, 3).map((e) => `  fine-tuned: ${e.fineTuned} | reference: ${e.reference}`),
    '',
    `Question answering (${s.steps} steps, lr ${s.lr}, batch ${s.batchSize}), test accuracy per question type, mean of seeds ${s.seeds.join(', ')}:`,
    ...(['open', 'multiple-choice'] as const).flatMap((format) =>
      Object.entries(qa.summary[format]).map(
        ([type, m]) =>
          `  ${format.padEnd(15)} ${type.padEnd(10)} pre-trained ${m.pretrained.toFixed(3)}  from scratch ${m.scratch.toFixed(3)}  chance ${m.chance.toFixed(3)}  majority ${m.majority.toFixed(3)}  (${m.questions} questions)`,
      ),
    ),
  ]
}

function labelEfficiencyLines(r: DemoResult): string[] {
  const le = r.labelEfficiency!
  const s = le.settings
  return [
    '',
    `Fine-tuning with ${100 * s.labelFraction} % of the training labels, test accuracy, mean of seeds ${s.seeds.join(', ')}:`,
    `  pre-trained: ${recipeText(s.pretrained)}`,
    `  from scratch: ${recipeText(s.scratch)}`,
    ...Object.entries(le.summary).map(([label, m]) =>
      `  ${label.padEnd(10)} pre-trained ${m.pretrained.toFixed(3)}  from scratch ${m.scratch.toFixed(3)}  gain ${m.gainPoints >= 0 ? '+' : ''}${m.gainPoints.toFixed(1)} points  (chance ${m.chance.toFixed(3)}) ${label !== 'direction' ? '(reported)' : m.gainPoints >= 10 ? 'ok (goal ≥ 10 points)' : 'MISSED (goal ≥ 10 points)'}`,
    ),
  ]
}

/** One arm's fine-tuning recipe in words. */
function recipeText(r: FinetuneRecipe): string {
  const head = { cls: 'head on [CLS]', segments: 'head on the mean of the segments', text: "head on the prompt's outputs", mask: "prompt classifier (the fill-in-the-blank head at the attribute's prompt)" }
  const parts = [`${r.steps} steps`, `lr ${r.lr}`, `batch ${r.batchSize}`, head[r.pooling ?? 'cls']]
  if (r.freezeFraction) parts.push(`encoder frozen for the first ${Math.round(100 * r.freezeFraction)} %`)
  if (r.encoderLrScale !== undefined && r.encoderLrScale !== 1) parts.push(`encoder lr × ${r.encoderLrScale}`)
  if (r.layerDecay !== undefined && r.layerDecay !== 1) parts.push(`layer-wise decay ${r.layerDecay}`)
  return parts.join(', ')
}

/** The goals of runs that differ only by seed, judged on the means of their values and chances. */
export function seedGoals(runs: DemoResult[]): DemoGoal[] {
  const per = runs.map(demoGoals)
  return per[0]!.map((g, i) => {
    const value = meanSd(per.map((p) => p[i]!.value)).mean
    const chance = meanSd(per.map((p) => p[i]!.chance)).mean
    const met = g.minGainPoints !== undefined ? 100 * (value - chance) >= g.minGainPoints : value >= g.factor * chance
    return { ...g, value, chance, met }
  })
}

function seedsTable(r: DemoSeedsResult): string {
  const goals = new Map(seedGoals(r.runs).map((g) => [g.name, g]))
  const first = r.runs[0]!
  const lines = [
    `Held-out test clips per seed: ${first.clips.test} (trained on ${first.clips.train} other clips); tiny preset, ${first.train.steps} steps; seeds ${r.seeds.join(', ')}`,
    `Each figure: mean ± standard deviation over the seeds (n − 1), then each seed's value; goals are judged on the means.`,
    '',
    `${'metric'.padEnd(44)}${'mean ± sd'.padStart(16)}  ${'per seed'.padEnd(8 * r.seeds.length)}${'chance'.padStart(7)}${'ratio'.padStart(8)}`,
    ...r.figures.map((f) => {
      const g = goals.get(f.name)
      const mark = g ? `  ${g.met ? 'ok' : 'MISSED'} (goal ≥ ${g.factor}× chance)` : ''
      return `${f.name.padEnd(44)}${`${f.mean.toFixed(3)} ± ${f.sd.toFixed(3)}`.padStart(16)}  ${f.values.map((v) => v.toFixed(3).padEnd(8)).join('')}${f.chance.toFixed(3).padStart(7)}${`${(f.mean / f.chance).toFixed(1)}×`.padStart(8)}${mark}`
    }),
    ...[...goals.values()].filter((g) => g.minGainPoints !== undefined).map((g) => `${g.name}: ${(100 * (g.value - g.chance)).toFixed(1)} points on the means — ${g.met ? 'ok' : 'MISSED'}`),
    '',
    `Time: ${r.runs.map((x) => x.seconds.total.toFixed(0)).join(' + ')} s. Run directories: ${r.runs.map((x) => x.out).join(', ')}`,
  ]
  return lines.join('\n')
}

/** `--seeds 0,1,2` → [0, 1, 2]: distinct non-negative integers. */
function seedList(v: unknown): number[] | undefined {
  if (v === undefined) return undefined
  const seeds = String(v).split(',').map((x) => x.trim())
  if (seeds.some((x) => !/^\d+$/.test(x)) || new Set(seeds).size !== seeds.length) {
    throw new VideoBertError('InvalidConfig', `invalid config field \`seeds\`: expected distinct non-negative integers separated by commas (e.g. 0,1,2), got ${JSON.stringify(v)}`)
  }
  return seeds.map(Number)
}

export async function demo(args: string[], signal: AbortSignal): Promise<number> {
  const s = { type: 'string' } as const
  const { values: v } = parseCommand(args, { out: s, quick: { type: 'boolean' }, 'label-efficiency': { type: 'boolean' }, downstream: { type: 'boolean' }, steps: s, lr: s, 'batch-size': s, seed: s, seeds: s, weights: s, threads: s, device: s, 'video-input': s }, false)
  if (v.help) {
    process.stdout.write(`${DEMO_HELP}\n`)
    return 0
  }
  const seeds = seedList(v.seeds)
  if (seeds && v.seed !== undefined) throw new VideoBertError('InvalidConfig', 'invalid config field `seeds`: give --seed N or --seeds LIST, not both')
  const options: DemoOptions = {
    out: typeof v.out === 'string' ? v.out : D.out,
    quick: Boolean(v.quick),
    videoInput: choice(v['video-input'], 'video-input', ['features', 'visual_words'] as const, 'features'),
    steps: optionalPositiveInt(v.steps, 'steps'),
    lr: optionalPositive(v.lr, 'lr'),
    batchSize: optionalPositiveInt(v['batch-size'], 'batch-size'),
    seed: optionalInt(v.seed, 'seed'),
    weights: typeof v.weights === 'string' ? resolve(v.weights) : undefined,
    threads: optionalPositiveInt(v.threads, 'threads'),
    device: deviceFlag(v.device),
    signal,
    log: (line) => process.stderr.write(`${line}\n`),
    progress: !v.json,
    labelEfficiency: Boolean(v['label-efficiency']),
    downstream: Boolean(v.downstream),
  }
  if (seeds) {
    const r = await runDemoSeeds(options, seeds)
    if (v.json) process.stdout.write(`${JSON.stringify({ seeds: r.seeds, figures: r.figures, goals: seedGoals(r.runs), runs: r.runs.map((x) => ({ ...x, goals: demoGoals(x) })) })}\n`)
    else process.stdout.write(`${seedsTable(r)}\n`)
    return r.runs.some((x) => x.train.stopped === 'aborted') ? 130 : 0
  }
  const result = await runDemo(options)
  if (v.json) process.stdout.write(`${JSON.stringify({ ...result, goals: demoGoals(result) })}\n`)
  else process.stdout.write(`${table(result)}\n`)
  return result.train.stopped === 'aborted' ? 130 : 0
}
