/**
 * `using` and `await using` for the classes that hold native memory (`VideoBERT`, `Pretrained`,
 * `TokenShards`, `Codebook`, `TextTokenizer`): where the runtime defines `Symbol.dispose` /
 * `Symbol.asyncDispose` (Node 20 does), they call the class's own `dispose()`, the method every
 * Node version has.
 */
export function supportUsing(prototype: { dispose(): unknown }, kind: 'sync' | 'async'): void {
  const symbols = Symbol as { dispose?: symbol; asyncDispose?: symbol }
  const symbol = kind === 'sync' ? symbols.dispose : symbols.asyncDispose
  if (symbol === undefined) return
  Object.defineProperty(prototype, symbol, {
    value(this: { dispose(): unknown }) {
      return this.dispose()
    },
    configurable: true,
  })
}
