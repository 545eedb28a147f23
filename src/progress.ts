/** Progress on long work: one line redrawn in place on a TTY, plain lines (at most every `every` ms) otherwise. Used by the Trainer and the CLI. */
export class ProgressLine {
  #last = 0
  #drawn = false
  readonly #tty: boolean

  constructor(
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly every = 2000,
  ) {
    this.#tty = Boolean(stream.isTTY)
  }

  update(text: string, force = false): void {
    const now = Date.now()
    if (this.#tty) {
      if (!force && now - this.#last < 80) return
      const width = this.stream.columns ?? 100
      this.stream.write(`\r${text.slice(0, width - 1).padEnd(Math.min(width - 1, text.length + 8))}`)
      this.#drawn = true
    } else {
      if (!force && now - this.#last < this.every) return
      this.stream.write(`${text}\n`)
    }
    this.#last = now
  }

  done(): void {
    if (this.#tty && this.#drawn) this.stream.write('\n')
    this.#drawn = false
  }
}

export function bar(fraction: number, width = 24): string {
  const f = Math.max(0, Math.min(1, fraction))
  const full = Math.round(f * width)
  return `[${'#'.repeat(full)}${'-'.repeat(width - full)}]`
}

export function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?'
  const s = Math.round(seconds)
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(s % 60).padStart(2, '0')}s`
}
