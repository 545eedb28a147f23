/**
 * Subtitles and transcripts as a user has them: sidecar files and subtitle tracks read as captions,
 * `videobert manifest` pairing a folder, tokenization aligning them to segments (a bad file fails its
 * video alone), one long video pre-trained with a plain note instead of `best null`, and moments
 * (video, start, end) found in it.
 */
import { spawnSync } from 'node:child_process'
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

import { buildManifest, loadPretrained, readSubtitles, subtitleTracks, TokenShards, trainVocabulary, VideoTokenizer } from '../src/index.js'
import { expectCode, tempDir } from './helpers.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const subs = fileURLToPath(new URL('./fixtures/subtitles/', import.meta.url))
const videos = fileURLToPath(new URL('./fixtures/video/', import.meta.url))
const TALK = [
  { start: 0.5, end: 2, text: 'First we mix the flour.' },
  { start: 2.5, end: 4, text: 'Then we add water & salt.' },
  { start: 4.2, end: 5.8, text: 'Knead it for ten minutes.' },
]

function cli(cwd: string, ...args: string[]) {
  return spawnSync(process.execPath, [join(root, 'dist/cli/main.js'), ...args], { encoding: 'utf8', timeout: 300_000, cwd })
}

describe('readSubtitles', () => {
  it('a SubRip file and the same cues as SubRip, ASS, WebVTT and mov_text tracks give the same captions', async () => {
    expect((await readSubtitles(join(subs, 'talk.srt'))).captions).toEqual(TALK)
    for (const [file, codec] of [['srt-track.mkv', 'subrip'], ['ass-track.mkv', 'ass'], ['webvtt-track.webm', 'webvtt'], ['mov-text.mp4', 'mov_text']] as const) {
      expect(await subtitleTracks(join(subs, file))).toEqual([{ track: 0, codec, language: 'eng', text: true }])
      const r = await readSubtitles(join(subs, file), { track: 0 })
      expect(r.captions, file).toEqual(TALK)
      expect(r.report).toMatchObject({ cues: 3, captions: 3 })
    }
  })

  it('a missing track, a broken file and bad options are coded errors', async () => {
    expect(await subtitleTracks(join(subs, 'no-subtitles.mp4'))).toEqual([])
    await expectCode(() => readSubtitles(join(subs, 'no-subtitles.mp4'), { track: 0 }), 'Subtitles', /no subtitle track 0: the video has 0/)
    const dir = tempDir('subs-bad')
    writeFileSync(join(dir, 'bad.srt'), '1\n00:00:01,000 --> 00:00:02,000\nok\n\n2\n00:00:05,000 --> 00:00:03,000\nbackwards\n')
    await expectCode(() => readSubtitles(join(dir, 'bad.srt')), 'Subtitles', /bad\.srt:6: the cue ends \(3 s\) before it starts \(5 s\)/)
    await expectCode(() => readSubtitles(join(subs, 'talk.srt'), { captionWords: 0 }), 'InvalidConfig', /captionWords/)
  })

  it('captionWords splits long cues and merges short ones (the documented rule)', async () => {
    const dir = tempDir('subs-words')
    const words = Array.from({ length: 30 }, (_, i) => `w${String(i).padStart(2, '0')}`).join(' ')
    writeFileSync(join(dir, 'long.vtt'), `WEBVTT\n\n00:00.000 --> 00:30.000\n${words}\n\n00:31.000 --> 00:32.000\nand then\n\n00:32.200 --> 00:33.000\nwe stop.\n`)
    const r = await readSubtitles(join(dir, 'long.vtt'), { captionWords: 10 })
    expect(r.captions.map((c) => c.text.split(' ').length)).toEqual([10, 10, 10, 4])
    expect(r.captions[1]).toMatchObject({ start: 10, end: 20 })
    expect(r.captions[3]).toEqual({ start: 31, end: 33, text: 'and then we stop.' })
    expect(r.report).toMatchObject({ cues: 3, split: 2, merged: 1 })
  })
})

describe('videobert manifest', () => {
  /** A folder as a user has it: sidecars by name, a language pair, an embedded track, a video without text, a broken file. */
  function folder(): string {
    const dir = tempDir('subs-folder')
    copyFileSync(join(subs, 'no-subtitles.mp4'), join(dir, 'a.mp4'))
    copyFileSync(join(subs, 'talk.srt'), join(dir, 'a.srt'))
    copyFileSync(join(subs, 'srt-track.mkv'), join(dir, 'b.mkv'))
    copyFileSync(join(subs, 'no-subtitles.mp4'), join(dir, 'c.mp4'))
    writeFileSync(join(dir, 'c.en.vtt'), 'WEBVTT\n\n00:01.000 --> 00:02.000\nIn English.\n')
    writeFileSync(join(dir, 'c.de.srt'), '1\n00:00:01,000 --> 00:00:02,000\nAuf Deutsch.\n')
    copyFileSync(join(subs, 'no-subtitles.mp4'), join(dir, 'd.mp4'))
    copyFileSync(join(subs, 'no-subtitles.mp4'), join(dir, 'e.mp4'))
    writeFileSync(join(dir, 'e.srt'), 'this is not a subtitle file\n')
    return dir
  }

  it('pairs sidecars by name, falls back to an embedded track, lists what it found no text for', async () => {
    const dir = folder()
    const r = await buildManifest(dir, join(dir, 'set.jsonl'))
    expect(r.videos).toBe(5)
    expect(r.paired.map((p) => [p.video.slice(dir.length + 1), p.subtitles?.slice(dir.length + 1) ?? null, p.track ?? null, p.captions])).toEqual([
      ['a.mp4', 'a.srt', null, 3],
      ['b.mkv', null, 0, 3],
      ['c.mp4', 'c.en.vtt', null, 1],
    ])
    expect(r.withoutText.map((p) => p.slice(dir.length + 1))).toEqual(['d.mp4', 'e.mp4'])
    expect(r.unreadable).toHaveLength(1)
    expect(r.unreadable[0]).toMatchObject({ code: 'Subtitles' })
    expect(r.unreadable[0]!.message).toMatch(/e\.srt:1: expected a cue number or a timing line/)
    expect(readFileSync(join(dir, 'set.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l))).toEqual([
      { video: 'a.mp4', subtitles: 'a.srt' },
      { video: 'b.mkv', subtitles: { track: 0, language: 'eng' } },
      { video: 'c.mp4', subtitles: { path: 'c.en.vtt', language: 'en' } },
    ])
    const de = await buildManifest(dir, join(dir, 'de.jsonl'), { language: 'de', embedded: false })
    expect(de.paired.map((p) => p.subtitles?.slice(dir.length + 1))).toEqual(['c.de.srt'])
  })

  it('from the command line: prints what it paired and left out; exit 1 when nothing pairs', () => {
    const dir = folder()
    const r = cli(dir, 'manifest', '.', '--out', 'set.jsonl')
    expect(r.status, r.stderr).toBe(0)
    expect(r.stderr).toMatch(/manifest: 3 of 5 videos paired with text \(2 sidecar files, 1 subtitle tracks; 7 captions\)/)
    expect(r.stderr).toMatch(/unreadable: .*e\.srt: Subtitles: /)
    expect(r.stderr).toMatch(/no text found for 2 video\(s\) \(left out\):\n {4}.*d\.mp4\n {4}.*e\.mp4/)
    const none = tempDir('subs-none')
    copyFileSync(join(subs, 'no-subtitles.mp4'), join(none, 'x.mp4'))
    const n = cli(none, 'manifest', '.', '--out', 'set.jsonl')
    expect(n.status).toBe(1)
    expect(n.stderr).toMatch(/no video under \. has subtitles or a transcript it can read/)
  })

  it('tokenize reads each video\'s subtitles; a bad subtitle file fails that video alone; vocab leaves it out', async () => {
    const dir = folder()
    writeFileSync(
      join(dir, 'set.jsonl'),
      [
        { video: 'a.mp4', subtitles: 'a.srt' },
        { video: 'b.mkv', subtitles: { track: 0 } },
        { video: 'e.mp4', subtitles: 'e.srt' },
        { video: 'd.mp4', subtitles: ['a.srt', { path: 'c.en.vtt', language: 'en' }] },
      ]
        .map((l) => JSON.stringify(l))
        .join('\n'),
    )
    const summary = await new VideoTokenizer({ framesPerSegment: 4 }).tokenizeManifest(join(dir, 'set.jsonl'), { out: join(dir, 'shards'), workers: 2 })
    expect(summary.failures.map((f) => [f.id, f.code])).toEqual([['e.mp4', 'Subtitles']])
    expect(summary.failures[0]!.message).toMatch(/e\.srt:1:/)
    expect(summary.subtitles).toMatchObject({ cues: 10, captions: 10 })
    const shards = await TokenShards.open(join(dir, 'shards'))
    expect(shards.length).toBe(3)
    const a = shards.video(0)
    expect(a.captions.map((c) => [c.start, c.end, c.text])).toEqual(TALK.map((c) => [c.start, c.end, c.text]))
    // 0.4 s segments: a caption's segments are those its span overlaps
    expect(a.captions.map((c) => c.segments)).toEqual([[1, 4], [6, 9], [10, 14]])
    expect(shards.video(1).captions.map((c) => c.text)).toEqual(TALK.map((c) => c.text))
    expect(shards.video(2).captions.map((c) => c.text)).toEqual([TALK[0]!.text, 'In English.', TALK[1]!.text, TALK[2]!.text])
    const v = await trainVocabulary(join(dir, 'set.jsonl'), join(dir, 'tokenizer.json'), { vocabSize: 100, minFrequency: 1 })
    expect(v.captions).toBe(10)
    expect(v.skipped.map((s) => [s.id, s.code])).toEqual([['e.mp4', 'Subtitles']])
  })

  it('a caption past the video\'s end is dropped and one running past it is cut, and both are counted', async () => {
    const dir = tempDir('subs-end')
    copyFileSync(join(subs, 'no-subtitles.mp4'), join(dir, 'v.mp4'))
    writeFileSync(join(dir, 'v.srt'), '1\n00:00:05,000 --> 00:00:09,000\nRuns past the end.\n\n2\n00:00:07,000 --> 00:00:08,000\nAfter the end.\n')
    writeFileSync(join(dir, 'set.jsonl'), JSON.stringify({ video: 'v.mp4', subtitles: 'v.srt' }))
    const s = await new VideoTokenizer({ framesPerSegment: 4 }).tokenizeManifest(join(dir, 'set.jsonl'), { out: join(dir, 'shards') })
    expect(s.subtitles).toMatchObject({ cues: 2, captions: 1, pastEnd: 1, clipped: 1 })
    const rec = (await TokenShards.open(join(dir, 'shards'))).video(0)
    expect(rec.captions.map((c) => [c.start, c.end])).toEqual([[5, rec.duration]])
  })
})

describe('one long video', () => {
  it('pre-training it says why there is no validation and what to do; --split time validates on its end; moments come back with times', async () => {
    const dir = tempDir('subs-long')
    copyFileSync(join(videos, 'h264.mp4'), join(dir, 'film.mp4')) // 4 s: 10 segments of 0.4 s
    writeFileSync(join(dir, 'film.srt'), '1\n00:00:00,000 --> 00:00:01,500\nthe red part.\n\n2\n00:00:02,000 --> 00:00:04,000\nthe blue part.\n')
    const steps = (...args: string[]) => ['--preset', 'tiny', '--steps', '4', '--batch-size', '2', '--eval-every', '2', '--checkpoint-every', '2', ...args]
    expect(cli(dir, 'manifest', '.', '--out', 'set.jsonl').status).toBe(0)
    expect(cli(dir, 'vocab', '--manifest', 'set.jsonl', '--out', 'tokenizer.json', '--min-frequency', '1').status).toBe(0)
    expect(cli(dir, 'tokenize', 'set.jsonl', '--out', 'shards', '--frames-per-segment', '4').status).toBe(0)
    const config = join(dir, 'config.json')
    writeFileSync(config, JSON.stringify({ maxSegments: 4 }))
    const byVideo = cli(dir, 'pretrain', '--data', 'shards', '--tokenizer', 'tokenizer.json', '--out', 'run-video', '--config', config, ...steps())
    expect(byVideo.status, byVideo.stderr).toBe(0)
    expect(byVideo.stderr).toMatch(/pretrain: no validation: 1 video with --validation-fraction 0\.1 holds out 0 whole videos\. .*hold out the end of each with --split time/)
    expect(byVideo.stderr).toMatch(/no best checkpoint \(no validation windows: see the note above\)/)
    expect(byVideo.stderr).not.toMatch(/best null/)
    const byTime = cli(dir, 'pretrain', '--data', 'shards', '--tokenizer', 'tokenizer.json', '--out', 'run-time', '--config', config, '--split', 'time', '--json', ...steps())
    expect(byTime.status, byTime.stderr).toBe(0)
    const summary = JSON.parse(byTime.stdout)
    expect(summary.validationNote).toBeNull()
    expect(summary.best).toMatchObject({ step: expect.any(Number), value: expect.any(Number) })

    const p = await loadPretrained(join(dir, 'run-time/checkpoints/step-4'))
    const shards = await TokenShards.open(join(dir, 'shards'))
    const [found] = await p.retrieveMoments('the blue part.', shards, { windowSegments: 2, top: 10 })
    // 10 segments, moments of 2 moved by 1: 9 moments, every one returned in score order
    expect(found!.moments).toHaveLength(9)
    for (const m of found!.moments) {
      expect(m).toMatchObject({ id: 'film.mp4', count: 2 })
      expect(m.end - m.start).toBeCloseTo(0.8, 6)
      expect(m.start).toBeCloseTo(m.first * 0.4, 6)
    }
    const scores = found!.moments.map((m) => m.score)
    expect(scores).toEqual([...scores].sort((a, b) => b - a))
    const blanks = await p.fillMask(join(dir, 'film.mp4'), 'the [MASK] part.', { start: 2, end: 4 })
    expect(blanks[0]!.predictions.length).toBe(5)
    await expectCode(() => p.fillMask(join(dir, 'film.mp4'), 'the [MASK] part.', { start: 10, end: 12 }), 'InvalidInput', /no segment of the video overlaps 10\.\.12 s/)
    const r = cli(dir, 'retrieve', '--checkpoint', 'run-time/checkpoints/step-4', '--shards', 'shards', '--segments', '--window-segments', '2', '--json')
    expect(r.status, r.stderr).toBe(0)
    const m = JSON.parse(r.stdout)
    expect(m).toMatchObject({ queries: 2, momentsPerVideo: 9 })
    // chance: the moments holding a caption's midpoint, out of 9 (midpoints 0.75 s and 3 s: 2 moments each)
    expect(m.chance['1']).toBeCloseTo(2 / 9, 6)
    await p.dispose()
  }, 300_000)
})
