import { CACHE_MAX_SIZE_ENV, DEFAULT_CACHE_MAX_SIZE } from '../../constants.js';
import { parseSize } from './size-notation.js';

export interface CacheBound {
  bytes: number;
  /** Where the bound came from, shown next to it so users know what to change. */
  source: string;
}

/** The cache folder's size bound: REPRO_GATE_CACHE_MAX_SIZE, else 10 GiB. A bad value is an error, not a silent default. */
export function cacheBound(env: NodeJS.ProcessEnv = process.env): CacheBound {
  const text = env[CACHE_MAX_SIZE_ENV];
  if (text === undefined || text.trim() === '') return { bytes: parseSize(DEFAULT_CACHE_MAX_SIZE, 'the default'), source: 'default' };
  return { bytes: parseSize(text, CACHE_MAX_SIZE_ENV), source: CACHE_MAX_SIZE_ENV };
}
