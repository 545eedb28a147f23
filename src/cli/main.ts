#!/usr/bin/env node
/**
 * The `videobert` executable. It loads the commands (and with them the native addon) dynamically,
 * so that every failure — a platform without a prebuilt binary or an addon that cannot load
 * included — is one line on stderr and exit code 1, never a stack trace. The commands: commands.ts.
 */
try {
  const { main } = await import('./commands.js')
  process.exitCode = await main(process.argv.slice(2))
} catch (err) {
  const e = err as { code?: unknown; message?: unknown }
  process.stderr.write(`videobert: ${typeof e.code === 'string' && e.code !== 'NativeBinding' ? `${e.code}: ` : ''}${String(e.message ?? err)}\n`)
  process.exitCode = 1
}
