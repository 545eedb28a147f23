/**
 * The Snowball English ("Porter2") stemmer, as METEOR 1.5's `stem` module uses it — written from the
 * algorithm's published description (snowballstem.org, "The English (Porter2) stemming algorithm")
 * and checked word by word against Meteor 1.5's own stemmer on a fixed vocabulary
 * (`__test__/fixtures/meteor.json`, written by `scripts/reference/caption_metrics.py`).
 * Input: one lower-case word.
 */

const VOWELS = new Set(['a', 'e', 'i', 'o', 'u', 'y'])
const isVowel = (c: string | undefined) => c !== undefined && VOWELS.has(c)
const DOUBLES = ['bb', 'dd', 'ff', 'gg', 'mm', 'nn', 'pp', 'rr', 'tt']
const LI_ENDINGS = new Set(['c', 'd', 'e', 'g', 'h', 'k', 'm', 'n', 'r', 't'])

/** Whole words with a fixed stem (checked before anything else). */
const EXCEPTIONS: Record<string, string> = {
  skis: 'ski', skies: 'sky', dying: 'die', lying: 'lie', tying: 'tie', idly: 'idl', gently: 'gentl', ugly: 'ugli',
  early: 'earli', only: 'onli', singly: 'singl', sky: 'sky', news: 'news', howe: 'howe', atlas: 'atlas', cosmos: 'cosmos',
  bias: 'bias', andes: 'andes',
}
/** Words left as they are after step 1a. */
const INVARIANT_AFTER_1A = new Set(['inning', 'outing', 'canning', 'herring', 'earring', 'proceed', 'exceed', 'succeed'])

/** Start of the region after the first non-vowel that follows a vowel, from `from` (w.length if none). */
function regionAfter(w: string, from: number): number {
  for (let i = from + 1; i < w.length; i++) if (!isVowel(w[i]) && isVowel(w[i - 1])) return i + 1
  return w.length
}

/** Whether the syllable ending at `end` (exclusive) is short. */
function shortSyllableAt(w: string, end: number): boolean {
  const i = end - 1
  if (i === 1) return isVowel(w[0]) && !isVowel(w[1])
  if (i < 2) return false
  return !isVowel(w[i - 2]) && isVowel(w[i - 1]) && !isVowel(w[i]) && !['w', 'x', 'Y'].includes(w[i]!)
}

/** The longest of `suffixes` that `w` ends with, or null. */
function longest(w: string, suffixes: readonly string[]): string | null {
  let best: string | null = null
  for (const s of suffixes) if (w.endsWith(s) && (best === null || s.length > best.length)) best = s
  return best
}

const STEP2: [string, string][] = [
  ['tional', 'tion'], ['enci', 'ence'], ['anci', 'ance'], ['abli', 'able'], ['entli', 'ent'], ['izer', 'ize'], ['ization', 'ize'],
  ['ational', 'ate'], ['ation', 'ate'], ['ator', 'ate'], ['alism', 'al'], ['aliti', 'al'], ['alli', 'al'], ['fulness', 'ful'],
  ['ousli', 'ous'], ['ousness', 'ous'], ['iveness', 'ive'], ['iviti', 'ive'], ['biliti', 'ble'], ['bli', 'ble'], ['ogi', 'og'],
  ['fulli', 'ful'], ['lessli', 'less'], ['li', ''],
]
const STEP3: [string, string][] = [
  ['tional', 'tion'], ['ational', 'ate'], ['alize', 'al'], ['icate', 'ic'], ['iciti', 'ic'], ['ical', 'ic'], ['ful', ''], ['ness', ''], ['ative', ''],
]
const STEP4 = ['al', 'ance', 'ence', 'er', 'ic', 'able', 'ible', 'ant', 'ement', 'ment', 'ent', 'ism', 'ate', 'iti', 'ous', 'ive', 'ize', 'ion']

/** The Porter2 stem of one lower-case word (words of up to two letters are their own stem). */
export function porter2(word: string): string {
  if (word.length <= 2) return word
  if (EXCEPTIONS[word] !== undefined) return EXCEPTIONS[word]!
  let w = word.startsWith("'") ? word.slice(1) : word
  // Initial y, and y after a vowel, are consonants: Y.
  let marked = ''
  for (let i = 0; i < w.length; i++) marked += w[i] === 'y' && (i === 0 || isVowel(marked[i - 1])) ? 'Y' : w[i]
  w = marked
  const prefix = ['gener', 'commun', 'arsen'].find((p) => w.startsWith(p))
  const r1 = prefix ? prefix.length : regionAfter(w, 0)
  const r2 = regionAfter(w, r1)
  const inR1 = (suffix: string) => w.length - suffix.length >= r1
  const inR2 = (suffix: string) => w.length - suffix.length >= r2
  const cut = (n: number) => (w = w.slice(0, w.length - n))

  // Step 0: possessives.
  const s0 = longest(w, ["'s'", "'s", "'"])
  if (s0) cut(s0.length)

  // Step 1a: plurals.
  const s1a = longest(w, ['sses', 'ied', 'ies', 'us', 'ss', 's'])
  if (s1a === 'sses') cut(2)
  else if (s1a === 'ied' || s1a === 'ies') w = w.slice(0, w.length - 3) + (w.length > 4 ? 'i' : 'ie')
  else if (s1a === 's') {
    const stem = w.slice(0, -1)
    if (Array.from(stem.slice(0, -1)).some(isVowel)) cut(1)
  }
  if (INVARIANT_AFTER_1A.has(w)) return w

  // Step 1b: -eed, -ed, -ing.
  const s1b = longest(w, ['eed', 'eedly', 'ed', 'edly', 'ing', 'ingly'])
  if (s1b === 'eed' || s1b === 'eedly') {
    if (inR1(s1b)) w = w.slice(0, w.length - s1b.length) + 'ee'
  } else if (s1b) {
    const stem = w.slice(0, w.length - s1b.length)
    if ([...stem].some(isVowel)) {
      w = stem
      if (w.endsWith('at') || w.endsWith('bl') || w.endsWith('iz')) w += 'e'
      else if (DOUBLES.some((d) => w.endsWith(d))) cut(1)
      else if (r1 >= w.length && shortSyllableAt(w, w.length)) w += 'e'
    }
  }

  // Step 1c: y → i after a non-vowel that is not the first letter.
  if ((w.endsWith('y') || w.endsWith('Y')) && w.length > 2 && !isVowel(w[w.length - 2])) w = `${w.slice(0, -1)}i`

  // Step 2.
  const s2 = longest(w, STEP2.map(([s]) => s))
  if (s2 && inR1(s2)) {
    if (s2 === 'ogi') {
      if (w[w.length - 4] === 'l') w = `${w.slice(0, -3)}og`
    } else if (s2 === 'li') {
      if (LI_ENDINGS.has(w[w.length - 3]!)) cut(2)
    } else {
      w = w.slice(0, w.length - s2.length) + STEP2.find(([s]) => s === s2)![1]
    }
  }

  // Step 3.
  const s3 = longest(w, STEP3.map(([s]) => s))
  if (s3 && inR1(s3)) {
    if (s3 === 'ative') {
      if (inR2(s3)) cut(5)
    } else {
      w = w.slice(0, w.length - s3.length) + STEP3.find(([s]) => s === s3)![1]
    }
  }

  // Step 4.
  const s4 = longest(w, STEP4)
  if (s4 && inR2(s4)) {
    if (s4 !== 'ion') cut(s4.length)
    else if (['s', 't'].includes(w[w.length - 4]!)) cut(3)
  }

  // Step 5.
  if (w.endsWith('e')) {
    if (inR2('e') || (inR1('e') && !shortSyllableAt(w, w.length - 1))) cut(1)
  } else if (w.endsWith('l') && inR2('l') && w[w.length - 2] === 'l') {
    cut(1)
  }
  return w.replace(/Y/g, 'y')
}
