import type { ToleranceSpec } from '../record/schema.js';

export interface Tolerance {
  abs: number;
  rel: number;
}

export type MetricClass = 'equal' | 'within' | 'beyond';

/** A metric's tolerance: its own fields over the default's, anything unset exact. */
export function toleranceFor(name: string, spec?: { default?: ToleranceSpec; metrics?: Record<string, ToleranceSpec> }): Tolerance {
  const own = spec?.metrics?.[name];
  return {
    abs: own?.abs ?? spec?.default?.abs ?? 0,
    rel: own?.rel ?? spec?.default?.rel ?? 0,
  };
}

/**
 * Passes when |rerun − recorded| ≤ abs + rel·|recorded| (inclusive). NaN never matches.
 * The subtraction itself rounds, so a difference within a few ulps of the bound counts as at the bound;
 * an exact tolerance (0, 0) stays exact.
 */
export function classifyMetric(recorded: number, rerun: number, tolerance: Tolerance): MetricClass {
  if (Number.isNaN(recorded) || Number.isNaN(rerun)) return 'beyond';
  if (recorded === rerun) return 'equal';
  const difference = Math.abs(rerun - recorded);
  const bound = tolerance.abs + tolerance.rel * Math.abs(recorded);
  if (!Number.isFinite(difference) || bound <= 0) return 'beyond';
  const roundingSlack = 4 * Number.EPSILON * Math.max(Math.abs(recorded), Math.abs(rerun), bound);
  return difference <= bound + roundingSlack ? 'within' : 'beyond';
}
