/** `videobert caption`: captions for videos by iterative masked decoding. */
import { CAPTION_DEFAULTS as C, captionVideos } from '../inference/caption.js'
import { videoInput } from '../inference/context.js'
import { loadPretrained } from '../inference/pretrained.js'
import { choice, deviceFlag, number, parseCommand, positiveInt, required } from './args.js'
import { ProgressLine } from '../progress.js'
import { readVideos } from './videos.js'

export const CAPTION_HELP = `Usage: videobert caption --checkpoint DIR (VIDEO... | --shards DIR) [options]

Writes a caption for each video (its first maxSegments segments) with the masked-language-model head:
start from [MASK] tokens and fill the surest one at each step. Every length from --min-length to
--max-length is decoded; the caption with the best mean log-probability per word piece is printed.

Options:
  --checkpoint DIR      a checkpoint directory
  --shards DIR          caption every video of a shard set instead of files
  --strategy S          greedy, beam or top-k (default ${C.strategy})
  --beam-size N         partial captions kept per length (beam; default ${C.beamSize})
  --top-k N             words sampled from (top-k; default ${C.topK})
  --temperature X       top-k sampling temperature (default ${C.temperature})
  --seed N              top-k sampling seed (default ${C.seed})
  --min-length N        shortest caption in word pieces (default ${C.minLength})
  --max-length N        longest caption in word pieces (default min(maxTextLen, ${C.maxLength}))
  --allow-repeat        allow a word piece twice (by default the repetition guard forbids it)
  --device NAME         cpu, cuda or cuda:N (default cpu; CUDA needs the CUDA build)
  --json                print the captions as JSON on stdout`

export async function captionCommand(args: string[]): Promise<number> {
  const s = { type: 'string' } as const
  const { values: v, positionals } = parseCommand(args, {
    device: s, checkpoint: s, shards: s, strategy: s, 'beam-size': s, 'top-k': s, temperature: s, seed: s, 'min-length': s, 'max-length': s, 'allow-repeat': { type: 'boolean' },
  })
  if (v.help) {
    process.stdout.write(`${CAPTION_HELP}\n`)
    return 0
  }
  const p = await loadPretrained(required(v.checkpoint, '--checkpoint DIR', 'caption'), { device: deviceFlag(v.device) })
  const options = {
    strategy: choice(v.strategy, 'strategy', ['greedy', 'beam', 'top-k'] as const, C.strategy),
    beamSize: positiveInt(v['beam-size'], 'beam-size', C.beamSize),
    topK: positiveInt(v['top-k'], 'top-k', C.topK),
    temperature: number(v.temperature, 'temperature', C.temperature, 1e-6),
    seed: number(v.seed, 'seed', C.seed, 0),
    minLength: positiveInt(v['min-length'], 'min-length', C.minLength),
    maxLength: positiveInt(v['max-length'], 'max-length', Math.min(p.model.config.maxTextLen, C.maxLength)),
    noRepeat: !v['allow-repeat'],
  }
  const videos = await readVideos(p, positionals, v.shards as string | undefined, 'caption')
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
  if (v.json) process.stdout.write(`${JSON.stringify({ options, captions: out })}\n`)
  else for (const c of out) process.stdout.write(`${c.id}\t${c.caption}\t(${c.score.toFixed(3)})\n`)
  return 0
}
