import { parseSize } from '../environment/cache/size-notation.js';

/** Bounds what the action downloads as a baseline: the base branch's evidence artifacts, all together. */
export const BASELINE_MAX_SIZE_ENV = 'REPRO_GATE_BASELINE_MAX_SIZE';
const DEFAULT_BASELINE_MAX_SIZE = '2GiB';

/** REPRO_GATE_BASELINE_MAX_SIZE, else 2 GiB. A bad value throws (it is the reason given for having no baseline), never falls back silently. */
export function baselineSizeCap(env: NodeJS.ProcessEnv = process.env): { bytes: number; source: string } {
  const text = env[BASELINE_MAX_SIZE_ENV];
  if (text === undefined || text.trim() === '') return { bytes: parseSize(DEFAULT_BASELINE_MAX_SIZE, 'the default'), source: 'the default' };
  return { bytes: parseSize(text, BASELINE_MAX_SIZE_ENV), source: BASELINE_MAX_SIZE_ENV };
}
