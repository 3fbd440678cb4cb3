import { describeNumericArtifact } from '../report/numeric.js';
import * as core from '@actions/core';
import { formatDelta, formatNumber, formatPair, formatTolerance, shortHash } from '../report/format.js';
import type { RecordReport, Report } from '../report/schema.js';

// Each finding is pinned to its line in the record, so the record lights up in the PR's Files view.
// Workflow-command escaping of the message is @actions/core's job; this builds plain text.

export interface Annotation {
  level: 'error' | 'warning' | 'notice';
  file: string;
  line?: number;
  title: string;
  message: string;
}

/** GitHub shows at most 10 annotations of each level per step; the rest would be dropped silently. */
const MAX_PER_LEVEL = 10;

function recordAnnotations(record: RecordReport): Annotation[] {
  const at = (level: Annotation['level'], line: number | undefined, title: string, message: string): Annotation => ({
    level,
    file: record.recordPath,
    line,
    title: `repro-gate ${record.name}: ${title}`,
    message,
  });
  const found: Annotation[] = [];
  if (record.error) found.push(at('error', record.error.line, 'error', `${record.error.message}${record.error.hint ? `\n${record.error.hint}` : ''}`));
  for (const input of record.inputs) {
    if (input.status === 'match') continue;
    const detail = {
      missing: 'is missing',
      'manifest-mismatch': 'disagrees with its manifest',
      mismatch: `has sha256 ${shortHash(input.actual)}, recorded ${shortHash(input.recorded)}`,
    }[input.status];
    // Changed data stops the check; changed config or requirements are only likely causes.
    const level = input.kind === 'data' ? 'error' : 'warning';
    found.push(at(level, input.line, `${input.kind} changed`, `${input.kind} ${input.path} ${detail}`));
  }
  for (const artifact of record.artifacts) {
    if (artifact.status === 'identical') continue;
    const detail = artifact.status === 'missing' ? 'was not produced by the rerun' : `differs: rerun ${shortHash(artifact.actual)}, recorded ${shortHash(artifact.recorded)}`;
    // A `compare: report` artifact (a plot) is shown, never gating: a notice, not an error.
    if (artifact.policy === 'report') found.push(at('notice', artifact.line, 'artifact changed (not gating)', `${artifact.path} ${detail}`));
    else if (artifact.numeric) {
      const finding = describeNumericArtifact(artifact, artifact.numeric, record, (text) => text);
      found.push(artifact.status === 'within' ? at('notice', artifact.line, 'artifact within tolerance', finding) : at('error', artifact.line, 'artifact drift', finding));
    } else found.push(at('error', artifact.line, 'artifact drift', `${artifact.path} ${detail}`));
  }
  for (const metric of record.metrics) {
    if (metric.status === 'missing') found.push(at('error', metric.line, 'metric missing', `${metric.name} is missing from the rerun's metrics`));
    if (metric.status === 'beyond' || metric.status === 'within') {
      const [recorded, rerun] = formatPair(metric.recorded, metric.rerun);
      const message = `${metric.name}: recorded ${recorded}, rerun ${rerun} (Δ ${formatDelta(metric.delta)}, tolerance ${formatTolerance(metric.tolerance)})`;
      found.push(metric.status === 'beyond' ? at('error', metric.line, 'metric drift', message) : at('notice', metric.line, 'metric within tolerance', message));
    }
  }
  for (const threshold of record.thresholds) {
    if (threshold.status === 'pass') continue;
    const bounds = [threshold.min !== undefined ? `min ${threshold.min}` : '', threshold.max !== undefined ? `max ${threshold.max}` : ''].filter(Boolean).join(', ');
    const value = threshold.value === null ? 'no rerun value' : `rerun ${formatNumber(threshold.value)}`;
    found.push(at('error', threshold.line, 'threshold failed', `${threshold.metric}: ${value}, required ${bounds}`));
  }
  return found;
}

/** Pure: the annotations for a report, at most 10 per level (GitHub's display limit). */
export function annotationsFor(report: Report): Annotation[] {
  const all = report.records.flatMap(recordAnnotations);
  return (['error', 'warning', 'notice'] as const).flatMap((level) => all.filter((annotation) => annotation.level === level).slice(0, MAX_PER_LEVEL));
}

export function emitAnnotations(annotations: Annotation[]): void {
  for (const { level, file, line, title, message } of annotations) {
    core[level](message, { file, startLine: line, title });
  }
}
