import type { ToleranceSpec } from '../record/schema.js';
import { type MetricCheck, toReportNumber } from '../report/schema.js';
import { classifyMetric, toleranceFor } from './tolerance.js';

export interface MetricsComparison {
  recorded: Record<string, number>;
  /** Null when the rerun wrote no metrics file. */
  rerun: Record<string, number> | null;
  tolerance?: { default?: ToleranceSpec; metrics?: Record<string, ToleranceSpec> };
  lineOf?: (name: string) => number | undefined;
}

/** Pure: every recorded metric against the rerun, then the rerun's new metrics (informational). */
export function compareMetrics({ recorded, rerun, tolerance, lineOf }: MetricsComparison): MetricCheck[] {
  const checks: MetricCheck[] = Object.entries(recorded).map(([name, value]) => {
    const metricTolerance = toleranceFor(name, tolerance);
    const rerunValue = rerun?.[name];
    const base = { name, recorded: toReportNumber(value), tolerance: metricTolerance, line: lineOf?.(name) };
    if (rerunValue === undefined) return { ...base, rerun: null, delta: null, status: 'missing' };
    return {
      ...base,
      rerun: toReportNumber(rerunValue),
      delta: toReportNumber(rerunValue - value),
      status: classifyMetric(value, rerunValue, metricTolerance),
    };
  });
  const added = Object.keys(rerun ?? {})
    .filter((name) => !(name in recorded))
    .sort();
  for (const name of added) {
    checks.push({ name, recorded: null, rerun: toReportNumber(rerun![name]!), delta: null, tolerance: toleranceFor(name, tolerance), status: 'new' });
  }
  return checks;
}
