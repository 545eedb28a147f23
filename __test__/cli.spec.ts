import { spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

import { Codebook, TextTokenizer, TokenShards } from '../src/index.js'
import { tempDir } from './helpers.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const fixtures = join(root, '__test__/fixtures/video')

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [join(root, 'dist/cli/main.js'), ...args], { encoding: 'utf8', timeout: 120_000 })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

function csvManifest(dir: string, rows: string[][]): string {
  const path = join(dir, 'manifest.csv')
  writeFileSync(path, ['video,start,end,text,label', ...rows.map((r) => r.map((c) => JSON.stringify(c)).join(','))].join('\n'))
  return path
}

describe('videobert CLI', () => {
  it('--help and errors', () => {
    const help = cli('--help')
    expect(help.code).toBe(0)
    expect(help.stdout).toMatch(/Usage: videobert <command>/)
    expect(cli('tokenize', '--help').stdout).toMatch(/--frames-per-segment N/)
    const unknown = cli('tokenize', 'x.jsonl', '--out', '/tmp/x', '--colour', 'red')
    expect(unknown.code).toBe(1)
    expect(unknown.stderr.trim().split('\n')).toHaveLength(1)
    expect(unknown.stderr).toMatch(/^videobert: .*--colour/)
    expect(cli('frobnicate').code).toBe(1)
    const noOut = cli('tokenize', 'a.mp4')
    expect(noOut.code).toBe(1)
    expect(noOut.stderr).toMatch(/--out DIR is required/)
    expect(cli('tokenize', join(fixtures, 'h264.mp4'), '--out', tempDir('x'), '--extractor', 'backbone').stderr).toMatch(/--extractor backbone needs --weights FILE/)
    expect(cli('tokenize', join(fixtures, 'h264.mp4'), '--out', tempDir('x'), '--extractor', 'alexnet').stderr).toMatch(/must be builtin, builtin_v2, backbone, resnet, clip, mobilenet_v2, efficientnet_lite0, got "alexnet"/)
    const missing = cli('tokenize', join(fixtures, 'h264.mp4'), '--out', tempDir('x'), '--extractor', 'backbone', '--backbone-weights', '/nope.safetensors')
    expect(missing.code).toBe(1)
    expect(missing.stderr).toMatch(/^videobert: Io: .*nope\.safetensors/)
  })

  it('tokenize: exit 0 when all succeed, 2 when some fail; --json summary; resumable; --shard i/n', () => {
    const dir = tempDir('cli')
    const good = csvManifest(dir, [
      [join(fixtures, 'h264.mp4'), '0', '1.5', 'a moving test pattern', 'a'],
      [join(fixtures, 'h264.mp4'), '2', '3', 'the same clip again', 'a'],
      [join(fixtures, 'vp9.webm'), '0', '2', 'vp9 pattern', 'b'],
    ])
    const out = join(dir, 'out')
    const ok = cli('tokenize', good, '--out', out, '--json', '--workers', '2')
    expect(ok.stderr).not.toMatch(/videobert:/)
    expect(ok.code).toBe(0)
    const summary = JSON.parse(ok.stdout)
    expect(summary.progress).toMatchObject({ videosTotal: 2, videosDone: 2, videosFailed: 0 })
    expect(existsSync(join(out, 'index.json'))).toBe(true)

    const resumed = cli('tokenize', good, '--out', out, '--json')
    expect(resumed.code).toBe(0)
    expect(JSON.parse(resumed.stdout).progress.videosSkipped).toBe(2)
    const otherParams = cli('tokenize', good, '--out', out, '--fps', '5')
    expect(otherParams.code).toBe(1)
    expect(otherParams.stderr).toMatch(/other parameters/)

    const bad = join(dir, 'bad.jsonl')
    writeFileSync(bad, [join(fixtures, 'h264.mp4'), join(fixtures, 'random-bytes.mp4'), join(fixtures, 'nope.mp4')].map((v) => JSON.stringify({ video: v })).join('\n'))
    const partial = cli('tokenize', bad, '--out', join(dir, 'bad-out'))
    expect(partial.code).toBe(2)
    expect(partial.stderr).toMatch(/tokenized 1 videos \(0 already done, 2 failed\)/)
    const failures = readFileSync(join(dir, 'bad-out', 'failures.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l))
    expect(failures.map((f: { code: string }) => f.code)).toEqual(['Decode', 'Io'])

    // Two jobs of a 2-way split produce what one job does.
    const many = join(dir, 'many.jsonl')
    writeFileSync(many, ['h264.mp4', 'vp9.webm', 'mpeg4.avi', 'theora.ogv', 'mjpeg.avi'].map((v) => JSON.stringify({ video: join(fixtures, v) })).join('\n'))
    expect(cli('tokenize', many, '--out', join(dir, 'single'), '--videos-per-shard', '2').code).toBe(0)
    expect(cli('tokenize', many, '--out', join(dir, 'split'), '--videos-per-shard', '2', '--shard', '1/2').code).toBe(0)
    expect(cli('tokenize', many, '--out', join(dir, 'split'), '--videos-per-shard', '2', '--shard', '0/2').code).toBe(0)
    for (const f of ['shard-00000.safetensors', 'shard-00001.safetensors', 'shard-00002.safetensors', 'shard-00002.json']) {
      expect(readFileSync(join(dir, 'split', f))).toEqual(readFileSync(join(dir, 'single', f)))
    }
    expect(cli('tokenize', many, '--out', join(dir, 'x'), '--shard', '2/2').code).toBe(1)
  })

  it('codebook fit + assign, and vocab', async () => {
    const dir = tempDir('cli-codebook')
    const out = join(dir, 'shards')
    expect(cli('tokenize', fixtures, '--out', out).code).toBe(2) // the bad fixtures fail
    const fit = cli('codebook', 'fit', '--data', out, '--out', join(dir, 'cb.safetensors'), '--branching', '3', '--depth', '2', '--json')
    expect(fit.code).toBe(0)
    expect(JSON.parse(fit.stdout)).toMatchObject({ words: 9, dim: 44 })
    const assign = cli('codebook', 'assign', '--data', out, '--codebook', join(dir, 'cb.safetensors'), '--json')
    expect(assign.code).toBe(0)
    const shards = await TokenShards.open(out)
    const words = shards.visualWords(0)
    expect(words).not.toBeNull()
    expect(words!.length).toBe(shards.video(0).numSegments)
    expect([...words!].every((w) => w < 9)).toBe(true)
    const cb = await Codebook.load(join(dir, 'cb.safetensors'))
    expect([cb.numWords, cb.dim]).toEqual([9, 44])
    expect(await cb.assign(shards.pooled(0))).toEqual(words)

    const m = csvManifest(dir, [
      [join(fixtures, 'h264.mp4'), '0', '1', 'a red circle moves left', ''],
      [join(fixtures, 'h264.mp4'), '1', '2', 'a blue square moves right', ''],
      [join(fixtures, 'vp9.webm'), '0', '1', 'a green triangle moves up', ''],
    ])
    const vocab = cli('vocab', '--manifest', m, '--out', join(dir, 'tokenizer.json'), '--vocab-size', '300', '--min-frequency', '1', '--json')
    expect(vocab.code).toBe(0)
    expect(JSON.parse(vocab.stdout).vocabSize).toBeGreaterThan(10)
    const tokjson = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8'))
    expect(tokjson.model.vocab['[MASK]']).toBe(4)
    expect(tokjson.model.vocab.circle).toBeGreaterThan(4)
    const text = TextTokenizer.load(join(dir, 'tokenizer.json'))
    const ids = text.encode('A Red Circle moves LEFT', 16)
    expect(text.decode(ids)).toBe('a red circle moves left')
    expect(text.tokenToId('[MASK]')).toBe(4)
    expect(text.encode('a red circle moves left', 2).length).toBe(2)
    expect(text.vocabSize).toBe(JSON.parse(vocab.stdout).vocabSize)
    expect(() => TextTokenizer.load(join(dir, 'missing.json'))).toThrow(expect.objectContaining({ code: 'Io' }))
  })

  it('every verb takes paths relative to its working directory; a manifest\'s paths are relative to the manifest', () => {
    // A project folder with its data in data/ (the manifest names videos relative to itself), each
    // command run from the project's root with relative arguments only, then from another folder.
    const project = tempDir('relative')
    mkdirSync(join(project, 'data', 'videos'), { recursive: true })
    const names = ['h264.mp4', 'vp9.webm', 'mpeg4.avi', 'mjpeg.avi', 'theora.ogv', 'hevc10.mkv']
    const lines = names.map((n, i) => {
      cpSync(join(fixtures, n), join(project, 'data', 'videos', n))
      return JSON.stringify({ id: `v${i}`, video: `videos/${n}`, captions: [{ start: 0, end: 2, text: i % 2 ? 'a red circle moves left' : 'a blue square moves up' }], label: { kind: i % 2 ? 'odd' : 'even' } })
    })
    writeFileSync(join(project, 'data', 'train.jsonl'), `${lines.join('\n')}\n`)
    writeFileSync(join(project, 'labels.csv'), `id,label\n${names.map((_, i) => `v${i},${i % 2 ? 'odd' : 'even'}`).join('\n')}\n`)
    const at = (cwd: string, ...args: string[]) => {
      const r = spawnSync(process.execPath, [join(root, 'dist/cli/main.js'), ...args], { encoding: 'utf8', timeout: 300_000, cwd })
      expect(r.status, `${args.join(' ')}: ${r.stderr}`).toBe(0)
      return r.stdout
    }
    const run = (...args: string[]) => at(project, ...args)
    run('vocab', '--manifest', 'data/train.jsonl', '--out', 'tokenizer.json', '--vocab-size', '200', '--min-frequency', '1')
    run('tokenize', 'data/train.jsonl', '--out', 'shards', '--fps', '5', '--frames-per-segment', '4')
    const elsewhere = join(project, 'elsewhere')
    mkdirSync(elsewhere)
    // The same manifest named from another folder is the same videos: the run resumes (all skipped).
    expect(JSON.parse(at(elsewhere, 'tokenize', '../data/train.jsonl', '--out', '../shards', '--fps', '5', '--frames-per-segment', '4', '--json'))).toMatchObject({ progress: { videosSkipped: 6 } })
    run('codebook', 'fit', '--data', 'shards', '--out', 'codebook.safetensors', '--branching', '2', '--depth', '2')
    run('codebook', 'assign', '--data', 'shards', '--codebook', 'codebook.safetensors')
    run('pretrain', '--data', 'shards', '--tokenizer', 'tokenizer.json', '--out', 'runs/a', '--preset', 'tiny', '--steps', '4', '--batch-size', '2', '--eval-every', '2', '--checkpoint-every', '2', '--validation-fraction', '0.2')
    expect(JSON.parse(run('inspect', 'runs/a', '--json')).kind).toBe('run')
    const ckpt = 'runs/a/checkpoints/step-4'
    run('embed', '--checkpoint', ckpt, '--shards', 'shards', '--out', 'emb.jsonl')
    expect(readFileSync(join(project, 'emb.jsonl'), 'utf8').trim().split('\n')).toHaveLength(6)
    run('fill-mask', '--checkpoint', ckpt, '--video', 'data/videos/h264.mp4', '--prompt', 'a [MASK] circle')
    run('caption', '--checkpoint', ckpt, 'data/videos/vp9.webm')
    run('retrieve', '--checkpoint', ckpt, '--shards', 'shards')
    run('finetune', '--task', 'classify', '--checkpoint', ckpt, '--shards', 'shards', '--labels', 'labels.csv', '--out', 'runs/cls', '--steps', '3', '--validation-fraction', '0.2')
    run('classify', '--checkpoint', 'runs/cls/checkpoints/step-3', '--shards', 'shards', '--label', 'kind')
    // The shards name the videos by their absolute paths: usable from anywhere, e.g. a sibling folder.
    const shards = JSON.parse(readFileSync(join(project, 'shards', 'shard-00000.json'), 'utf8'))
    expect(shards.videos.map((v: { path: string }) => v.path)).toEqual(names.map((n) => join(project, 'data', 'videos', n)))
    at(elsewhere, 'retrieve', '--checkpoint', `../${ckpt}`, '--shards', '../shards')
    at(elsewhere, 'classify', '--checkpoint', '../runs/cls/checkpoints/step-3', '../data/videos/h264.mp4')
  }, 300_000)
})
