import type { ThresholdSpec } from '../record/schema.js';
import { type ThresholdCheck, toReportNumber } from '../report/schema.js';

/** Pure: min/max gates (inclusive) on the rerun's values. NaN fails every gate. */
export function checkThresholds(
  thresholds: Record<string, ThresholdSpec>,
  rerun: Record<string, number> | null,
  lineOf?: (metric: string) => number | undefined,
): ThresholdCheck[] {
  return Object.entries(thresholds).map(([metric, { min, max }]) => {
    const value = rerun?.[metric];
    const base = { metric, min, max, line: lineOf?.(metric) };
    if (value === undefined) return { ...base, value: null, status: 'missing' };
    const passes = !Number.isNaN(value) && (min === undefined || value >= min) && (max === undefined || value <= max);
    return { ...base, value: toReportNumber(value), status: passes ? 'pass' : 'fail' };
  });
}
