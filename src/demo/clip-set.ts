/**
 * A captioned set of synthetic clips on disk: each clip rendered (a function of its spec) and
 * encoded in-process by the addon's FFmpeg, and one JSONL manifest per split (SPEC §2.3) naming the
 * videos relative to itself, with the caption over the whole clip and the clip's labels. Clips of
 * the same plan already on disk are kept, so re-running is cheap. Used by the demo's shapes and the
 * second domain (patterns).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'

import { VideoBertError } from '../errors.js'
import { writeVideo, type WriteVideoOptions } from '../video-writer.js'

export interface ClipPlan {
  id: string
  split: 'train' | 'test'
  caption: string
  /** Seconds. */
  duration: number
}

export interface WrittenSet<C extends ClipPlan> {
  clips: C[]
  /** Manifests (JSONL) of each split. */
  manifests: { train: string; test: string }
}

export interface ClipSetOptions {
  workers?: number
  signal?: AbortSignal
  onProgress?: (done: number, total: number) => void
}

/** Render `clips` into `dir/videos` and write `dir/train.jsonl` and `dir/test.jsonl`. */
export async function writeClipSet<C extends ClipPlan>(
  dir: string,
  clips: C[],
  render: (clip: C) => Uint8Array,
  encoding: WriteVideoOptions,
  labelOf: (clip: C) => Record<string, string>,
  options: ClipSetOptions = {},
  /** Further manifest fields of a clip (e.g. its `questions`). */
  extraOf: (clip: C) => Record<string, unknown> = () => ({}),
): Promise<WrittenSet<C>> {
  const videos = join(dir, 'videos')
  // Clips on disk are reused only if they were rendered from this very plan (same seed and options).
  const planPath = join(dir, 'plan.json')
  const { frameRate, codec, quality } = encoding
  const plan = JSON.stringify({ clips, frameRate, encoding: { codec, quality } })
  if (existsSync(planPath) && readFileSync(planPath, 'utf8') !== plan) rmSync(videos, { recursive: true, force: true })
  mkdirSync(videos, { recursive: true })
  writeFileSync(planPath, plan)
  const pathOf = (c: C) => join(videos, `${c.id}.mp4`)
  const todo = clips.filter((c) => !existsSync(pathOf(c)))
  let done = clips.length - todo.length
  options.onProgress?.(done, clips.length)
  const workers = Math.max(1, options.workers ?? availableParallelism())
  let cursor = 0
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (cursor < todo.length) {
        if (options.signal?.aborted) throw new VideoBertError('Cancelled', 'cancelled')
        const c = todo[cursor++]!
        const tmp = `${pathOf(c)}.tmp.mp4` // renamed when complete: a half-written clip is never kept
        await writeVideo(tmp, render(c), encoding)
        renameSync(tmp, pathOf(c))
        options.onProgress?.(++done, clips.length)
      }
    }),
  )
  const manifests = { train: join(dir, 'train.jsonl'), test: join(dir, 'test.jsonl') }
  for (const split of ['train', 'test'] as const) {
    const lines = clips
      .filter((c) => c.split === split)
      .map((c) =>
        JSON.stringify({
          id: c.id,
          video: `videos/${c.id}.mp4`, // relative to the manifest: the set can be moved or read from anywhere
          captions: [{ start: 0, end: c.duration, text: c.caption }],
          label: labelOf(c),
          ...extraOf(c),
        }),
      )
    writeFileSync(manifests[split], `${lines.join('\n')}\n`)
  }
  return { clips, manifests }
}
