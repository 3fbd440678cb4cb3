import type { Verdict } from './schema.js';

/**
 * Worst first: an unchecked record outranks a drifting one, which outranks a pass. A record not rerun because nothing
 * it reads changed passes too, and any record that was rerun and reproduced says more.
 */
const SEVERITY: Record<Verdict, number> = { error: 3, drift: 2, 'within-tolerance': 1, reproduced: 0, unaffected: -1 };

/** The overall verdict of several records; no records at all means nothing was checked, which is an error. */
export function worstVerdict(verdicts: Verdict[]): Verdict {
  if (verdicts.length === 0) return 'error';
  return verdicts.reduce((worst, verdict) => (SEVERITY[verdict] > SEVERITY[worst] ? verdict : worst));
}
