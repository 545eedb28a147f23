/** The text vocabulary: training a WordPiece `tokenizer.json` from captions, and a loaded `TextTokenizer`. */
import { supportUsing } from './disposable.js'
import { guard, guardSync, loadTextTokenizer, trainVocab, type NativeSkippedVideo, type NativeTextTokenizer, type NativeVocabSummary } from './native.js'

/** Options of `trainVocabulary`: the vocabulary's size bound, the minimum count of a piece, and lower-casing. */
export interface VocabOptions {
  /** Upper bound: pieces the captions never use are dropped, so training is reproducible. @default 8192 */ vocabSize?: number
  /** @default 2 */ minFrequency?: number
  /** @default true */ lowercase?: boolean
}

export type { NativeVocabSummary, NativeSkippedVideo }
/** What `trainVocabulary` made: the vocabulary's size, the captions it read, and the videos whose subtitles did not read (left out). */
export type VocabSummary = NativeVocabSummary

/**
 * Train a WordPiece vocabulary on a manifest's captions — its own and those of its subtitle sources,
 * aligned as `tokenize` aligns them — and write `tokenizer.json`. A video whose subtitle file does not
 * read is left out and listed in `skipped`.
 */
export async function trainVocabulary(manifest: string, out: string, options: VocabOptions = {}): Promise<VocabSummary> {
  return guard(() => trainVocab(manifest, out, options))
}

/**
 * A WordPiece text tokenizer: the `tokenizer.json` written by `trainVocabulary` / `videobert vocab`,
 * or any BERT-style one with `[PAD]`=0 `[UNK]`=1 `[CLS]`=2 `[SEP]`=3 `[MASK]`=4.
 */
export class TextTokenizer {
  readonly #native: NativeTextTokenizer

  private constructor(native: NativeTextTokenizer) {
    this.#native = native
  }

  /** Load a `tokenizer.json` (synchronously). */
  static load(path: string): TextTokenizer {
    return new TextTokenizer(guardSync(() => loadTextTokenizer(path)))
  }

  get vocabSize(): number {
    return guardSync(() => this.#native.vocabSize)
  }

  /** Free the native memory now instead of when the GC collects this object; later calls throw a `Disposed` error. Idempotent; `using x = …` calls it. */
  dispose(): void {
    this.#native.dispose()
  }

  /** Whether `dispose()` has been called. */
  get disposed(): boolean {
    return this.#native.disposed
  }

  /** Word-piece ids (no [CLS]/[SEP]: the model adds them), truncated to `maxLen`. */
  encode(text: string, maxLen = 512): Uint32Array {
    return guardSync(() => this.#native.encode(text, maxLen))
  }

  /** The text of word-piece ids, special tokens skipped. */
  decode(ids: Uint32Array | number[]): string {
    return guardSync(() => this.#native.decode(ids instanceof Uint32Array ? ids : Uint32Array.from(ids)))
  }

  /** The id of `token` in the vocabulary, or null when it has none. */
  tokenToId(token: string): number | null {
    return guardSync(() => this.#native.tokenToId(token)) ?? null
  }
}

supportUsing(TextTokenizer.prototype, 'sync')
