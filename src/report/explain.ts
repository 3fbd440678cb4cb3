import { formatDelta, formatPair, formatTolerance, plural } from './format.js';
import { describeNumericArtifact } from './numeric.js';
import type { Cause, RecordReport } from './schema.js';

/** How a user-controlled name is shown: escaped for markdown, sanitized for the terminal. */
export type Quote = (text: string) => string;

function describeCause(cause: Cause, quote: Quote): string {
  switch (cause.kind) {
    case 'config-changed':
      return `config ${quote(cause.subject)} changed`;
    case 'requirements-changed':
      return `requirements ${quote(cause.subject)} changed`;
    case 'data-changed':
      return `data ${quote(cause.subject)} changed`;
    case 'packages-changed':
      return cause.unlikely ? `${quote(cause.subject)} (never imported: unlikely)` : quote(cause.subject);
    case 'python-changed':
      return `Python ${quote(cause.subject)}`;
    case 'platform-changed':
      return `platform ${quote(cause.subject)}`;
    case 'code-changed':
      return quote(cause.subject);
    case 'machine-changed':
      return `machine: ${quote(cause.subject)}`;
  }
}

export function describeCauses(causes: Cause[], quote: Quote, limit = 4): string {
  const shown = causes.slice(0, limit).map((cause) => describeCause(cause, quote));
  if (causes.length > limit) shown.push(`${causes.length - limit} more`);
  return shown.join('; ');
}

function dataSentence(record: RecordReport, quote: Quote): string | undefined {
  const data = record.inputs.filter((input) => input.kind === 'data' && input.status !== 'match');
  if (data.length === 0) return undefined;
  const what = data.map((input) => {
    const manifest = input.manifest;
    if (input.status === 'manifest-mismatch' && manifest) {
      const count = manifest.actualRecordCount !== undefined && manifest.actualRecordCount !== manifest.recordCount;
      return `${quote(input.path)} disagrees with its manifest ${quote(manifest.path)} (${count ? `${manifest.actualRecordCount} rows, manifest says ${manifest.recordCount}` : 'content_hash differs'})`;
    }
    return `${quote(input.path)} does not match its recorded hash`;
  });
  return `${what.join('; ')}: training was not started.`;
}

/** One sentence that says why a record got its verdict: the first thing a reviewer reads. */
export function explainRecord(record: RecordReport, quote: Quote): string {
  if (record.verdict === 'unaffected') return quote(record.affected?.reason ?? 'not rerun: none of its inputs changed since it was recorded.');
  if (record.verdict === 'error') {
    if (!record.error) return 'the check could not be completed.';
    const { line, field, message } = record.error;
    return quote(`${record.recordPath}${line ? `:${line}` : ''}${field ? ` ${field}` : ''}: ${message}`);
  }
  const data = dataSentence(record, quote);
  if (data) return data;
  const findings: string[] = [];
  if (record.missingMetricsFile) findings.push(`metrics file ${quote(record.missingMetricsFile)} was not produced`);
  for (const metric of record.metrics) {
    if (record.missingMetricsFile && metric.status === 'missing') continue;
    if (metric.status === 'beyond') {
      const [recorded, rerun] = formatPair(metric.recorded, metric.rerun);
      findings.push(`${quote(metric.name)} ${recorded} → ${rerun} (Δ ${formatDelta(metric.delta)}, tolerance ${formatTolerance(metric.tolerance)})`);
    } else if (metric.status === 'missing') {
      findings.push(`${quote(metric.name)} is missing from the rerun`);
    } else if (metric.status === 'within' && record.verdict === 'within-tolerance') {
      findings.push(`${quote(metric.name)} moved ${formatDelta(metric.delta)}, within ${formatTolerance(metric.tolerance)}`);
    }
  }
  for (const artifact of record.artifacts) {
    if (artifact.status !== 'identical' && artifact.policy === 'report') findings.push(`${quote(artifact.path)} ${artifact.status === 'missing' ? 'was not produced' : 'changed'} (not gating)`);
    else if (artifact.numeric && artifact.status !== 'identical') findings.push(describeNumericArtifact(artifact, artifact.numeric, record, quote));
    else if (artifact.status !== 'identical') findings.push(`${quote(artifact.path)} ${artifact.status === 'missing' ? 'was not produced' : 'differs'}`);
    if (artifact.committed?.status === 'differs') findings.push(`the committed ${quote(artifact.path)} is not the one the record describes`);
  }
  for (const threshold of record.thresholds) {
    if (threshold.status !== 'pass') findings.push(`threshold on ${quote(threshold.metric)} ${threshold.status === 'missing' ? 'has no rerun value' : 'failed'}`);
  }
  if (findings.length === 0) {
    const equal = record.metrics.filter((metric) => metric.status === 'equal').length;
    return `${plural(record.artifacts.length, 'artifact')} identical, ${plural(equal, 'metric')} exactly equal.`;
  }
  const causes = record.causes.length > 0 && record.verdict === 'drift' ? ` Likely causes: ${describeCauses(record.causes, quote)}.` : '';
  return `${findings.slice(0, 4).join('; ')}${findings.length > 4 ? `; and ${findings.length - 4} more` : ''}.${causes}`;
}
