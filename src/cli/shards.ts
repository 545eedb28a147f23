/** `videobert shards check|merge`: a corpus tokenized in parts (array jobs) confirmed whole, or gathered into one directory. */
import { VideoBertError } from '../errors.js'
import { checkShardSet, mergeShardSets, type ShardSetStatus } from '../shard-set.js'
import { parseCommand } from './args.js'

export const SHARDS_HELP = `Usage: videobert shards check DIR [--json]
       videobert shards merge PART_DIR... --out DIR [--json]

For a corpus tokenized in parts (videobert tokenize --shard i/n, or the part an array job's
variables give: docs/distributed.md).
check: is every chunk of the manifest in DIR, made with one set of parameters? Lists the missing
       chunks (with --shard i/n, chunk c is made by part c mod n).
merge: copy the shards of part directories (each task wrote its own) into --out DIR, then check it.
       The parts must be one manifest tokenized with the same options; running it again copies only
       what is new.
  --json   print the result as JSON on stdout
Exit codes: 0 the set is complete, 1 chunks are missing (or an error).`

/** A ranges list of chunk numbers: `3, 7-9, 12`. */
export function chunkList(chunks: number[]): string {
  const parts: string[] = []
  for (let i = 0; i < chunks.length; ) {
    let j = i
    while (j + 1 < chunks.length && chunks[j + 1] === chunks[j]! + 1) j++
    parts.push(j === i ? `${chunks[i]}` : `${chunks[i]}-${chunks[j]}`)
    i = j + 1
  }
  return parts.join(', ')
}

/** The status in words (one line, or two with the missing chunks). */
export function statusText(s: ShardSetStatus): string {
  const have = `${s.dir}: ${s.chunksPresent.length}${s.chunksExpected === null ? '' : `/${s.chunksExpected}`} chunks, ${s.videos} videos tokenized, ${s.failed} failed`
  if (s.complete) return `${have} — complete`
  if (s.chunksExpected === null) return `${have} — cannot tell whether it is complete: the set was made before the manifest's size was recorded (tokenize it again to record it)`
  return `${have} — incomplete: ${s.chunksMissing.length} ${s.chunksMissing.length === 1 ? 'chunk' : 'chunks'} missing: ${chunkList(s.chunksMissing)}`
}

export async function shardsCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args
  const { values: v, positionals } = parseCommand(rest, { out: { type: 'string' } })
  if (v.help || sub === undefined || sub === '--help' || sub === '-h') {
    process.stdout.write(`${SHARDS_HELP}\n`)
    return 0
  }
  let s: ShardSetStatus
  if (sub === 'check') {
    if (positionals.length !== 1 || v.out !== undefined) throw new VideoBertError('InvalidConfig', 'shards check: give one DIR')
    s = await checkShardSet(positionals[0]!)
  } else if (sub === 'merge') {
    if (!v.out) throw new VideoBertError('InvalidConfig', 'shards merge: --out DIR is required')
    if (positionals.length === 0) throw new VideoBertError('InvalidConfig', 'shards merge: give the part directories')
    s = await mergeShardSets(positionals, v.out as string)
  } else {
    throw new VideoBertError('InvalidConfig', `shards: unknown subcommand '${sub}' (expected check or merge)`)
  }
  if (v.json) process.stdout.write(`${JSON.stringify(s)}\n`)
  else process.stderr.write(`${statusText(s)}\n`)
  return s.complete ? 0 : 1
}
