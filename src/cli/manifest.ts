/** `videobert manifest`: a folder of videos and their subtitles/transcripts → a JSONL manifest. */
import { VideoBertError } from '../errors.js'
import { ALIGN_DEFAULTS, buildManifest, type AlignReport } from '../subtitles.js'
import { optionalInt, optionalNonNegative, parseCommand } from './args.js'

export const MANIFEST_HELP = `Usage: videobert manifest DIR|VIDEO... --out set.jsonl [options]

Pairs every video under DIR (searched recursively) with its timed text and writes a manifest for
'tokenize' and 'vocab'. The text of talk.mp4 is a sidecar beside it — talk.srt, talk.vtt, talk.json
(a Whisper or Vosk transcript), or with a language tag talk.en.vtt, talk.pt-BR.srt — else a text
subtitle track inside the video (MKV/MP4/WebM: SubRip, WebVTT, ASS/SSA, mov_text). Each candidate is
read as tokenize will read it; one that does not read is reported and the next one tried. Videos with
no readable text are listed and left out. Paths in the manifest are relative to it.

Options:
  --out FILE             the manifest to write (required; written whole or not at all)
  --language TAG         pair text in this language (en, de, pt-BR; a tag matches its regional
                         variants); default: the untagged sidecar, else English, else any
  --no-embedded          do not look inside videos for subtitle tracks
  --caption-words N      the most words of one caption (default ${ALIGN_DEFAULTS.captionWords}); only for the counts shown
  --caption-gap SECONDS  the longest silence inside one caption (default ${ALIGN_DEFAULTS.captionGap})
  --json                 print the report as JSON on stdout
Exit codes: 0 written (even when some videos have no text: they are listed), 1 error or no video
paired at all.`

/** One line of what aligning did: cues → captions and the leniencies used. */
export function subtitleLine(r: AlignReport): string {
  const notes = (
    [
      ['merged', r.merged],
      ['split', r.split],
      ['empty or sound-only, dropped', r.empty],
      ['out of order, sorted', r.reordered],
      ['rolling repeats removed', r.repeated],
      ['overlapping', r.overlapping],
      ["past the video's end, dropped", r.pastEnd],
      ["cut at the video's end", r.clipped],
      ['lines read as Windows-1252', r.latinLines],
    ] as const
  )
    .filter(([, n]) => n > 0)
    .map(([what, n]) => `${n} ${what}`)
  return `${r.cues} cues → ${r.captions} captions${notes.length ? ` (${notes.join(', ')})` : ''}`
}

export async function manifestCommand(args: string[]): Promise<number> {
  const s = { type: 'string' } as const
  const { values: v, positionals } = parseCommand(args, { out: s, language: s, 'no-embedded': { type: 'boolean' }, 'caption-words': s, 'caption-gap': s })
  if (v.help) {
    process.stdout.write(`${MANIFEST_HELP}\n`)
    return 0
  }
  if (!v.out) throw new VideoBertError('InvalidConfig', 'manifest: --out FILE is required')
  if (positionals.length === 0) throw new VideoBertError('InvalidConfig', 'manifest: give a directory of videos (or video files)')
  const r = await buildManifest(positionals, v.out as string, {
    language: v.language as string | undefined,
    embedded: !v['no-embedded'],
    captionWords: optionalInt(v['caption-words'], 'caption-words'),
    captionGap: optionalNonNegative(v['caption-gap'], 'caption-gap'),
  })
  if (v.json) {
    process.stdout.write(`${JSON.stringify(r)}\n`)
  } else {
    const tracks = r.paired.filter((p) => p.track !== null && p.track !== undefined).length
    const captions = r.paired.reduce((n, p) => n + p.captions, 0)
    process.stderr.write(
      `manifest: ${r.paired.length} of ${r.videos} videos paired with text (${r.paired.length - tracks} sidecar files, ${tracks} subtitle tracks; ${captions} captions) → ${r.out}\n`,
    )
    for (const u of r.unreadable) process.stderr.write(`  unreadable: ${u.source}: ${u.code}: ${u.message}\n`)
    if (r.withoutText.length > 0) {
      process.stderr.write(`  no text found for ${r.withoutText.length} video(s) (left out):\n`)
      for (const p of r.withoutText.slice(0, 20)) process.stderr.write(`    ${p}\n`)
      if (r.withoutText.length > 20) process.stderr.write(`    … and ${r.withoutText.length - 20} more (--json lists them all)\n`)
    }
  }
  if (r.paired.length === 0) {
    process.stderr.write(`videobert: InvalidInput: no video under ${positionals.join(', ')} has subtitles or a transcript it can read\n`)
    return 1
  }
  return 0
}
