/**
 * Visual words end to end (the VideoBERT paper's set-up): a codebook fitted on the shards, ids
 * assigned to them, pre-training with `videoInput: 'visual_words'` and the softmax video loss, the
 * codebook carried in the checkpoint, and new video files given the same words at inference.
 * Also: a manifest's extra fields reach the dataset as per-video metadata.
 */
import { spawnSync } from 'node:child_process'
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { beforeAll, describe, expect, it } from 'vitest'

import { assignCodebookToShards, CODEBOOK_FILE, fitCodebookOnShards, loadPretrained, pretrain, TokenShards, VideoTokenizer } from '../src/index.js'
import { buildCorpus, CORPUS } from './corpus.js'
import { expectCode, tempDir } from './helpers.js'

const fixtures = fileURLToPath(new URL('./fixtures/video/', import.meta.url))
const cli = join(import.meta.dirname, '..', 'dist', 'cli', 'main.js')
let dir: string

beforeAll(async () => {
  dir = tempDir('visual-words')
  await buildCorpus(dir)
  // A copy without visual words, for the refusal below.
  cpSync(join(dir, 'shards'), join(dir, 'plain'), { recursive: true })
})

describe('visual words', () => {
  it('codebook → shards → pre-training (ce loss) → checkpoint with the codebook → the same words for a new file', async () => {
    const shardsDir = join(dir, 'shards')
    const info = await fitCodebookOnShards(shardsDir, join(dir, 'codebook.safetensors'), { branching: 3, depth: 2, seed: 1 })
    expect(info.words).toBe(9)
    expect(await assignCodebookToShards(shardsDir, join(dir, 'codebook.safetensors'))).toBeGreaterThan(20)
    expect(existsSync(join(shardsDir, CODEBOOK_FILE))).toBe(true)
    const shards = await TokenShards.open(shardsDir)
    const words = Array.from({ length: shards.length }, (_, i) => Array.from(shards.visualWords(i)!))
    expect(new Set(words.flat()).size).toBeGreaterThan(3) // the segments are spread over the words
    // Standardised by default: the codebook carries the mean and 1/std it assigns with; --raw does not.
    const header = (file: string) => {
      const bytes = readFileSync(file)
      return JSON.parse(bytes.subarray(8, 8 + Number(bytes.readBigUInt64LE(0))).toString('utf8')) as Record<string, { shape: number[] }>
    }
    expect(header(join(dir, 'codebook.safetensors'))).toMatchObject({ standardize_mean: { shape: [44] }, standardize_inv_std: { shape: [44] } })
    const raw = spawnSync(process.execPath, [cli, 'codebook', 'fit', '--data', shardsDir, '--out', join(dir, 'raw.safetensors'), '--branching', '3', '--depth', '2', '--raw'], { encoding: 'utf8' })
    expect(raw.status, raw.stderr).toBe(0)
    expect(Object.keys(header(join(dir, 'raw.safetensors'))).sort()).toEqual(['__metadata__', 'level_1', 'level_2'])

    const fit = await pretrain({
      data: shardsDir,
      tokenizer: join(dir, 'tokenizer.json'),
      out: join(dir, 'run'),
      preset: 'tiny',
      steps: 4,
      evalEvery: 2,
      checkpointEvery: 2,
      // numVisualWords comes from the shards' codebook.
      config: { videoInput: 'visual_words', videoLoss: 'ce', numRegions: 0, maxSegments: 4, maxTextLen: 12 },
      progress: false,
    })
    expect(fit.state.step).toBe(4)
    expect(fit.model.config.numVisualWords).toBe(9)
    // The softmax over 9 words starts near ln 9 and is what the video loss reports.
    const first = fit.lastValidation!
    expect(first.videoLoss).toBeGreaterThan(1)
    expect(first.videoLoss).toBeLessThan(3.5)
    const ckpt = join(dir, 'run', 'checkpoints', 'step-4')
    expect(existsSync(join(ckpt, CODEBOOK_FILE))).toBe(true)

    // A video file given to the loaded checkpoint gets the words the shards hold for it.
    const p = await loadPretrained(ckpt)
    const i = Array.from({ length: shards.length }, (_, k) => shards.video(k).path).findIndex((path) => path.endsWith(CORPUS[0]!))
    const tokens = await p.tokens(join(fixtures, CORPUS[0]!))
    expect(Array.from(tokens.visualWords!)).toEqual(words[i])
    // Every inference verb reads the words: embeddings, text embeddings, fill-mask, captions.
    const file = join(fixtures, CORPUS[0]!)
    const [emb] = await p.embedVideos([file])
    expect(emb!.pooled.every(Number.isFinite)).toBe(true)
    const [text] = await p.embedTexts(['a red circle'])
    expect(text!.every(Number.isFinite)).toBe(true)
    const [blank] = await p.fillMask(file, 'a [MASK] circle', { topK: 2 })
    expect(blank!.predictions).toHaveLength(2)
    const [caption] = await p.caption([file], { maxLength: 4 })
    expect(caption!.text.length).toBeGreaterThan(0)
  })

  it('refuses shards without visual words for a visual-word model, saying what to run', async () => {
    await expectCode(
      () =>
        pretrain({
          data: join(dir, 'plain'),
          tokenizer: join(dir, 'tokenizer.json'),
          out: join(dir, 'run-plain'),
          preset: 'tiny',
          steps: 2,
          config: { videoInput: 'visual_words', videoLoss: 'ce', numVisualWords: 9, numRegions: 0 },
          progress: false,
        }),
      'InvalidInput',
      /codebook assign/,
    )
  })
})

describe('manifest metadata', () => {
  it('keeps the fields besides video/id/captions/label with the video, in the shards the dataset reads', async () => {
    const m = join(dir, 'meta.jsonl')
    writeFileSync(m, `${JSON.stringify({ video: join(fixtures, 'h264.mp4'), id: 'a', captions: [{ start: 0, end: 1, text: 'hello' }], camera: 'north', tags: ['park', 3] })}\n`)
    await new VideoTokenizer({ fps: 10, framesPerSegment: 4 }).tokenizeManifest(m, { out: join(dir, 'meta-shards'), workers: 1 })
    const shards = await TokenShards.open(join(dir, 'meta-shards'))
    expect(shards.video(0).metadata).toEqual({ camera: 'north', tags: ['park', 3] })
    expect(shards.video(0).id).toBe('a')
  })
})
