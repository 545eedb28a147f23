/**
 * METEOR (Denkowski & Lavie, "Meteor Universal", 2014) as Meteor 1.5 computes it for English
 * (`-l en -norm`, the jar `pycocoevalcap` runs), with its `exact` and `stem` matching modules. The
 * `synonym` and `paraphrase` modules of the default configuration read WordNet synsets and a
 * paraphrase table shipped inside the jar, which this library does not carry — so the figures here
 * are those of `meteor-1.5.jar -m "exact stem"`, which the tests check to 1e-12 per caption and for
 * the corpus (`__test__/fixtures/meteor.json`), not pycocoevalcap's default METEOR (which also
 * counts synonyms and paraphrases and is therefore equal or higher).
 *
 * What it does, from Meteor 1.5's description and behaviour:
 * - normalisation: tokens are the text split on white space after Meteor's English normaliser —
 *   characters outside its alphanumeric ranges are split off, contractions split right ("don't" →
 *   "don 't") — then lower-cased (the dot, comma, quote and dash rules never apply to
 *   `tokenizeCaption`'s output, the input here, and are not implemented);
 * - candidates: every equal word pair (exact, weight 1), then every pair of different words with
 *   the same Porter2 stem (stem, weight 0.6);
 * - alignment: a beam search (40 partial alignments) over the reference's positions, ranked by the
 *   matches counted with search weights 1 (exact) and 0.5 (stem) in integer arithmetic — a stem match
 *   counts 0 there, as in the jar — then fewer chunks, then a smaller distance sum; a candidate that is
 *   the only one of both its words is fixed beforehand;
 * - score: precision and recall weighted by module and by word class (δ = 0.75 on content words,
 *   0.25 on the 93 function words), F-mean with α = 0.85, fragmentation penalty γ·(chunks /
 *   matches)^β with γ = 0.6, β = 0.2 (0 for a perfect one-chunk match); with several references the
 *   best-scoring one (the first among equals);
 * - corpus score: from the statistics summed over the captions (a perfect caption's chunk is not
 *   counted), as the jar's aggregate — not the mean of the per-caption scores.
 */
import { VideoBertError } from '../errors.js'
import { porter2 } from './porter2.js'

/** Meteor 1.5's English function words (`function/english.words` in the jar). */
const FUNCTION_WORDS = new Set(
  (
    "the|,|.|to|of|and|a|in|that|for|\"|is|on|'s|it|with|was|as|said|at|he|by|be|from|have|has|are|his|but|an|this|not|i|will|’|they|)|-rrb-|(|-lrb-|who|their|had|we|which|were|been|more|or|s|its|would|about|new|one|after|you|:|also|up|when|there|than|$|all|out|her|people|she|year|two|-|can|if|last|first|“|over|other|”|into|some|what|so|--|no|time|years|could|?|'t|—|'"
  ).split('|'),
)

const ALPHA = 'A-Za-zŠŽšžŸÀ-ÖØ-öø-žЀ-ӿԀ-ԧꙀ-ꙮ꙾-ꚗᴀ-ᵿ'
const ALNUM = `0-9${ALPHA}`
const SEPARATE = new RegExp(`([^${ALNUM}\\s.'\`,\\-‘’])`, 'gu')
const CONTRACTIONS: [RegExp, string][] = [
  [new RegExp(`([^${ALPHA}])[']([^${ALPHA}])`, 'gu'), "$1 ' $2"],
  [new RegExp(`([^${ALPHA}0-9])[']([${ALPHA}])`, 'gu'), "$1 ' $2"],
  [new RegExp(`([${ALPHA}])[']([^${ALPHA}])`, 'gu'), "$1 ' $2"],
  [new RegExp(`([${ALPHA}])[']([${ALPHA}])`, 'gu'), "$1 '$2"],
  [/([0-9])[']([s])/gu, "$1 '$2"],
]

/** Meteor's English tokens of a tokenised caption (see the module notes). */
export function meteorTokens(tokens: string[]): string[] {
  let line = ` ${tokens.join(' ')} `.replace(SEPARATE, ' $1 ')
  for (const [pattern, replacement] of CONTRACTIONS) line = line.replace(pattern, replacement)
  return line.trim().split(/\s+/).filter(Boolean).map((t) => t.toLowerCase())
}

const PARAMS = { alpha: 0.85, beta: 0.2, gamma: 0.6, delta: 0.75 }
/** Scoring weights of the modules (exact, stem) and the alignment search's own. */
const WEIGHTS = [1.0, 0.6]
const SEARCH_WEIGHTS = [1.0, 0.5]
const BEAM = 40

interface Match {
  module: number
  /** Reference position (j) and candidate position (i). */
  j: number
  i: number
}

interface Path {
  matches: (Match | null)[]
  used1: boolean[]
  used2: boolean[]
  /** Matches counted with the search weights, in integer arithmetic (truncated after each add). */
  weighted: number
  chunks: number
  lastEnd: number
  distance: number
}

const copy = (p: Path): Path => ({ ...p, matches: p.matches.slice(), used1: p.used1.slice(), used2: p.used2.slice() })

function add(p: Path, m: Match): void {
  const w = SEARCH_WEIGHTS[m.module]!
  p.weighted = Math.trunc(p.weighted + w)
  p.weighted = Math.trunc(p.weighted + w)
  if (p.lastEnd !== -1 && m.i !== p.lastEnd) p.chunks++
  p.lastEnd = m.i + 1
}

/** Best first: more weighted matches, then fewer chunks, then a smaller distance sum (a stable sort keeps ties in order). */
const byRank = (a: Path, b: Path) => b.weighted - a.weighted || a.chunks - b.chunks || a.distance - b.distance

/** The alignment of candidate `hyp` (i) to reference `ref` (j): the match at each reference position. */
function align(hyp: string[], ref: string[]): (Match | null)[] {
  const cand: Match[][] = ref.map(() => [])
  const cov1 = hyp.map(() => 0)
  const cov2 = ref.map(() => 0)
  const identical = hyp.length === ref.length && hyp.every((w, k) => w === ref[k])
  const push = (module: number, j: number, i: number) => {
    cand[j]!.push({ module, j, i })
    cov1[i]!++
    cov2[j]!++
  }
  for (let j = 0; j < ref.length; j++) for (let i = 0; i < hyp.length; i++) if (hyp[i] === ref[j]) push(0, j, i)
  if (!identical) {
    const hs = hyp.map(porter2)
    const rs = ref.map(porter2)
    for (let j = 0; j < ref.length; j++) for (let i = 0; i < hyp.length; i++) if (hs[i] === rs[j] && hyp[i] !== ref[j]) push(1, j, i)
  }
  const start: Path = { matches: ref.map(() => null), used1: hyp.map(() => false), used2: ref.map(() => false), weighted: 0, chunks: 0, lastEnd: -1, distance: 0 }
  ref.forEach((_, j) => {
    const only = cand[j]!
    if (only.length === 1 && cov2[j] === 1 && cov1[only[0]!.i] === 1) {
      start.matches[j] = only[0]!
      start.used2[j] = true
      start.used1[only[0]!.i] = true
    }
  })
  let paths = [start]
  for (let cur = 0; cur <= ref.length; cur++) {
    const next: Path[] = []
    for (const p of paths.sort(byRank).slice(0, BEAM)) {
      if (cur === ref.length) {
        if (p.lastEnd !== -1) p.chunks++
      } else if (p.used2[cur]) {
        const fixed = p.matches[cur]!
        add(p, fixed)
        p.distance += Math.abs(fixed.j - fixed.i)
      } else {
        for (const m of cand[cur]!) {
          if (p.used1[m.i]) continue
          const q = copy(p)
          q.used1[m.i] = true
          q.used2[cur] = true
          q.matches[cur] = m
          add(q, m)
          next.push(q)
          // As in Meteor 1.5: the distance goes to the path that skips, not to the new one.
          p.distance += Math.abs(m.j - m.i)
        }
        if (p.lastEnd !== -1) {
          p.chunks++
          p.lastEnd = -1
        }
      }
      next.push(p)
    }
    paths = next
  }
  return paths.sort(byRank)[0]!.matches
}

/** Meteor's 23 statistics of one (candidate, reference) pair, as the jar's `SCORE` reply lists them (two module slots here). */
interface Stats {
  testLen: number
  refLen: number
  testFunc: number
  refFunc: number
  /** Per module: [test content, ref content, test function, ref function] matched words. */
  modules: [number, number, number, number][]
  chunks: number
  testMatched: number
  refMatched: number
}

function stats(hyp: string[], ref: string[]): Stats {
  const matches = align(hyp, ref).filter((m): m is Match => m !== null)
  const isFunction = (w: string) => FUNCTION_WORDS.has(w)
  const modules: Stats['modules'] = WEIGHTS.map(() => [0, 0, 0, 0])
  for (const m of matches) {
    const slot = modules[m.module]!
    slot[isFunction(hyp[m.i]!) ? 2 : 0]++
    slot[isFunction(ref[m.j]!) ? 3 : 1]++
  }
  // Chunks: maximal runs adjacent in the reference and, in order, in the candidate.
  let chunks = 0
  matches.forEach((m, k) => {
    const prev = matches[k - 1]
    if (!prev || prev.j !== m.j - 1 || prev.i !== m.i - 1) chunks++
  })
  return {
    testLen: hyp.length,
    refLen: ref.length,
    testFunc: hyp.filter(isFunction).length,
    refFunc: ref.filter(isFunction).length,
    modules,
    chunks,
    testMatched: matches.length,
    refMatched: matches.length,
  }
}

const perfect = (s: Stats) => s.testMatched === s.testLen && s.refMatched === s.refLen && s.chunks === 1

function scoreOf(s: Stats): number {
  const { alpha, beta, gamma, delta } = PARAMS
  const testWeighted = delta * (s.testLen - s.testFunc) + (1 - delta) * s.testFunc
  const refWeighted = delta * (s.refLen - s.refFunc) + (1 - delta) * s.refFunc
  let testMatched = 0
  let refMatched = 0
  s.modules.forEach(([tc, rc], m) => {
    testMatched += WEIGHTS[m]! * delta * tc
    refMatched += WEIGHTS[m]! * delta * rc
  })
  s.modules.forEach(([, , tf, rf], m) => {
    testMatched += WEIGHTS[m]! * (1 - delta) * tf
    refMatched += WEIGHTS[m]! * (1 - delta) * rf
  })
  const precision = testMatched / testWeighted
  const recall = refMatched / refWeighted
  const fmean = 1 / ((1 - alpha) / precision + alpha / recall)
  const frag = perfect(s) ? 0 : s.chunks / ((s.testMatched + s.refMatched) / 2)
  const score = fmean * (1 - gamma * Math.pow(frag, beta))
  return Number.isNaN(score) ? 0 : Math.max(score, 0)
}

/** METEOR of a corpus and of each candidate (`meteor`). */
export interface MeteorScores {
  /** The corpus score, from the statistics summed over the captions (Meteor's aggregate). */
  corpus: number
  perCaption: number[]
}

/** METEOR (exact + stem modules) of tokenised candidates against their references (see the module notes). */
export function meteor(candidates: string[][], references: string[][][]): MeteorScores {
  if (candidates.length !== references.length) throw new VideoBertError('InvalidInput', `METEOR: ${candidates.length} candidates but ${references.length} reference sets`)
  const best = candidates.map((cand, k) => {
    const hyp = meteorTokens(cand)
    const refs = references[k]!
    if (refs.length === 0) throw new VideoBertError('InvalidInput', `METEOR: candidate ${k} has no references`)
    let top: { stats: Stats; score: number } | null = null
    for (const ref of refs) {
      const s = stats(hyp, meteorTokens(ref))
      const score = scoreOf(s)
      if (top === null || score > top.score) top = { stats: s, score }
    }
    return top!
  })
  const total: Stats = { testLen: 0, refLen: 0, testFunc: 0, refFunc: 0, modules: WEIGHTS.map(() => [0, 0, 0, 0]), chunks: 0, testMatched: 0, refMatched: 0 }
  for (const { stats: s } of best) {
    total.testLen += s.testLen
    total.refLen += s.refLen
    total.testFunc += s.testFunc
    total.refFunc += s.refFunc
    s.modules.forEach((slot, m) => slot.forEach((v, x) => (total.modules[m]![x]! += v)))
    if (!perfect(s)) total.chunks += s.chunks
    total.testMatched += s.testMatched
    total.refMatched += s.refMatched
  }
  return { corpus: scoreOf(total), perCaption: best.map((b) => b.score) }
}
