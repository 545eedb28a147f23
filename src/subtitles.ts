/**
 * Timed text a user already has, as captions: SubRip (`.srt`) and WebVTT (`.vtt`) files,
 * speech-recogniser JSON (Whisper segment lists, Vosk/Kaldi word lists) and text subtitle tracks
 * inside MKV/MP4/WebM files, read natively and aligned into captions by time (the rule:
 * docs/subtitles.md). `buildManifest` pairs a folder of videos with their text (`videobert manifest`).
 */
import {
  buildManifest as nativeBuildManifest,
  guard,
  readSubtitles as nativeReadSubtitles,
  subtitleTracks as nativeSubtitleTracks,
  tokenizeDefaults,
  type NativeAlignReport,
  type NativeCaption,
  type NativeManifestReport,
  type NativePairedVideo,
  type NativeSubtitleTrack,
  type NativeUnreadableSubtitles,
} from './native.js'

export type { NativeAlignReport, NativeCaption, NativeManifestReport, NativePairedVideo, NativeSubtitleTrack, NativeUnreadableSubtitles }

/** A caption: seconds from the video's first frame, and its text. */
export type TimedCaption = NativeCaption
/** What turning cues into captions did, counted. */
export type AlignReport = NativeAlignReport
/** A subtitle stream inside a video. */
export type SubtitleTrack = NativeSubtitleTrack
/** What `buildManifest` wrote (`paired`), and what it found no text for or could not read. */
export type ManifestReport = NativeManifestReport

/** How cues become captions (the same options `tokenize` takes). */
export interface AlignOptions {
  /** The most words of one caption: longer cues are split, short ones merged up to it. @default 16 */
  captionWords?: number
  /** The longest silence, seconds, inside one merged caption. @default 1 */
  captionGap?: number
}

const d = tokenizeDefaults()
/** The defaults of `AlignOptions`, from the native layer. */
export const ALIGN_DEFAULTS: Readonly<Required<AlignOptions>> = Object.freeze({ captionWords: d.captionWords, captionGap: d.captionGap })

/**
 * Read a subtitle or transcript file (or, with `track`, the n-th subtitle track of the video at
 * `path`) as aligned captions. Rejects with `Subtitles` (naming the file and line) when it cannot.
 */
export async function readSubtitles(path: string, options: AlignOptions & { track?: number } = {}): Promise<{ captions: TimedCaption[]; report: AlignReport }> {
  return guard(() => nativeReadSubtitles(path, options))
}

/** The subtitle streams of a video (text tracks can be read; bitmap ones cannot). */
export async function subtitleTracks(video: string): Promise<SubtitleTrack[]> {
  return guard(() => nativeSubtitleTracks(video))
}

/** Options of `buildManifest`. */
export interface ManifestBuildOptions extends AlignOptions {
  /** The language to pair (`en`, `de`, `pt-BR`). @default the untagged sidecar, else English, else any */
  language?: string
  /** Look for a text subtitle track inside a video that has no sidecar. @default true */
  embedded?: boolean
}

/**
 * Pair every video under `inputs` (directories, searched recursively, or video files) with its
 * sidecar (`talk.srt`, `talk.en.vtt`, `talk.json` beside `talk.mp4`) or its own text subtitle track,
 * and write the JSONL manifest `out` (paths relative to it). Videos without readable text are listed
 * in the report, not written.
 */
export async function buildManifest(inputs: string | string[], out: string, options: ManifestBuildOptions = {}): Promise<ManifestReport> {
  return guard(() => nativeBuildManifest(typeof inputs === 'string' ? [inputs] : inputs, out, options))
}
