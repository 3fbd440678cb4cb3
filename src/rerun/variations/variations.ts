import { availableParallelism } from 'node:os';
import { UserError } from '../../errors.js';

// `verify --vary`: reprotest for training. Each variation changes one thing about how the command runs; a training
// whose outputs change with it depends on it. Pure, except for reading the number of cores.

export const VARIATION_NAMES = ['threads', 'hashseed', 'tz-locale', 'workdir', 'env-order'] as const;
export type VariationName = (typeof VARIATION_NAMES)[number];

export interface Variation {
  name: VariationName;
  extraDepth?: number;
  environment?: (env: NodeJS.ProcessEnv) => NodeJS.ProcessEnv;
}

const THREAD_VARIABLES = ['OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'NUMEXPR_NUM_THREADS', 'VECLIB_MAXIMUM_THREADS'];

/** `threads,hashseed` or `all`: the variations asked for, in the order given; an unknown name is an error. */
export function parseVaryList(text: string): VariationName[] {
  const names = text
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  if (names.includes('all')) return [...VARIATION_NAMES];
  const unknown = names.find((name) => !(VARIATION_NAMES as readonly string[]).includes(name));
  if (unknown !== undefined) throw new UserError(`--vary "${unknown}" is not a variation`, `Use a comma-separated list of ${VARIATION_NAMES.join(', ')}, or all.`);
  return [...new Set(names)] as VariationName[];
}

/** One thread where the run used every core, every core where the record pins one (strict determinism). */
function threads(env: NodeJS.ProcessEnv, cores: number): NodeJS.ProcessEnv {
  const count = env.OMP_NUM_THREADS === '1' ? String(Math.max(cores, 2)) : '1';
  return { ...env, ...Object.fromEntries(THREAD_VARIABLES.map((name) => [name, count])) };
}

export function variation(name: VariationName, cores = availableParallelism()): Variation {
  switch (name) {
    case 'threads':
      return { name, environment: (env) => threads(env, cores) };
    case 'hashseed':
      return { name, environment: (env) => ({ ...env, PYTHONHASHSEED: env.PYTHONHASHSEED === '1' ? '2' : '1' }) };
    case 'tz-locale':
      // UTC+14 and a locale with a decimal comma (used where it is installed; glibc falls back to C elsewhere).
      return { name, environment: (env) => ({ ...env, TZ: env.TZ === 'Pacific/Kiritimati' ? 'America/Adak' : 'Pacific/Kiritimati', LC_ALL: env.LC_ALL === 'de_DE.UTF-8' ? 'C.UTF-8' : 'de_DE.UTF-8' }) };
    case 'workdir':
      return { name, extraDepth: 3 };
    case 'env-order':
      return { name, environment: (env) => Object.fromEntries(Object.entries(env).reverse()) };
  }
}
