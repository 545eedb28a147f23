/** `videobert fill-mask`: zero-shot prediction of the `[MASK]` words of a prompt, given a video. */
import { VideoBertError } from '../errors.js'
import { FILL_MASK_DEFAULTS } from '../inference/fill-mask.js'
import { loadPretrained } from '../pretrained.js'
import { deviceFlag, optionalNonNegative, optionalPositive, parseCommand, positiveInt } from './args.js'

export const FILL_MASK_HELP = `Usage: videobert fill-mask --checkpoint DIR --video FILE --prompt TEXT [options]

Predicts every [MASK] of the prompt from the video and the rest of the prompt (the masked-language-
model head), e.g. --prompt "a [MASK] circle moves [MASK]". The video is tokenized as the checkpoint's
training data was (video_tokenizer.json in the checkpoint); a video longer than maxSegments segments
is read window by window and the predictions averaged.

Options:
  --checkpoint DIR      a checkpoint directory (run/checkpoints/step-N)
  --video FILE          the video
  --prompt TEXT         text with one or more [MASK]
  --top-k N             predictions per [MASK] (default ${FILL_MASK_DEFAULTS.topK})
  --candidates a,b,c    only these words compete (each one token of the vocabulary)
  --start SECONDS       read only the segments from here (default: the start)
  --end SECONDS         … to here (default: the end)
  --device NAME         cpu, cuda or cuda:N (default cpu; CUDA needs the CUDA build)
  --json                print the result as JSON on stdout`

export async function fillMaskCommand(args: string[]): Promise<number> {
  const s = { type: 'string' } as const
  const { values: v } = parseCommand(args, { device: s, checkpoint: s, video: s, prompt: s, 'top-k': s, candidates: s, start: s, end: s }, false)
  if (v.help) {
    process.stdout.write(`${FILL_MASK_HELP}\n`)
    return 0
  }
  if (typeof v.checkpoint !== 'string' || typeof v.video !== 'string' || typeof v.prompt !== 'string') {
    throw new VideoBertError('InvalidConfig', 'fill-mask: --checkpoint DIR, --video FILE and --prompt TEXT are required')
  }
  const topK = positiveInt(v['top-k'], 'top-k', FILL_MASK_DEFAULTS.topK)
  const p = await loadPretrained(v.checkpoint, { device: deviceFlag(v.device) })
  const candidates = typeof v.candidates === 'string' ? v.candidates.split(',').map((w) => w.trim()).filter(Boolean) : undefined
  const blanks = await p.fillMask(v.video, v.prompt, { topK, candidates, start: optionalNonNegative(v.start, 'start'), end: optionalPositive(v.end, 'end') })
  if (v.json) {
    process.stdout.write(`${JSON.stringify({ prompt: v.prompt, video: v.video, blanks })}\n`)
  } else {
    for (const b of blanks) {
      process.stdout.write(`[MASK] ${b.blank + 1}: ${b.predictions.map((x) => `${x.token} ${x.probability.toFixed(3)}`).join('  ')}\n`)
    }
  }
  return 0
}
