/** `videobert fill-mask`: zero-shot prediction of the `[MASK]` words of a prompt, given a video. */
import { parseArgs } from 'node:util'

import { VideoBertError } from '../errors.js'
import { fillMask } from '../inference/fill-mask.js'
import { loadPretrained } from '../inference/pretrained.js'
import { VideoTokenizer } from '../tokenizer.js'

export const FILL_MASK_HELP = `Usage: videobert fill-mask --checkpoint DIR --video FILE --prompt TEXT [options]

Predicts every [MASK] of the prompt from the video and the rest of the prompt (the masked-language-
model head), e.g. --prompt "a [MASK] circle moves [MASK]". The video is tokenized as the checkpoint's
training data was (video_tokenizer.json in the checkpoint); its first maxSegments segments are used.

Options:
  --checkpoint DIR      a checkpoint directory (run/checkpoints/step-N)
  --video FILE          the video
  --prompt TEXT         text with one or more [MASK]
  --top-k N             predictions per [MASK] (default 5)
  --candidates a,b,c    only these words compete (each one token of the vocabulary)
  --json                print the result as JSON on stdout`

export async function fillMaskCommand(args: string[]): Promise<number> {
  const s = { type: 'string' } as const
  let v
  try {
    v = parseArgs({ args, options: { checkpoint: s, video: s, prompt: s, 'top-k': s, candidates: s, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, strict: true }).values
  } catch (err) {
    throw new VideoBertError('InvalidConfig', (err as Error).message)
  }
  if (v.help) {
    process.stdout.write(`${FILL_MASK_HELP}\n`)
    return 0
  }
  if (!v.checkpoint || !v.video || v.prompt === undefined) throw new VideoBertError('InvalidConfig', 'fill-mask: --checkpoint DIR, --video FILE and --prompt TEXT are required')
  const topK = v['top-k'] === undefined ? 5 : Number(v['top-k'])
  if (!Number.isInteger(topK) || topK <= 0) throw new VideoBertError('InvalidConfig', `--top-k expects a positive integer, got '${v['top-k']}'`)
  const p = await loadPretrained(v.checkpoint)
  const video = await new VideoTokenizer(p.videoTokenizer ?? {}).tokenizeFile(v.video)
  const blanks = await fillMask(p, video, v.prompt, { topK, candidates: v.candidates?.split(',').map((w) => w.trim()).filter(Boolean) })
  if (v.json) {
    process.stdout.write(`${JSON.stringify({ prompt: v.prompt, video: v.video, blanks })}\n`)
  } else {
    for (const b of blanks) {
      process.stdout.write(`[MASK] ${b.blank + 1}: ${b.predictions.map((x) => `${x.token} ${x.probability.toFixed(3)}`).join('  ')}\n`)
    }
  }
  return 0
}
