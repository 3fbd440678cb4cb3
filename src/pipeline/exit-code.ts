import { ExitCode } from '../constants.js';
import type { Verdict } from '../report/schema.js';

export function exitCodeFor(verdict: Verdict): number {
  if (verdict === 'drift') return ExitCode.Drift;
  if (verdict === 'error') return ExitCode.Error;
  return ExitCode.Ok;
}
