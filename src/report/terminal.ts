import { sanitizeTerminal } from './escape.js';
import { describeCauses, explainRecord } from './explain.js';
import { loosenedTerminal } from './loosening.js';
import { driftKindLabel, driftSentence, seedingLine, variationRows, varyingRows } from './runs.js';
import { formatDelta, formatDuration, formatPair, formatTolerance, shortHash, VERDICT_LABEL } from './format.js';
import type { RecordReport, Report, Verdict } from './schema.js';
import { worstVerdict } from './verdict-order.js';

// Pure: the CLI's summary. Untrusted strings are sanitized so they cannot drive the terminal.

const COLOR: Record<Verdict, string> = { reproduced: '32', 'within-tolerance': '33', drift: '31', error: '35', unaffected: '90' };
const MARK: Record<Verdict, string> = { reproduced: '✓', 'within-tolerance': '~', drift: '✗', error: '!', unaffected: '-' };

/** Rows per list in the terminal; the rest is counted (the JSON and markdown reports hold more). */
const MAX_ROWS = 50;

/** The first MAX_ROWS items, formatted, and a line that counts the others. */
function capped<T>(items: T[], format: (item: T) => string[]): { rows: string[][]; more: string[] } {
  const rows = items.slice(0, MAX_ROWS).map(format);
  return { rows, more: items.length > MAX_ROWS ? [`    … and ${items.length - MAX_ROWS} more (see the JSON report)`] : [] };
}

function columns(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows.map((row) => `    ${row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()}`);
}

function recordLines(record: RecordReport, paint: (verdict: Verdict, text: string) => string): string[] {
  const q = sanitizeTerminal;
  const lines = [`${paint(record.verdict, `${MARK[record.verdict]} ${q(record.name)}: ${VERDICT_LABEL[record.verdict]}${driftKindLabel(record)}`)}  (${q(record.recordPath)})`, `  ${explainRecord(record, q)}`];
  if (record.code?.ranAt) lines.push(`  ran the code of the recorded commit ${q(record.code.ranAt)}`);
  const drift = driftSentence(record, q);
  if (drift) lines.push(`  ${drift}`);
  if (record.drift?.kind === 'nondeterministic' && record.drift.varying.length > 0) {
    const { rows, more } = capped(record.drift.varying, (output) => varyingRows([output], q)[0]!);
    lines.push(...columns([['output', ...Array.from({ length: record.drift.runs }, (_, i) => `run ${i + 1}`)], ...rows]), ...more);
  }
  if (record.variations?.length) lines.push(...columns([['variation', 'changed outputs'], ...variationRows(record, q)]));
  const seeding = seedingLine(record.run, q);
  if (seeding) lines.push(`  ${seeding}`);
  if (record.error?.hint) lines.push(`  how to fix: ${q(record.error.hint)}`);
  for (const warning of record.warnings ?? []) lines.push(`  warning: ${q(warning)}`);
  const metrics = record.metrics.filter((metric) => metric.status !== 'equal' && metric.status !== 'new');
  if (metrics.length > 0) {
    const { rows, more } = capped(metrics, (metric) => {
      const [recorded, rerun] = formatPair(metric.recorded, metric.rerun);
      return [q(metric.name), recorded, rerun, formatDelta(metric.delta), formatTolerance(metric.tolerance), metric.status];
    });
    lines.push(...columns([['metric', 'recorded', 'rerun', 'Δ', 'tolerance', 'status'], ...rows]), ...more);
  }
  const artifacts = record.artifacts.filter((artifact) => artifact.status !== 'identical');
  if (artifacts.length > 0) {
    const { rows, more } = capped(artifacts, (a) => [q(a.path), shortHash(a.recorded), shortHash(a.actual), `${a.status}${a.policy === 'report' ? ' (not gating)' : ''}`]);
    lines.push(...columns([['artifact', 'recorded', 'rerun', 'status'], ...rows]), ...more);
  }
  const thresholds = capped(record.thresholds.filter((t) => t.status !== 'pass'), (threshold) => [
    `    threshold ${q(threshold.metric)}: ${threshold.status} (rerun ${threshold.value ?? '—'}, min ${threshold.min ?? '—'}, max ${threshold.max ?? '—'})`,
  ]);
  lines.push(...thresholds.rows.flat(), ...thresholds.more);
  const inputs = capped(record.inputs.filter((i) => i.status !== 'match'), (input) => [
    `    ${input.kind} ${q(input.path)}: ${input.status} (recorded ${shortHash(input.recorded)}, now ${shortHash(input.actual)})`,
  ]);
  lines.push(...inputs.rows.flat(), ...inputs.more);
  if (record.causes.length > 0 && record.verdict !== 'reproduced') lines.push(`  likely causes: ${describeCauses(record.causes, q, 8)}`);
  if (record.run?.logPath && record.verdict === 'error') lines.push(`  full log: ${q(record.run.logPath)}`);
  if (record.run?.killed?.length) lines.push(`  left running by the command, killed (found by ${record.run.containment === 'cgroup' ? 'its cgroup' : 'its environment marker'}): ${record.run.killed.map(q).join(' · ')}`);
  if (record.update && record.verdict === 'drift') lines.push(`  if this change is intended: ${q(record.update.command)}`);
  if (record.stages.length > 0) lines.push(`  stages: ${record.stages.map((stage) => `${stage.stage} ${formatDuration(stage.durationMs)}`).join(' · ')}`);
  return lines;
}

export function renderTerminal(report: Report, options: { color?: boolean } = {}): string {
  const paint = (verdict: Verdict, text: string) => (options.color ? `\u001b[${COLOR[verdict]}m${text}\u001b[0m` : text);
  const verdict = worstVerdict(report.records.map((record) => record.verdict));
  const blocks = report.records.map((record) => recordLines(record, paint).join('\n'));
  const loosened = loosenedTerminal(report, sanitizeTerminal, (text) => paint('within-tolerance', text));
  return [...(loosened ? [loosened] : []), ...blocks, paint(verdict, `repro-gate: ${VERDICT_LABEL[verdict]}`)].join('\n\n');
}
