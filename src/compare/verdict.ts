import type { RecordReport, Verdict } from '../report/schema.js';

type Findings = Pick<RecordReport, 'error' | 'inputs' | 'artifacts' | 'metrics' | 'thresholds'>;

/**
 * Pure: one record's verdict. Changed data is drift; a changed config or requirements file is only a likely
 * cause (the rerun used it), so it drifts only through what it changed in the outputs.
 */
export function decideVerdict(findings: Findings): Verdict {
  if (findings.error) return 'error';
  const drifted =
    findings.inputs.some((input) => input.kind === 'data' && input.status !== 'match') ||
    findings.artifacts.some(
      (artifact) => (artifact.status !== 'identical' && artifact.status !== 'within' && artifact.policy !== 'report') || artifact.committed?.status === 'differs',
    ) ||
    findings.metrics.some((metric) => metric.status === 'beyond' || metric.status === 'missing') ||
    findings.thresholds.some((threshold) => threshold.status !== 'pass');
  if (drifted) return 'drift';
  const within =
    findings.metrics.some((metric) => metric.status === 'within') ||
    findings.artifacts.some((artifact) => artifact.status === 'within' && artifact.policy !== 'report');
  return within ? 'within-tolerance' : 'reproduced';
}
