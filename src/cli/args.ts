/** The CLI's one flag parser and value checks: every error is `InvalidConfig` naming the flag. */
import { DISTRIBUTED_DEFAULTS, distributedLaunch, type DistributedOptions } from '../distributed.js'
import { parseArgs, type ParseArgsConfig } from 'node:util'

import { VideoBertError } from '../errors.js'
import { isDeviceName } from '../native.js'
import type { Device } from '../model.js'

type Options = NonNullable<ParseArgsConfig['options']>

export interface Parsed {
  values: Record<string, string | boolean | (string | boolean)[] | undefined>
  positionals: string[]
}

/** Parse a command's flags (plus `--help` and `--json`); `positionals: false` refuses bare words. */
export function parseCommand(args: string[], options: Options, allowPositionals = true): Parsed {
  try {
    return parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' }, json: { type: 'boolean' } }, strict: true, allowPositionals }) as Parsed
  } catch (err) {
    throw new VideoBertError('InvalidConfig', (err as Error).message)
  }
}

/** `--device cpu|cuda|cuda:N`, or undefined when absent (the library's default: the CPU). */
export function deviceFlag(value: unknown): Device | undefined {
  if (value === undefined) return undefined
  const d = String(value)
  // The names are the core's (device::parse_name); only the flag's wording is the CLI's.
  if (!isDeviceName(d)) throw new VideoBertError('InvalidConfig', `--device expects cpu, cuda or cuda:N, got '${d}'`)
  return d as Device
}

/** `--distributed auto|on|off` and `--distributed-timeout S` as the library's `distributed` setting. */
export function distributedFlag(mode: unknown, timeout: unknown): boolean | DistributedOptions | undefined {
  const m = choice(mode, 'distributed', ['auto', 'on', 'off'] as const, 'auto')
  if (m === 'off') return false
  const timeoutS = timeout === undefined ? undefined : number(timeout, 'distributed-timeout', DISTRIBUTED_DEFAULTS.timeoutS, Number.MIN_VALUE)
  if (m === 'auto') return timeoutS === undefined ? undefined : distributedLaunch() === null ? false : { timeoutS }
  return { timeoutS }
}

/** A positive integer flag, or `fallback` when absent. */
export function positiveInt(value: unknown, flag: string, fallback: number): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isInteger(n) || n <= 0) throw new VideoBertError('InvalidConfig', `--${flag} expects a positive integer, got '${String(value)}'`)
  return n
}

/** A non-negative integer flag, or undefined when absent (the library applies its default). */
export function optionalInt(value: unknown, flag: string): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0) throw new VideoBertError('InvalidConfig', `--${flag} expects a non-negative integer, got '${String(value)}'`)
  return n
}

/** A positive integer flag, or undefined when absent. */
export function optionalPositiveInt(value: unknown, flag: string): number | undefined {
  return value === undefined ? undefined : positiveInt(value, flag, 1)
}

/** A positive number flag, or undefined when absent. */
export function optionalPositive(value: unknown, flag: string): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!Number.isFinite(n) || n <= 0) throw new VideoBertError('InvalidConfig', `--${flag} expects a positive number, got '${String(value)}'`)
  return n
}

/** A non-negative number flag, or undefined when absent (the library checks its range). */
export function optionalNonNegative(value: unknown, flag: string): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!Number.isFinite(n) || n < 0) throw new VideoBertError('InvalidConfig', `--${flag} expects a non-negative number, got '${String(value)}'`)
  return n
}

/** A finite number flag in [lo, hi], or `fallback` when absent. */
export function number(value: unknown, flag: string, fallback: number, lo = -Infinity, hi = Infinity): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isFinite(n) || n < lo || n > hi) throw new VideoBertError('InvalidConfig', `--${flag} expects a number in [${lo}, ${hi}], got '${String(value)}'`)
  return n
}

/** One of `allowed`, or `fallback` when absent. */
export function choice<T extends string>(value: unknown, flag: string, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback
  if (!allowed.includes(value as T)) throw new VideoBertError('InvalidConfig', `--${flag} expects one of ${allowed.join(', ')}, got '${String(value)}'`)
  return value as T
}

export function required(value: unknown, what: string, command: string): string {
  if (typeof value !== 'string' || value === '') throw new VideoBertError('InvalidConfig', `${command}: ${what} is required`)
  return value
}
