/** A small captioned corpus from the video fixtures: token shards + a WordPiece vocabulary. */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

import { TextTokenizer, TokenShards, trainVocabulary, VideoTokenizer } from '../src/index.js'

const fixtures = fileURLToPath(new URL('./fixtures/video/', import.meta.url))
export const CORPUS = ['h264.mp4', 'vp9.webm', 'mpeg4.avi', 'mjpeg.avi', 'theora.ogv', 'av1.mkv', 'hevc10.mkv', 'with spaces ünïcödé.mp4', 'odd-97x61.mp4', 'gray.mkv']

export async function buildCorpus(dir: string, extra: (i: number) => Record<string, unknown> = () => ({})): Promise<{ shards: TokenShards; tokenizer: TextTokenizer }> {
  const manifest = join(dir, 'manifest.jsonl')
  const words = ['red', 'green', 'blue', 'circle', 'square', 'left', 'right']
  writeFileSync(
    manifest,
    CORPUS.map((n, i) =>
      JSON.stringify({
        video: join(fixtures, n),
        id: `v${i}`,
        captions: [
          { start: 0, end: 0.8, text: `a ${words[i % 3]} ${words[3 + (i % 2)]}` },
          { start: 1.7, end: 3, text: `moves ${words[5 + (i % 2)]}` },
        ],
        ...extra(i),
      }),
    ).join('\n'),
  )
  await new VideoTokenizer({ fps: 10, framesPerSegment: 4 }).tokenizeManifest(manifest, { out: join(dir, 'shards'), workers: 2 })
  await trainVocabulary(manifest, join(dir, 'tokenizer.json'), { vocabSize: 100, minFrequency: 1 })
  return { shards: await TokenShards.open(join(dir, 'shards')), tokenizer: TextTokenizer.load(join(dir, 'tokenizer.json')) }
}
