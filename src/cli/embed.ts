/** `videobert embed`: video and text embeddings from a checkpoint → JSONL or safetensors. */
import { writeFileSync } from 'node:fs'

import { VideoBertError } from '../errors.js'
import { EMBED_DEFAULTS, embedTexts, embedVideos } from '../inference/embed.js'
import { loadPretrained } from '../pretrained.js'
import { writeSafetensors } from '../safetensors.js'
import { deviceFlag, parseCommand, positiveInt, required } from './args.js'
import { ProgressLine } from '../progress.js'
import { readVideos } from './videos.js'

export const EMBED_HELP = `Usage: videobert embed --checkpoint DIR --out FILE (VIDEO... | --shards DIR) [--text TEXT ...] [options]

Encoder embeddings. A video is read alone (empty text): its embedding is the mean of its segment
outputs (also given: the [CLS] output and one row per segment). A text is read alone (no video): its
embedding is the mean of its word-piece outputs. Videos are tokenized as the checkpoint's training
data was (video_tokenizer.json); a video longer than maxSegments segments is read in windows.

Options:
  --checkpoint DIR     a checkpoint directory
  --out FILE           .jsonl (one object per video / text) or .safetensors (matrices, ids in the metadata)
  --shards DIR         embed every video of a shard set (videobert tokenize) instead of files
  --text TEXT          a text to embed (repeatable)
  --segments           also write the per-segment rows (JSONL; always in safetensors)
  --batch-size N       windows per native call (default ${EMBED_DEFAULTS.batchSize})
  --device NAME        cpu, cuda or cuda:N (default cpu; CUDA needs the CUDA build)
  --json               print a summary as JSON on stdout`

export async function embedCommand(args: string[]): Promise<number> {
  const s = { type: 'string' } as const
  const { values: v, positionals } = parseCommand(args, {
    device: s, checkpoint: s, out: s, shards: s, text: { type: 'string', multiple: true }, segments: { type: 'boolean' }, 'batch-size': s,
  })
  if (v.help) {
    process.stdout.write(`${EMBED_HELP}\n`)
    return 0
  }
  const checkpoint = required(v.checkpoint, '--checkpoint DIR', 'embed')
  const out = required(v.out, '--out FILE', 'embed')
  const format = out.endsWith('.safetensors') ? 'safetensors' : out.endsWith('.jsonl') ? 'jsonl' : null
  if (!format) throw new VideoBertError('InvalidConfig', `embed: --out must end in .jsonl or .safetensors, got '${out}'`)
  const batchSize = positiveInt(v['batch-size'], 'batch-size', EMBED_DEFAULTS.batchSize)
  const texts = (v.text as string[] | undefined) ?? []
  const p = await loadPretrained(checkpoint, { device: deviceFlag(v.device) })
  const videos = positionals.length > 0 || v.shards ? await readVideos(p, positionals, v.shards as string | undefined, 'embed') : []
  if (videos.length === 0 && texts.length === 0) throw new VideoBertError('InvalidConfig', 'embed: nothing to embed (give videos, --shards DIR or --text)')
  const line = new ProgressLine()
  const videoEmb = await embedVideos(p, videos.map((x) => x.tokens), { batchSize, onProgress: (d, n) => line.update(`embed: video windows ${d}/${n}`) })
  const textEmb = await embedTexts(p, texts, { batchSize, onProgress: (d, n) => line.update(`embed: texts ${d}/${n}`) })
  line.done()
  const H = p.model.config.hiddenSize
  if (format === 'jsonl') {
    const rows = [
      ...videos.map((x, i) => ({ kind: 'video', id: x.id, numSegments: videoEmb[i]!.numSegments, embedding: [...videoEmb[i]!.pooled], cls: [...videoEmb[i]!.cls], ...(v.segments ? { segments: [...videoEmb[i]!.segments] } : {}) })),
      ...texts.map((t, i) => ({ kind: 'text', text: t, embedding: [...textEmb[i]!] })),
    ]
    writeFileSync(out, rows.map((r) => `${JSON.stringify(r)}\n`).join(''))
  } else {
    const cat = (parts: Float32Array[]) => {
      const all = new Float32Array(parts.reduce((n, x) => n + x.length, 0))
      let at = 0
      for (const x of parts) {
        all.set(x, at)
        at += x.length
      }
      return all
    }
    const tensors: Record<string, { shape: number[]; data: Float32Array }> = {}
    if (videos.length > 0) {
      tensors['video.embedding'] = { shape: [videos.length, H], data: cat(videoEmb.map((e) => e.pooled)) }
      tensors['video.cls'] = { shape: [videos.length, H], data: cat(videoEmb.map((e) => e.cls)) }
      const total = videoEmb.reduce((n, e) => n + e.numSegments, 0)
      tensors['video.segments'] = { shape: [total, H], data: cat(videoEmb.map((e) => e.segments)) }
    }
    if (texts.length > 0) tensors['text.embedding'] = { shape: [texts.length, H], data: cat(textEmb) }
    writeSafetensors(out, tensors, {
      video_ids: JSON.stringify(videos.map((x) => x.id)),
      video_segments: JSON.stringify(videoEmb.map((e) => e.numSegments)),
      texts: JSON.stringify(texts),
    })
  }
  const summary = { out, format, videos: videos.length, texts: texts.length, hiddenSize: H }
  process.stdout.write(v.json ? `${JSON.stringify(summary)}\n` : `embed: ${videos.length} videos, ${texts.length} texts (H = ${H}) → ${out}\n`)
  return 0
}
