import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UserError } from '../errors.js';
import { USAGE_HINT } from './usage.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/** util.parseArgs with its errors turned into one clear usage message. */
export function parseCommandLine<T extends Options>(args: string[], options: T) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UserError((error as Error).message.split('\n')[0] ?? 'invalid arguments', USAGE_HINT);
  }
}

/**
 * Whether a command's arguments ask for its help. Only flags before a `--` count: after it, `--help` belongs to
 * the user's command (`record ... -- python train.py --help`).
 */
export function helpRequested(args: string[]): boolean {
  const end = args.indexOf('--');
  return (end === -1 ? args : args.slice(0, end)).some((arg) => arg === '--help' || arg === '-h');
}

/** `NAME=VALUE` pairs from repeated flags; numbers stay numbers so seeds read naturally in the record. */
export function parsePairs(values: string[] | undefined, flag: string, numeric = false): Record<string, string | number> {
  const pairs: Record<string, string | number> = {};
  for (const value of values ?? []) {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(value);
    if (!match) throw new UserError(`${flag} "${value}" is not NAME=VALUE`, `Example: ${flag} python=7`);
    const [, name, raw] = match as unknown as [string, string, string];
    pairs[name] = numeric && /^-?\d+$/.test(raw) ? Number(raw) : raw;
  }
  return pairs;
}

/** A numeric flag's value; undefined when the flag was not given. */
export function numberFlag(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const number = value.trim() === '' ? Number.NaN : Number(value);
  if (!Number.isFinite(number)) throw new UserError(`${flag} "${value}" is not a number`, USAGE_HINT);
  return number;
}
