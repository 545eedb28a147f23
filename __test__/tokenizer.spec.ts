import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

import { computeBuiltinFeatures, TokenShards, tokenizeOptionsOf, VideoTokenizer, writeVideo, type TokenizeProgress } from '../src/index.js'
import { GLYPH_FRAME, planGlyphClips, renderGlyphClip, type GlyphClip } from '../src/demo/glyphs.js'
import { expectCode, tempDir, writeTinyClip } from './helpers.js'

const fixtures = fileURLToPath(new URL('./fixtures/video/', import.meta.url))
const video = (name: string) => join(fixtures, name)

describe('VideoTokenizer.tokenizeFile', () => {
  it('tokenizes H.264 into segments whose count and times follow from duration and fps', async () => {
    const tok = new VideoTokenizer()
    const v = await tok.tokenizeFile(video('h264.mp4'))
    expect(v).toMatchObject({ duration: 4, codec: 'h264', sourceWidth: 96, sourceHeight: 64, sampledFrames: 40, numSegments: 2, numRegions: 4, featureDim: 44 })
    expect([...v.starts]).toEqual([0, 1.6])
    expect([...v.ends]).toEqual([1.6, 3.2])
    expect(v.regions.length).toBe(2 * 4 * 44)
    expect(v.pooled.length).toBe(2 * 44)
    const again = await new VideoTokenizer({ threads: 1 }).tokenizeFile(video('h264.mp4'))
    expect(again.regions).toEqual(v.regions)

    const custom = await new VideoTokenizer({ fps: 5, framesPerSegment: 4, stride: 2, grid: 3, featureDim: 16, padLast: true }).tokenizeFile(video('vp9.webm'))
    // 3 s at 5 fps = 15 frames; windows of 4 every 2: starts 0..11 → 6 full + 1 partial (frames 12–14).
    expect(custom.numSegments).toBe(7)
    expect(custom.frames[6]).toBe(3)
    expect(custom.regions.length).toBe(7 * 9 * 16)
  })

  it('paths with spaces and non-ASCII characters work', async () => {
    const v = await new VideoTokenizer().tokenizeFile(video('with spaces ünïcödé.mp4'))
    expect(v.numSegments).toBe(2)
  })

  it('bad files are coded errors', async () => {
    const tok = new VideoTokenizer()
    await expectCode(() => tok.tokenizeFile(video('zero-bytes.mp4')), 'Decode', /empty file/)
    await expectCode(() => tok.tokenizeFile(video('random-bytes.mp4')), 'Decode', /cannot open/)
    await expectCode(() => tok.tokenizeFile(video('truncated.mp4')), 'Decode')
    await expectCode(() => tok.tokenizeFile(video('header-only.mp4')), 'Decode')
    await expectCode(() => tok.tokenizeFile(video('audio-only.m4a')), 'NoVideoStream', /no video stream/)
    await expectCode(() => tok.tokenizeFile(video('missing.mp4')), 'Io', /No such file/)
    await expectCode(() => tok.tokenizeFile(fixtures), 'Io', /directory/)
    await expectCode(() => new VideoTokenizer({ fps: -1 }).tokenizeFile(video('h264.mp4')), 'InvalidConfig', /fps/)
    await expectCode(() => new VideoTokenizer({ pool: 'median' as 'mean' }).tokenizeFile(video('h264.mp4')), 'InvalidConfig', /pool/)
  })

  it('maxDuration bounds the video length (and so the work a file can ask for)', async () => {
    // h264.mp4 lasts 4 s: accepted under a 5 s bound, a Decode error naming the option under 3 s.
    expect((await new VideoTokenizer({ maxDuration: 5 }).tokenizeFile(video('h264.mp4'))).duration).toBe(4)
    await expectCode(() => new VideoTokenizer({ maxDuration: 3 }).tokenizeFile(video('h264.mp4')), 'Decode', /past maxDuration \(3 s/)
    expect((await new VideoTokenizer({ maxDuration: Infinity }).tokenizeFile(video('h264.mp4'))).numSegments).toBe(2)
    await expectCode(() => new VideoTokenizer({ maxDuration: 0 }).tokenizeFile(video('h264.mp4')), 'InvalidConfig', /maxDuration/)
  })

  it('an aborted signal cancels', async () => {
    const controller = new AbortController()
    controller.abort()
    await expectCode(() => new VideoTokenizer().tokenizeFile(video('h264.mp4'), { signal: controller.signal }), 'Cancelled')
  })
})

describe('VideoTokenizer.tokenizeManifest', () => {
  function manifest(dir: string, names: string[]): string {
    const path = join(dir, 'manifest.jsonl')
    const lines = names.map((name, i) =>
      JSON.stringify({ video: video(name), id: `v${i}`, captions: [{ start: 0.2, end: 1.0, text: `clip number ${i}` }], label: i % 2 }),
    )
    writeFileSync(path, lines.join('\n'))
    return path
  }

  it('writes shards with progress events; failures are data; TokenShards reads them back', async () => {
    const dir = tempDir('manifest')
    const m = manifest(dir, ['h264.mp4', 'zero-bytes.mp4', 'theora.ogv', 'audio-only.m4a', 'mjpeg.avi'])
    const tok = new VideoTokenizer()
    const events: TokenizeProgress[] = []
    tok.on('progress', (p) => events.push(p))
    const out = join(dir, 'out')
    const summary = await tok.tokenizeManifest(m, { out, workers: 2, dtype: 'f32' })
    expect(summary.progress).toMatchObject({ videosTotal: 5, videosDone: 5, videosFailed: 2, videosSkipped: 0 })
    // h264 72 of its 100 source frames decoded (28 disposable B-frames no 10 fps sample time falls
    // on are skipped undecoded) + theora 50 + mjpeg 60; 40 + 20 + 40 sampled at 10 fps.
    expect(summary.progress).toMatchObject({ decodedFrames: 182, frames: 100 })
    expect(summary.failures.map((f) => [f.id, f.code])).toEqual([
      ['v1', 'Decode'],
      ['v3', 'NoVideoStream'],
    ])
    expect(events.length).toBeGreaterThan(0)
    expect(events.at(-1)).toMatchObject({ videosDone: 5 })

    const shards = await TokenShards.open(out)
    expect(shards.length).toBe(3)
    expect(shards.params).toMatchObject({ fps: 10, framesPerSegment: 16, grid: 2, featureDim: 44, dtype: 'f32', extractor: 'builtin' })
    const rec = shards.video(0)
    expect(rec).toMatchObject({ id: 'v0', numSegments: 2, duration: 4, label: 0 })
    expect(rec.captions[0]).toEqual({ start: 0.2, end: 1.0, text: 'clip number 0', segments: [0, 0] })
    const direct = await tok.tokenizeFile(video('h264.mp4'))
    expect(shards.regions(0)).toEqual(direct.regions)
    expect(shards.pooled(0)).toEqual(direct.pooled)
    expect(shards.visualWords(0)).toBeNull()
    expect(shards.failures.map((f) => f.code)).toEqual(['Decode', 'NoVideoStream'])

    // Resume: nothing is redone.
    const again = await tok.tokenizeManifest(m, { out, workers: 1, dtype: 'f32' })
    expect(again.progress).toMatchObject({ videosSkipped: 5, frames: 0 })
  })

  it('AbortSignal stops a long run with Cancelled, and a re-run finishes it', async () => {
    const dir = tempDir('abort')
    const m = manifest(dir, Array.from({ length: 60 }, () => 'h264.mp4'))
    const controller = new AbortController()
    const out = join(dir, 'out')
    await expectCode(
      () =>
        new VideoTokenizer().tokenizeManifest(m, {
          out,
          workers: 1,
          videosPerShard: 8,
          signal: controller.signal,
          onProgress: (p) => {
            if (p.videosDone >= 10) controller.abort()
          },
        }),
      'Cancelled',
    )
    const resumed = await new VideoTokenizer().tokenizeManifest(m, { out, workers: 2, videosPerShard: 8 })
    expect(resumed.progress.videosSkipped).toBeGreaterThanOrEqual(8)
    expect(resumed.progress.videosSkipped).toBeLessThan(60)
    expect((await TokenShards.open(out)).length).toBe(60)
  })
})

describe('computeBuiltinFeatures', () => {
  it('describes frames you decoded yourself: colour separates, motion starts at the second frame', async () => {
    const [w, h] = [32, 32]
    const frame = (r: number, g: number, b: number, shift: number) => {
      const f = new Uint8Array(w * h * 3)
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) {
          const inside = x >= 8 + shift && x < 20 + shift && y >= 10 && y < 22
          f.set(inside ? [r, g, b] : [20, 20, 20], (y * w + x) * 3)
        }
      return f
    }
    const rgb = new Uint8Array([...frame(230, 30, 30, 0), ...frame(230, 30, 30, 2), ...frame(30, 30, 230, 4)])
    const f = await computeBuiltinFeatures(rgb, { numFrames: 3, width: w, height: h, grid: 1 })
    expect(f.length).toBe(3 * 44)
    const motion = (i: number) => f.subarray(i * 44 + 33, i * 44 + 41).reduce((a, b) => a + Math.abs(b), 0)
    expect(motion(0)).toBe(0)
    expect(motion(1)).toBeGreaterThan(0.1)
    // Hue bins: red lands in bin 0 (0–30°), blue in bin 8 (240–270°).
    const hues = (i: number) => [...f.subarray(i * 44, i * 44 + 12)]
    expect(hues(0).indexOf(Math.max(...hues(0)))).toBe(0)
    expect(hues(2).indexOf(Math.max(...hues(2)))).toBe(8)
    expect(f[0]).toBeGreaterThan(0.05)
    expect(f[2 * 44 + 0]).toBe(0)
    const projected = await computeBuiltinFeatures(rgb, { numFrames: 3, width: w, height: h, grid: 2, featureDim: 16 })
    expect(projected.length).toBe(3 * 4 * 16)
    await expectCode(() => computeBuiltinFeatures(rgb.subarray(1), { numFrames: 3, width: w, height: h }), 'InvalidInput', /expected 9216 bytes/)
  })
})

describe('builtin_v2: the glimpse of what moves', () => {
  const S = GLYPH_FRAME
  /** builtin_v2 features (grid 1) of a clip's second frame (the first with motion). */
  const glimpseOf = async (clip: GlyphClip, extractor: 'builtin_v2' | 'builtin' = 'builtin_v2') => {
    const rgb = renderGlyphClip({ ...clip, duration: 0.1 }, 20) // 2 frames
    return computeBuiltinFeatures(rgb, { numFrames: 2, width: S, height: S, grid: 1, extractor })
  }
  const cosine = (a: Float32Array, b: Float32Array) => {
    let [ab, aa, bb] = [0, 0, 0]
    for (let i = 0; i < a.length; i++) [ab, aa, bb] = [ab + a[i]! * b[i]!, aa + a[i]! ** 2, bb + b[i]! ** 2]
    return ab / Math.sqrt(aa * bb)
  }
  const clips = [0, 1, 2].flatMap((seed) => planGlyphClips({ seed })).filter((c) => c.colour === 'white' && c.direction === 'right')

  it('sees the same glyph alike wherever it is, and other glyphs differently; its first 44 values are builtin', async () => {
    const glimpse = async (c: GlyphClip) => (await glimpseOf(c)).subarray(2 * 68 - 24, 2 * 68)
    const stars = clips.filter((c) => c.glyph === 'star')
    const starA = stars[0]!
    const starB = stars.find((c) => Math.hypot(starA.x0 - c.x0, starA.y0 - c.y0) > 20)
    expect(Math.hypot(starA!.x0 - starB!.x0, starA!.y0 - starB!.y0)).toBeGreaterThan(20) // two places, two backgrounds
    const star = [await glimpse(starA!), await glimpse(starB!)]
    const same = cosine(star[0]!, star[1]!)
    for (const other of ['plus', 'ring', 'tee', 'bowtie'] as const) {
      const c = clips.find((c) => c.glyph === other)!
      const g = await glimpse(c)
      expect(same, other).toBeGreaterThan(cosine(star[0]!, g) + 0.1)
    }
    // builtin_v2 = [builtin's 44 values | glimpse], normalised together: the first 44 are builtin's, scaled.
    const v2 = await glimpseOf(starA!)
    const v1 = await glimpseOf(starA!, 'builtin')
    expect([v1.length, v2.length]).toEqual([2 * 44, 2 * 68])
    expect(cosine(v2.subarray(68, 68 + 44), v1.subarray(44, 88))).toBeGreaterThan(0.99999)
    await expectCode(() => computeBuiltinFeatures(new Uint8Array(12), { numFrames: 1, width: 2, height: 2, extractor: 'builtin_v3' as 'builtin' }), 'InvalidConfig', /builtin or builtin_v2/)
  })
})

describe('backbone extractor', () => {
  it('tokenizes with a CLIP vision tower loaded from a local safetensors file', async () => {
    const weights = join(tempDir('clip'), 'clip.safetensors')
    writeTinyClip(weights)
    const tok = new VideoTokenizer({ extractor: 'backbone', backboneWeights: weights })
    const v = await tok.tokenizeFile(video('h264.mp4'))
    expect(v).toMatchObject({ numSegments: 2, numRegions: 4, featureDim: 32 })
    expect(v.regions.length).toBe(2 * 4 * 32)
    expect(v.regions.every(Number.isFinite)).toBe(true)
    expect((await tok.tokenizeFile(video('h264.mp4'))).regions).toEqual(v.regions)

    const out = join(tempDir('clip-shards'), 'out')
    const summary = await tok.tokenizeManifest([video('h264.mp4'), video('vp9.webm')], { out, dtype: 'f32' })
    expect(summary.failures).toEqual([])
    const shards = await TokenShards.open(out)
    expect(shards.params.extractor).toMatch(/^backbone:clip-vit-2x32-p8-32:[0-9a-f]{16}$/)
    expect(shards.params.featureDim).toBe(32)
    expect(shards.regions(0)).toEqual(v.regions)

    // What a checkpoint records (video_tokenizer.json) tokenizes new videos by the same network, and
    // only by it: the same path holding other weights is refused, naming both hashes.
    const recorded = tokenizeOptionsOf(shards.params)
    const hash = shards.params.extractor.split(':')[2]!
    expect(recorded).toMatchObject({ extractor: 'backbone', backboneWeights: weights, backboneHash: hash })
    expect((await new VideoTokenizer(recorded).tokenizeFile(video('h264.mp4'))).regions).toEqual(v.regions)
    shards.dispose()
    writeTinyClip(weights, 2)
    await expectCode(() => new VideoTokenizer(recorded).tokenizeFile(video('h264.mp4')), 'InvalidConfig', new RegExp(`backboneHash.*but ${hash} was asked for`))
    await expectCode(() => new VideoTokenizer({ backboneHash: hash }).tokenizeFile(video('h264.mp4')), 'InvalidConfig', /backboneHash.*only used with a pretrained extractor/)

    await expectCode(() => new VideoTokenizer({ extractor: 'backbone' }).tokenizeFile(video('h264.mp4')), 'InvalidConfig', /backboneWeights/)
    await expectCode(() => new VideoTokenizer({ extractor: 'backbone', backboneWeights: video('h264.mp4') }).tokenizeFile(video('h264.mp4')), 'InvalidInput', /backboneWeights/)
  })
})

describe('writeVideo (the addon\'s own encoders)', () => {
  it('writes MPEG-4 and MJPEG that tokenize back with the written length; bad input is coded', async () => {
    const [w, h, n] = [64, 48, 30]
    const rgb = new Uint8Array(n * w * h * 3)
    for (let f = 0; f < n; f++) for (let i = 0; i < w * h; i++) rgb.set([(f * 8) % 256, 128, 255 - ((i % w) * 4)], (f * w * h + i) * 3)
    const dir = tempDir('write-video')
    for (const [codec, file] of [['mpeg4', 'a.mp4'], ['mjpeg', 'b.avi']] as const) {
      const written = await writeVideo(join(dir, file), rgb, { width: w, height: h, frameRate: 10, codec })
      expect(written).toMatchObject({ frames: 30, codec, container: file.endsWith('.mp4') ? 'mp4' : 'avi' })
      const v = await new VideoTokenizer({ fps: 10, framesPerSegment: 10 }).tokenizeFile(join(dir, file))
      expect(v).toMatchObject({ codec, sourceWidth: 64, sourceHeight: 48, sampledFrames: 30, numSegments: 3 })
      expect(v.duration).toBeCloseTo(3, 9)
    }
    await expectCode(() => writeVideo(join(dir, 'c.mp4'), rgb, { width: 63, height: 48 }), 'InvalidConfig', /width/)
    await expectCode(() => writeVideo(join(dir, 'd.mp4'), rgb.subarray(0, 99), { width: 64, height: 48 }), 'InvalidInput', /frames/)
    await expectCode(() => writeVideo(join(dir, 'e.mp4'), rgb, { width: 64, height: 48, codec: 'h264' as never }), 'InvalidConfig', /codec/)
    await expectCode(() => writeVideo(join(dir, 'no', 'such', 'f.mp4'), rgb, { width: 64, height: 48 }), 'Io')
  })
})
