/** `videobert finetune --task qa` and `videobert answer`. */
import { QuestionDataset } from '../data/questions.js'
import { VideoBertError } from '../errors.js'
import { evaluateQA, type QAReport } from '../eval/qa.js'
import { loadPretrained } from '../pretrained.js'
import { TokenShards } from '../shards.js'
import { FINETUNE_DEFAULTS as F } from '../training/finetune.js'
import { finetuneQA } from '../training/finetune-qa.js'
import { choice, deviceFlag, parseCommand, required } from './args.js'
import { DISTRIBUTED_HELP, headFlags, LAYER_RATE_HELP } from './finetune-flags.js'
import { startedRank } from '../distributed.js'
import { readVideos } from './videos.js'

export const FINETUNE_QA_HELP = `Usage: videobert finetune --task qa --checkpoint DIR --shards DIR --out RUN [options]

Fine-tunes video question answering on a pre-trained checkpoint. Questions come from the manifest:
"questions": [{"question": "what colour is the shape?", "answer": "red", "type": "colour",
"choices": ["red", "green"]}] ("type" groups the accuracy report). Open answers (--format open): a
head over the training answers reads each video window together with the question; with "choices"
the answer is picked among them. Multiple choice (--format multiple-choice, every question with
"choices"): the checkpoint's matching head scores the window with "question candidate" for each
choice, trained with a softmax over the choices. The final checkpoint (RUN/checkpoints/step-N) is
what 'videobert answer' reads. Prints the accuracy per question type on the held-out videos, against
chance and the majority answer.

Options:
  --task qa                  question answering (the other tasks: see 'videobert finetune --help')
  --format F                 open (default) or multiple-choice
  --checkpoint DIR           the pre-trained checkpoint
  --shards DIR               token shards of the videos with questions
  --validation-fraction X    videos held out for the report (default ${F.validationFraction})
  --out RUN                  run directory (must not hold an earlier run's checkpoints)
  --steps N                  optimizer steps (default ${F.steps})
  --batch-size N             (default ${F.batchSize})
  --lr X                     peak learning rate (default ${F.lr}; ${100 * F.warmupFraction} % warm-up, cosine decay)
${LAYER_RATE_HELP}
  --pooling P                what the open-answer head reads: cls (default), segments, or text (the question's outputs)
  --seed N                   (default ${F.seed})
  --from-scratch             same architecture, random initial weights (the baseline)
  --threads N                threads for tensor math (default: physical cores)
  --device NAME              cpu, cuda or cuda:N (default cpu; CUDA needs the CUDA build)
${DISTRIBUTED_HELP}
  --json                     print the result as JSON on stdout`

export const ANSWER_HELP = `Usage: videobert answer --checkpoint FT (--video V --question Q [--choices a,b,c] | --shards DIR) [options]

Answers a question about a video with a question-answering checkpoint (videobert finetune --task
qa): every window of the video is read with the question and the answer probabilities averaged.
With --choices the answer is the most probable of those (a multiple-choice checkpoint needs them:
it scores "question choice" for each). With --shards instead, answers every question of the set's
manifest and reports the accuracy per question type.

Options:
  --checkpoint DIR    a fine-tuned QA checkpoint (RUN/checkpoints/step-N)
  --video FILE        the video (tokenized as the checkpoint's training data was)
  --question TEXT     the question (at most maxTextLen word pieces)
  --choices a,b,c     candidate answers (each must be one the model knows)
  --shards DIR        evaluate on a shard set's questions instead
  --device NAME       cpu, cuda or cuda:N (default cpu; CUDA needs the CUDA build)
  --json              print the result as JSON on stdout`

export function printQAReport(r: QAReport): void {
  process.stdout.write(`accuracy ${r.accuracy.toFixed(3)} on ${r.questions} questions${r.unseenAnswers ? ` (${r.unseenAnswers} with an answer no training question has)` : ''}\n`)
  const types = Object.entries(r.perType)
  const pad = Math.max(4, ...types.map(([t]) => t.length))
  process.stdout.write(`${'type'.padEnd(pad)}  accuracy  chance  majority  questions\n`)
  for (const [t, x] of types) {
    process.stdout.write(`${t.padEnd(pad)}  ${x.accuracy.toFixed(3).padEnd(8)}  ${x.chance.toFixed(3)}   ${(x.majority === null ? '-' : x.majority.toFixed(3)).padEnd(8)}  ${x.questions}\n`)
  }
}

/** `finetune --task qa`, given the options `finetune` parsed (the classifier-only ones refused). */
export async function finetuneQACommand(v: Record<string, unknown>, signal: AbortSignal): Promise<number> {
  for (const flag of ['label', 'labels', 'classes', 'label-fraction', 'prompt', 'decoder-layers', 'label-smoothing', 'strategy', 'beam-size']) {
    if (v[flag] !== undefined) throw new VideoBertError('InvalidConfig', `finetune --task qa: --${flag} is for another task (the answers come from the manifest's questions)`)
  }
  const format = choice(v.format, 'format', ['open', 'multiple-choice'] as const, 'open')
  if (format === 'multiple-choice' && v.pooling !== undefined) throw new VideoBertError('InvalidConfig', 'finetune --task qa: --pooling is for --format open (multiple choice reads the matching head on [CLS])')
  if (v.pooling === 'mask') throw new VideoBertError('InvalidConfig', "finetune --task qa: --pooling mask is for classify (the answer head reads cls, segments or text)")
  const flags = headFlags(v, signal)
  const r = await finetuneQA({ ...flags, pooling: flags.pooling === 'mask' ? undefined : flags.pooling, format })
  if (startedRank() !== 0) return r.fit.stopped === 'aborted' ? 130 : 0 // rank 0 reports
  const summary = { checkpoint: r.checkpoint, answers: r.answers, videos: r.videos, steps: r.fit.state.step, stopped: r.fit.stopped, validation: r.validation }
  if (v.json) {
    process.stdout.write(`${JSON.stringify(summary)}\n`)
  } else {
    const what = format === 'multiple-choice' ? 'multiple choice' : `${r.answers.length} answers`
    process.stdout.write(`fine-tuned ${r.fit.state.step} steps on ${r.videos.train} videos with questions (${what}) → ${r.checkpoint}\n`)
    if (r.validation) printQAReport(r.validation)
  }
  return r.fit.stopped === 'aborted' ? 130 : 0
}

export async function answerCommand(args: string[]): Promise<number> {
  const s = { type: 'string' } as const
  const { values: v } = parseCommand(args, { checkpoint: s, video: s, question: s, choices: s, shards: s, device: s }, false)
  if (v.help) {
    process.stdout.write(`${ANSWER_HELP}\n`)
    return 0
  }
  const p = await loadPretrained(required(v.checkpoint, '--checkpoint DIR', 'answer'), { device: deviceFlag(v.device) })
  if (typeof v.shards === 'string') {
    if (v.video !== undefined || v.question !== undefined) throw new VideoBertError('InvalidConfig', 'answer: give --shards DIR or --video with --question, not both')
    const choices = p.task === 'multiple-choice'
    if (!choices && (p.task !== 'qa' || !p.classes)) throw new VideoBertError('Checkpoint', `${String(v.checkpoint)} is not a question-answering model; fine-tune one with 'videobert finetune --task qa'`)
    const data = new QuestionDataset(await TokenShards.open(v.shards), p.model.config, p.tokenizer, {
      validationFraction: 1,
      featureNorm: p.featureNorm ?? 'none',
      ...(choices ? { format: 'multiple-choice' as const } : { answers: p.classes! }),
    })
    const report = await evaluateQA(p.model, data, 'validation')
    if (v.json) process.stdout.write(`${JSON.stringify(report)}\n`)
    else printQAReport(report)
    return 0
  }
  const [video] = await readVideos(p, [required(v.video, '--video FILE (or --shards DIR)', 'answer')], undefined, 'answer')
  const question = required(v.question, '--question TEXT', 'answer')
  const choices = typeof v.choices === 'string' ? v.choices.split(',').map((c) => c.trim()).filter(Boolean) : undefined
  const [a] = await p.answer(video!.tokens, [{ question, choices }])
  if (v.json) process.stdout.write(`${JSON.stringify({ video: video!.id, ...a })}\n`)
  else process.stdout.write(`${a!.answer}\t${a!.probabilities[0]!.probability.toFixed(3)}\n`)
  return 0
}
