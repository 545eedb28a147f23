/** `videobert retrieve`: text→video / video→text ranking over a tokenized set, with metrics. */
import { VideoTextDataset } from '../data/dataset.js'
import { VideoBertError } from '../errors.js'
import { RETRIEVAL_DEFAULTS, retrieve, type Direction, type Scorer } from '../eval/retrieval.js'
import { evaluateMoments, MOMENT_DEFAULTS, shardMoments } from '../inference/moments.js'
import { loadPretrained, type Pretrained } from '../pretrained.js'
import { TokenShards } from '../shards.js'
import { choice, deviceFlag, parseCommand, positiveInt, required } from './args.js'
import { ProgressLine } from '../progress.js'

export const RETRIEVE_HELP = `Usage: videobert retrieve --checkpoint DIR --shards DIR [options]

Ranks the windows (maxSegments segments) of a tokenized set for texts, or the set's captions for each
window. Without --query, every caption of the set is a query and the set's own captions are the ground
truth: prints Recall@1/5/10 (with chance) and the median rank. With --query, prints the best windows.

Scorers: words (fast first stage: one forward pass per window; the video's predicted word profile
scores a text by its word pieces' mean log-probability), match (the video-text matching head, one pass
per pair) and likelihood (the caption's pseudo-log-likelihood given the video, one pass per word piece
per pair: the most accurate, the slowest).

With --segments, finds moments in long videos instead: each video is cut into moments of
--window-segments segments (moved by --stride-segments) and every moment is ranked for the query;
prints video, start and end (seconds) and score. Without --query it measures this: each caption's own
text is a query over its video's moments, right when the moment holds the caption's midpoint (R@1/5
with chance).

Options:
  --checkpoint DIR          a checkpoint directory
  --shards DIR              the tokenized set (videobert tokenize)
  --direction D             text-to-video (default) or video-to-text
  --first-stage S           words, match or likelihood: scores every pair (default ${RETRIEVAL_DEFAULTS.scorer})
  --rerank S                match, likelihood or none: re-score each query's top --rerank-top candidates
                            (default ${RETRIEVAL_DEFAULTS.rerank}, skipped when it is the first stage's own
                            scorer; with --segments ${MOMENT_DEFAULTS.rerank})
  --rerank-top N            candidates re-scored per query (default ${RETRIEVAL_DEFAULTS.rerankTop})
  --query TEXT              rank the set's windows for this text (repeatable; text-to-video)
  --top N                   results listed per query with --query (default 5)
  --segments                rank moments of the videos (start, end) instead of whole windows
  --window-segments N       segments per moment (default ${MOMENT_DEFAULTS.windowSegments}, at most maxSegments)
  --stride-segments N       segments between moment starts (default half the window)
  --device NAME             cpu, cuda or cuda:N (default cpu; CUDA needs the CUDA build)
  --json                    print the result as JSON on stdout`

export async function retrieveCommand(args: string[]): Promise<number> {
  const s = { type: 'string' } as const
  const { values: v } = parseCommand(args, {
    device: s, checkpoint: s, shards: s, direction: s, 'first-stage': s, rerank: s, 'rerank-top': s, query: { type: 'string', multiple: true }, top: s,
    segments: { type: 'boolean' }, 'window-segments': s, 'stride-segments': s,
  })
  if (v.help) {
    process.stdout.write(`${RETRIEVE_HELP}\n`)
    return 0
  }
  const checkpoint = required(v.checkpoint, '--checkpoint DIR', 'retrieve')
  const shardsDir = required(v.shards, '--shards DIR', 'retrieve')
  const direction = choice<Direction>(v.direction, 'direction', ['text-to-video', 'video-to-text'], 'text-to-video')
  const scorer = choice<Scorer>(v['first-stage'], 'first-stage', ['words', 'match', 'likelihood'], RETRIEVAL_DEFAULTS.scorer)
  const rerankFlag = v.rerank === undefined ? undefined : choice(v.rerank, 'rerank', ['match', 'likelihood', 'none'] as const, 'none')
  const requested = rerankFlag ?? RETRIEVAL_DEFAULTS.rerank
  // what the ranking does (retrieve skips a re-ranking by the first stage's own scorer)
  const rerank = requested === 'none' || requested === scorer ? undefined : requested
  const rerankTop = positiveInt(v['rerank-top'], 'rerank-top', RETRIEVAL_DEFAULTS.rerankTop)
  const top = positiveInt(v.top, 'top', 5)
  const queries = v.query as string[] | undefined
  if (queries && direction !== 'text-to-video') throw new VideoBertError('InvalidConfig', 'retrieve: --query goes with --direction text-to-video')
  const p = await loadPretrained(checkpoint, { device: deviceFlag(v.device) })
  const shards = await TokenShards.open(shardsDir)
  if (v.segments) {
    if (direction !== 'text-to-video') throw new VideoBertError('InvalidConfig', 'retrieve: --segments goes with --direction text-to-video')
    if (scorer !== 'words') throw new VideoBertError('InvalidConfig', 'retrieve: --segments ranks by the words scorer first; use --rerank match|likelihood to re-score')
    const moments = {
      windowSegments: v['window-segments'] === undefined ? undefined : positiveInt(v['window-segments'], 'window-segments', MOMENT_DEFAULTS.windowSegments),
      strideSegments: v['stride-segments'] === undefined ? undefined : positiveInt(v['stride-segments'], 'stride-segments', 1),
      rerank: rerankFlag, rerankTop, top,
    }
    return momentsCommand(p, shards, queries, moments, Boolean(v.json))
  }
  const data = new VideoTextDataset(shards, p.model.config, p.tokenizer, { validationFraction: 1, featureNorm: p.featureNorm ?? 'none' })
  const line = new ProgressLine()
  const t0 = performance.now()
  const r = await retrieve(p.model, data, 'validation', direction, {
    scorer, rerank: rerank ?? 'none', rerankTop, queries,
    onProgress: (d, n) => line.update(`retrieve: ${d}/${n} queries`),
  })
  line.done()
  const seconds = (performance.now() - t0) / 1000
  const idOf = (c: number) => (direction === 'text-to-video' ? shards.video(r.windows[c]!.video).id : r.texts[c]!)
  if (queries) {
    const results = r.rankings.map((q) => ({
      query: r.texts[q.query],
      results: q.ranked.order.slice(0, top).map((c, i) => ({ id: idOf(c), segments: [r.windows[c]!.first, r.windows[c]!.first + r.windows[c]!.count], caption: r.windows[c]!.text, score: q.ranked.scores[i]! })),
    }))
    if (v.json) process.stdout.write(`${JSON.stringify({ scorer, rerank: rerank ?? null, results, seconds })}\n`)
    else for (const q of results) process.stdout.write(`${q.query}\n${q.results.map((x, i) => `  ${i + 1}. ${x.id} [${x.segments.join('-')}) ${x.score.toFixed(3)}  "${x.caption}"`).join('\n')}\n`)
    return 0
  }
  const metrics = { direction, scorer, rerank: rerank ?? null, rerankTop: rerank ? rerankTop : null, queries: r.queries, candidates: r.candidates, recall: r.recall, chance: r.chance, medianRank: r.medianRank, seconds }
  if (v.json) process.stdout.write(`${JSON.stringify(metrics)}\n`)
  else {
    process.stdout.write(
      `${direction}, ${r.queries} queries × ${r.candidates} candidates, ${scorer}${rerank ? ` + ${rerank} re-ranking of the top ${rerankTop}` : ''} (${seconds.toFixed(1)} s)\n` +
        ['1', '5', '10'].map((k) => `  R@${k} ${r.recall[Number(k) as 1].toFixed(3)} (chance ${r.chance[Number(k) as 1].toFixed(3)})`).join('\n') +
        `\n  median rank ${r.medianRank}\n`,
    )
  }
  return 0
}

async function momentsCommand(p: Pretrained, shards: TokenShards, queries: string[] | undefined, options: Parameters<Pretrained['retrieveMoments']>[2], json: boolean): Promise<number> {
  const t0 = performance.now()
  const rerank = options?.rerank ?? MOMENT_DEFAULTS.rerank
  if (queries) {
    const found = await p.retrieveMoments(queries, shards, options)
    const seconds = (performance.now() - t0) / 1000
    if (json) process.stdout.write(`${JSON.stringify({ rerank, results: found, seconds })}\n`)
    else {
      for (const q of found) {
        process.stdout.write(`${q.query}\n${q.moments.map((m, i) => `  ${i + 1}. ${m.id} ${m.start.toFixed(2)}–${m.end.toFixed(2)} s  ${m.score.toFixed(3)}`).join('\n')}\n`)
      }
    }
    return 0
  }
  const videos = Array.from({ length: shards.length }, (_, i) => ({ ...shardMoments(shards, i), captions: shards.video(i).captions }))
  const m = await evaluateMoments(p, videos, options)
  const seconds = (performance.now() - t0) / 1000
  if (json) process.stdout.write(`${JSON.stringify({ ...m, rerank, seconds })}\n`)
  else {
    process.stdout.write(
      `moments: ${m.queries} captions as queries over ${m.momentsPerVideo.toFixed(1)} moments per video, words scorer${rerank === 'none' ? '' : ` + ${rerank} re-ranking`} (${seconds.toFixed(1)} s)\n` +
        `  R@1 ${m.recall[1].toFixed(3)} (chance ${m.chance[1].toFixed(3)})\n  R@5 ${m.recall[5].toFixed(3)} (chance ${m.chance[5].toFixed(3)})\n`,
    )
  }
  return 0
}
