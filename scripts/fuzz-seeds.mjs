#!/usr/bin/env node
// Seeds for the fuzz targets (fuzz/): one valid input of each kind, made with the library itself,
// into fuzz/corpus/<target>/ (libFuzzer grows these directories). The video fixtures seed `decode`.
//   node scripts/fuzz-seeds.mjs            (scripts/fuzz.sh runs it)
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const { VideoBERT, VideoTokenizer, trainVocabulary } = await import(pathToFileURL(join(root, 'dist', 'index.js')).href)
const corpus = join(root, 'fuzz', 'corpus')
const dir = (name) => {
  const d = join(corpus, name)
  mkdirSync(d, { recursive: true })
  return d
}
const work = mkdtempSync(join(tmpdir(), 'videobert-fuzz-seeds-'))
const fixtures = join(root, '__test__', 'fixtures', 'video')

writeFileSync(join(dir('config_json'), 'tiny.json'), JSON.stringify({ preset: undefined, hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 2, decoder_layers: 1 }))
// The Rust tiny preset (what the checkpoint target's config.json is).
const tiny = await VideoBERT.create({ preset: 'tiny', vocabSize: 512, maxTextLen: 16, maxSegments: 8, numRegions: 4, featureDim: 32 })
await tiny.save(join(work, 'ckpt'))
copyFileSync(join(work, 'ckpt', 'model.safetensors'), join(dir('checkpoint'), 'tiny.safetensors'))
copyFileSync(join(work, 'ckpt', 'config.json'), join(dir('config_json'), 'saved.json'))

const manifest = join(work, 'manifest.jsonl')
writeFileSync(manifest, `${JSON.stringify({ video: join(fixtures, 'h264.mp4'), id: 'v', captions: [{ start: 0, end: 1, text: 'a red circle moves left' }], label: { colour: 'red' } })}\n`)
writeFileSync(join(dir('manifest'), 'jsonl'), Buffer.concat([Buffer.from([1]), readFileSync(manifest)]))
writeFileSync(join(dir('manifest'), 'csv'), Buffer.concat([Buffer.from([0]), Buffer.from(`video,caption,start,end\n${join(fixtures, 'h264.mp4')},a red circle,0,1\n`)]))
await trainVocabulary(manifest, join(work, 'tokenizer.json'), { vocabSize: 100, minFrequency: 1 })
copyFileSync(join(work, 'tokenizer.json'), join(dir('tokenizer_json'), 'tokenizer.json'))

await new VideoTokenizer({ fps: 10, framesPerSegment: 4 }).tokenizeManifest(manifest, { out: join(work, 'shards'), workers: 1 })
const json = readFileSync(join(work, 'shards', 'shard-00000.json'))
const st = readFileSync(join(work, 'shards', 'shard-00000.safetensors'))
const n = Buffer.alloc(4)
n.writeUInt32LE(json.length)
writeFileSync(join(dir('shards'), 'h264'), Buffer.concat([n, json, st]))
copyFileSync(join(work, 'shards', 'index.json'), join(corpus, 'shards-index.json'))

for (const f of readdirSync(fixtures)) copyFileSync(join(fixtures, f), join(dir('decode'), f))
console.log(`seeds in ${corpus}`)

// Subtitles: the test matrix's kinds of file, and the subtitle-track fixtures.
const subs = join(root, '__test__', 'fixtures', 'subtitles')
copyFileSync(join(subs, 'talk.srt'), join(dir('subtitles_srt'), 'talk.srt'))
writeFileSync(join(dir('subtitles_srt'), 'odd.srt'), '\ufeff00:01.000 --> 00:02.500 X1:1\r\n{\\an8}<i>a &amp; b</i>\r\n\r\nmore\r\n\r\n2\r\n00:00:00,000 --> 00:00:01,000\r\n[Music]\r\n')
writeFileSync(join(dir('subtitles_vtt'), 'cues.vtt'), 'WEBVTT - t\n\nSTYLE\n::cue {}\n\nNOTE n\n\nid\n00:00.000 --> 00:02.000 align:start\n<v A>so <c.x>this</c><00:01.000> works.\n\n00:02.000 --> 00:02.010\nso this works.\nand more\n')
writeFileSync(join(dir('subtitles_json'), 'whisper.json'), JSON.stringify({ text: 'Hello world.', segments: [{ start: 0, end: 2, text: ' Hello world.', words: [{ word: ' Hello', start: 0, end: 0.8 }, { word: ' world.' }] }] }))
writeFileSync(join(dir('subtitles_json'), 'vosk.json'), `${JSON.stringify({ result: [{ word: 'one', start: 0.1, end: 0.4, conf: 1 }], text: 'one' })}\n${JSON.stringify([{ word: 'two', start: 1, end: 1.2 }])}\n`)
for (const f of readdirSync(subs).filter((f) => /\.(mkv|mp4|webm)$/.test(f))) copyFileSync(join(subs, f), join(dir('subtitle_tracks'), f))
