/** The videos a model command reads: files (tokenized like the checkpoint's training data) or a shard set. */
import type { InferenceContext } from '../inference/context.js'
import { shardMoments, type TimedTokens } from '../inference/moments.js'
import { TokenShards } from '../shards.js'
import { VideoTokenizer } from '../video-tokenizer.js'
import { ProgressLine } from '../progress.js'
import { VideoBertError } from '../errors.js'

export interface NamedVideo {
  /** The file path, or the shard set's video id. */
  id: string
  /** Its tokens, with segment times (for `--start/--end`). */
  tokens: TimedTokens
}

/** Tokenize the files (with a progress line) or read every video of the shard set. */
export async function readVideos(p: InferenceContext, files: string[], shardsDir: string | undefined, command: string): Promise<NamedVideo[]> {
  if (shardsDir && files.length > 0) throw new VideoBertError('InvalidConfig', `${command}: give video files or --shards DIR, not both`)
  if (shardsDir) {
    const shards = await TokenShards.open(shardsDir)
    return Array.from({ length: shards.length }, (_, i) => ({ id: shards.video(i).id, tokens: shardMoments(shards, i) }))
  }
  if (files.length === 0) throw new VideoBertError('InvalidConfig', `${command}: give video files or --shards DIR`)
  const tokenizer = new VideoTokenizer(p.videoTokenizer ?? {})
  const line = new ProgressLine()
  const out: NamedVideo[] = []
  for (const [i, file] of files.entries()) {
    line.update(`${command}: tokenizing ${i + 1}/${files.length} ${file}`)
    out.push({ id: file, tokens: await tokenizer.tokenizeFile(file) })
  }
  line.done()
  return out
}
