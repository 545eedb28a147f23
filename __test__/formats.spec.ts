import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

import { formatsMarkdown, VideoTokenizer, videoFormats } from '../src/index.js'
import { expectCode, tempDir } from './helpers.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const dir = join(root, '__test__/fixtures/formats')
interface Fixture { name: string; file: string; container?: string; codec?: string; frames?: string[]; error?: string; damagedFrom?: string }
const reference = JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8')) as { fixtures: Fixture[] }
const decodable = reference.fixtures.filter((f) => f.frames)
const cli = (...args: string[]) => spawnSync(process.execPath, [join(root, 'dist/cli/main.js'), ...args], { encoding: 'utf8', timeout: 60_000 })

// FFmpeg's codec names where its decoder's name differs from the stream's codec name.
const decoderName: Record<string, string> = { msmpeg4v3: 'msmpeg4', flv1: 'flv' }

describe('the format matrix (fixtures from scripts/make-format-fixtures.mjs; pixels checked in crates/videobert-video/tests/formats.rs)', () => {
  it.each(decodable.map((f) => [f.name, f] as const))('%s tokenizes into segments of its sampled frames', async (_, f) => {
    const v = await new VideoTokenizer({ framesPerSegment: 2 }).tokenizeFile(join(dir, f.file))
    expect(v.codec).toBe(decoderName[f.codec!] ?? f.codec)
    expect(v.sampledFrames).toBe(f.frames!.length)
    expect(v.numSegments).toBe(Math.floor(f.frames!.length / 2))
    expect(v.pooled.every((x) => Number.isFinite(x))).toBe(true)
  })

  it('the formats left out on purpose are Decode errors that name them', async () => {
    const refused = reference.fixtures.filter((f) => f.error)
    expect(refused.map((f) => f.file)).toEqual(['hap.mov', 'animated.webp'])
    for (const f of refused) await expectCode(() => new VideoTokenizer().tokenizeFile(join(dir, f.file)), 'Decode', new RegExp(`^cannot decode \\S*/${f.file.replace('.', '\\.')}: ${f.error}`))
  })

  it('a mixed folder tokenizes with `videobert tokenize DIR`: every video extension found, only the unreadable files fail', () => {
    const out = join(tempDir('formats'), 'shards')
    const r = cli('tokenize', dir, '--out', out, '--frames-per-segment', '2', '--json')
    expect(r.status, r.stderr).toBe(2) // finished, some videos failed
    const summary = JSON.parse(r.stdout) as { progress: { videosTotal: number; videosFailed: number }; failures: { id: string; code: string }[] }
    // Not searched for: the PNG sequence's frames and the .webp (images, by extension).
    const videos = reference.fixtures.filter((f) => !f.file.includes('%') && !f.file.endsWith('.webp'))
    expect(summary.progress.videosTotal).toBe(videos.length)
    expect(summary.failures.map((f) => [f.id.split('/').at(-1), f.code]).sort()).toEqual([['damaged-header.wmv', 'Decode'], ['damaged-truncated.gif', 'Decode'], ['hap.mov', 'Decode']])
  })
})

describe('videoFormats() and `videobert formats`', () => {
  const f = videoFormats()

  it('lists what the addon\'s FFmpeg decodes, asked of FFmpeg', () => {
    expect(f.ffmpegVersion).toMatch(/^5\.1/)
    expect(f.license).toMatch(/LGPL/)
    expect(f.configuration).toContain('--enable-decoder=')
    const codecs = new Set(f.videoCodecs.map((c) => c.name))
    for (const fixture of decodable) expect(codecs.has(decoderName[fixture.codec!] ?? fixture.codec!), fixture.codec).toBe(true)
    expect(f.containers.find((c) => c.name === 'asf')).toMatchObject({ description: 'ASF (Advanced / Active Streaming Format)' })
    expect(f.leftOut.map((l) => l.name)).toContain('HAP')
  })

  it('docs/formats.md is generated from this build (npm run docs:formats), with no path of this machine in it', () => {
    const page = formatsMarkdown(f)
    expect(readFileSync(join(root, 'docs/formats.md'), 'utf8')).toBe(page)
    const prefix = /--prefix=(\S+)/.exec(f.configuration)![1]!
    expect(page).not.toContain(prefix)
    expect(page).toContain('--prefix=$PREFIX')
  })

  it('the README and the install guide state the counts of this build', () => {
    for (const page of ['README.md', 'docs/installing.md']) {
      const m = /(\d+) video codecs from (\d+)\s+containers/.exec(readFileSync(join(root, page), 'utf8'))
      expect(m, page).not.toBeNull()
      expect([Number(m![1]), Number(m![2])], page).toEqual([f.videoCodecs.length, f.containers.length])
    }
  })

  it('`videobert formats --json` prints the same, and the plain form one line per format', () => {
    const json = cli('formats', '--json')
    expect(json.status, json.stderr).toBe(0)
    expect(JSON.parse(json.stdout)).toEqual(f)
    const text = cli('formats')
    expect(text.status).toBe(0)
    expect(text.stdout).toMatch(/^FFmpeg 5\.1[^\n]*: \d+ containers, \d+ video codecs/)
    expect(text.stdout).toMatch(/\n {2}prores +Apple ProRes/)
    expect(text.stdout.split('\n').length).toBeGreaterThan(f.containers.length + f.videoCodecs.length)
    const bad = cli('formats', 'extra')
    expect(bad.status).toBe(1)
    expect(bad.stderr).toMatch(/formats: takes no arguments/)
  })
})
