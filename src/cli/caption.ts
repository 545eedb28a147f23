/** `videobert caption` (the fine-tuned decoder, or iterative masked decoding) and `videobert finetune --task caption`. */
import { VideoBertError } from '../errors.js'
import { CAPTION_DEFAULTS as C, captionVideos, SUPERVISED_DEFAULTS as S } from '../inference/caption.js'
import { videoInput } from '../inference/context.js'
import { timeRange } from '../inference/moments.js'
import { loadPretrained } from '../pretrained.js'
import { FINETUNE_DEFAULTS as F } from '../training/finetune.js'
import { CAPTION_FINETUNE_DEFAULTS as CF, finetuneCaptioner } from '../training/finetune-caption.js'
import { choice, deviceFlag, number, optionalInt, optionalNonNegative, optionalPositive, optionalPositiveInt, parseCommand, positiveInt, required } from './args.js'
import { DISTRIBUTED_HELP, headFlags, LAYER_RATE_HELP } from './finetune-flags.js'
import { startedRank } from '../distributed.js'
import { ProgressLine } from '../progress.js'
import { readVideos } from './videos.js'

export const CAPTION_HELP = `Usage: videobert caption --checkpoint DIR (VIDEO... | --shards DIR) [options]

Writes a caption for each video (its first maxSegments segments, or those of --start..--end). A checkpoint fine-tuned with
'videobert finetune --task caption' has a caption decoder, which writes left to right (greedy or
beam search). Any other checkpoint captions zero-shot with the masked-language-model head: start
from [MASK] tokens and fill the surest one at each step; every length from --min-length to
--max-length is decoded and the caption with the best mean log-probability per word piece printed.

Options:
  --checkpoint DIR      a checkpoint directory
  --shards DIR          caption every video of a shard set instead of files
  --start SECONDS       caption the segments from here (default: the start)
  --end SECONDS         … to here (default: the end; at most maxSegments segments are read)
  --decoder D           auto (the caption decoder when the checkpoint has one), supervised (an error
                        without one) or masked (default ${C.decoder})
  --strategy S          greedy, beam or top-k (top-k: masked decoding only; default ${C.strategy})
  --beam-size N         beams (decoder) / partial captions kept per length (masked; default ${C.beamSize})
  --length-penalty A    decoder beams are ranked by log P / (length + 1)^A (default ${C.lengthPenalty})
  --no-repeat-ngram N   the decoder never repeats an N-gram; 0 = off (default ${C.noRepeatNgram})
  --top-k N             words sampled from (top-k; default ${C.topK})
  --temperature X       top-k sampling temperature (default ${C.temperature})
  --seed N              top-k sampling seed (default ${C.seed})
  --min-length N        shortest caption in word pieces (default ${C.minLength} masked, ${S.minLength} decoder)
  --max-length N        longest caption in word pieces (default min(maxTextLen, ${C.maxLength}) masked, maxTextLen decoder)
  --allow-repeat        masked decoding may write a word piece twice (by default it never does)
  --device NAME         cpu, cuda or cuda:N (default cpu; CUDA needs the CUDA build)
  --json                print the captions as JSON on stdout`

export const FINETUNE_CAPTION_HELP = `Usage: videobert finetune --task caption --checkpoint DIR --shards DIR --out RUN [options]

Fine-tunes supervised captioning on a pre-trained checkpoint: a Transformer caption decoder
(causal self-attention, cross-attention to the encoder's outputs, word embeddings tied to the
encoder's) trained end to end with teacher forcing and label smoothing on the videos' captions
(each window of a video paired with the captions that overlap it; the encoder reads the video
alone). The final checkpoint (RUN/checkpoints/step-N) is what 'videobert caption' writes with.
Prints BLEU-4, METEOR, ROUGE-L and CIDEr-D of the held-out videos' generated captions.

Options:
  --task caption             supervised captioning (see 'videobert finetune --help' for the other tasks)
  --checkpoint DIR           the pre-trained checkpoint
  --shards DIR               token shards of the captioned videos
  --validation-fraction X    videos held out for the report (default ${F.validationFraction})
  --out RUN                  run directory (must not hold an earlier run's checkpoints)
  --decoder-layers N         layers of the caption decoder (default ${CF.decoderLayers})
  --label-smoothing X        label smoothing of the captioning loss (default ${CF.labelSmoothing})
  --steps N                  optimizer steps (default ${CF.steps})
  --batch-size N             (default ${F.batchSize})
  --lr X                     peak learning rate (default ${CF.lr}; ${100 * F.warmupFraction} % warm-up, cosine decay)
${LAYER_RATE_HELP}
  --strategy S               how the report's captions are decoded: greedy or beam (default greedy)
  --beam-size N              beams for --strategy beam (default ${C.beamSize})
  --seed N                   (default ${F.seed})
  --from-scratch             same architecture, random initial weights (the baseline)
  --threads N                threads for tensor math (default: physical cores)
  --device NAME              cpu, cuda or cuda:N (default cpu; CUDA needs the CUDA build)
${DISTRIBUTED_HELP}
  --json                     print the result as JSON on stdout`

/** \`finetune --task caption\`, given the options \`finetune\` parsed (the other tasks' options refused). */
export async function finetuneCaptionCommand(v: Record<string, unknown>, signal: AbortSignal): Promise<number> {
  for (const flag of ['label', 'labels', 'classes', 'label-fraction', 'prompt', 'pooling', 'format']) {
    if (v[flag] !== undefined) throw new VideoBertError('InvalidConfig', `finetune --task caption: --${flag} is for another task (the targets are the manifest's captions)`)
  }
  const r = await finetuneCaptioner({
    ...headFlags(v, signal, CF),
    decoderLayers: positiveInt(v['decoder-layers'], 'decoder-layers', CF.decoderLayers),
    labelSmoothing: number(v['label-smoothing'], 'label-smoothing', CF.labelSmoothing, 0, 0.99),
    generate: { strategy: choice(v.strategy, 'strategy', ['greedy', 'beam'] as const, 'greedy'), beamSize: positiveInt(v['beam-size'], 'beam-size', C.beamSize) },
  })
  if (startedRank() !== 0) return r.fit.stopped === 'aborted' ? 130 : 0 // rank 0 reports
  const summary = { checkpoint: r.checkpoint, videos: r.videos, steps: r.fit.state.step, stopped: r.fit.stopped, validation: r.validation }
  if (v.json) {
    process.stdout.write(`${JSON.stringify(summary)}\n`)
  } else {
    process.stdout.write(`fine-tuned ${r.fit.state.step} steps on ${r.videos.train} captioned videos → ${r.checkpoint}\n`)
    if (r.validation) {
      const s = r.validation.scores
      process.stdout.write(`held-out videos (${r.validation.windows} windows): BLEU-4 ${s.bleu4.toFixed(3)}  METEOR ${s.meteor.toFixed(3)}  ROUGE-L ${s.rougeL.toFixed(3)}  CIDEr-D ${s.ciderD.toFixed(3)}\n`)
      for (const e of r.validation.examples.slice(0, 4)) process.stdout.write(`  ${e.caption}  (reference: ${e.reference})\n`)
    }
  }
  return r.fit.stopped === 'aborted' ? 130 : 0
}

export async function captionCommand(args: string[]): Promise<number> {
  const s = { type: 'string' } as const
  const { values: v, positionals } = parseCommand(args, {
    device: s, checkpoint: s, shards: s, decoder: s, strategy: s, 'beam-size': s, 'length-penalty': s, 'no-repeat-ngram': s, 'top-k': s, temperature: s, seed: s,
    'min-length': s, 'max-length': s, 'allow-repeat': { type: 'boolean' }, start: s, end: s,
  })
  if (v.help) {
    process.stdout.write(`${CAPTION_HELP}\n`)
    return 0
  }
  const p = await loadPretrained(required(v.checkpoint, '--checkpoint DIR', 'caption'), { device: deviceFlag(v.device) })
  const options = {
    decoder: choice(v.decoder, 'decoder', ['auto', 'masked', 'supervised'] as const, C.decoder),
    strategy: choice(v.strategy, 'strategy', ['greedy', 'beam', 'top-k'] as const, C.strategy),
    beamSize: positiveInt(v['beam-size'], 'beam-size', C.beamSize),
    lengthPenalty: number(v['length-penalty'], 'length-penalty', C.lengthPenalty, 0, 10),
    noRepeatNgram: optionalInt(v['no-repeat-ngram'], 'no-repeat-ngram') ?? C.noRepeatNgram,
    topK: positiveInt(v['top-k'], 'top-k', C.topK),
    temperature: number(v.temperature, 'temperature', C.temperature, 1e-6),
    seed: number(v.seed, 'seed', C.seed, 0),
    minLength: optionalPositiveInt(v['min-length'], 'min-length'),
    maxLength: optionalPositiveInt(v['max-length'], 'max-length'),
    noRepeat: !v['allow-repeat'],
  }
  const [from, to] = [optionalNonNegative(v.start, 'start'), optionalPositive(v.end, 'end')]
  const videos = (await readVideos(p, positionals, v.shards as string | undefined, 'caption')).map((x) =>
    from !== undefined || to !== undefined ? { ...x, tokens: timeRange(x.tokens, from, to) } : x,
  )
  const line = new ProgressLine()
  const out: { id: string; caption: string; score: number }[] = []
  const chunk = 16
  for (let start = 0; start < videos.length; start += chunk) {
    const part = videos.slice(start, start + chunk)
    const caps = await captionVideos(p, part.map((x) => videoInput(p, x.tokens)), options)
    part.forEach((x, i) => out.push({ id: x.id, caption: caps[i]!.text, score: caps[i]!.score }))
    line.update(`caption: ${out.length}/${videos.length} videos`)
  }
  line.done()
  const decoder = options.decoder === 'auto' ? (p.model.config.decoderLayers > 0 ? 'supervised' : 'masked') : options.decoder
  if (v.json) process.stdout.write(`${JSON.stringify({ options: { ...options, decoder }, captions: out })}\n`)
  else for (const c of out) process.stdout.write(`${c.id}\t${c.caption}\t(${c.score.toFixed(3)})\n`)
  return 0
}
