import { TENSOR_TABLE_ROWS, TOOL_NAME } from '../constants.js';
import type { Quote } from './explain.js';
import { formatNumber, formatTolerance, plural } from './format.js';
import type { ArtifactCheck, NumericCheck, RecordReport, TensorCheck } from './schema.js';

// Pure: how a numeric artifact's tensor-by-tensor comparison reads, in a sentence and in a table.

const TENSOR_STATUS: Record<TensorCheck['status'], string> = {
  within: '🟡 within',
  beyond: '❌ beyond',
  differs: '❌ differs',
  added: '❌ added',
  removed: '❌ removed',
  changed: '❌ changed',
  retyped: 'ℹ️ retyped (not gating)',
};

const SAMPLE_NOTE = 'judged on a sample, not every element';

function shape(check: TensorCheck): string {
  return `${check.dtype}[${check.shape.join('×')}]`;
}

function mismatchFigures(check: TensorCheck): string {
  const parts = [];
  if (check.mismatched !== undefined && check.total !== undefined) parts.push(`${check.mismatched}/${check.total} beyond`);
  if (check.maxAbs !== undefined) parts.push(`max abs Δ ${formatNumber(check.maxAbs, 3)}`);
  return parts.join(', ');
}

/** The package versions that changed, for "serialization changed" (the reader's first question is: by what?). */
function packageChanges(record: RecordReport): string {
  const changed = record.environment?.packages?.changed ?? [];
  if (changed.length === 0) return '';
  const shown = changed.slice(0, 3).map((change) => `${change.name} ${change.recorded} → ${change.actual}`);
  return ` (${shown.join(', ')}${changed.length > 3 ? `, and ${changed.length - 3} more` : ''})`;
}

function listed(checks: TensorCheck[], quote: Quote, describe: (check: TensorCheck) => string): string {
  const shown = checks.slice(0, 3).map((check) => `${quote(check.name)} ${describe(check)}`.trim());
  return `${shown.join('; ')}${checks.length > 3 ? `; and ${checks.length - 3} more` : ''}`;
}

function structureChange(check: TensorCheck): string {
  return check.status === 'changed' ? (check.change ?? 'changed') : check.status;
}

function l2Change(check: TensorCheck): string {
  return check.recorded && check.rerun ? `L2 ${formatNumber(check.recorded.l2)} → ${formatNumber(check.rerun.l2)}` : '';
}

/** One finding for the record's explanation line. */
export function describeNumericArtifact(artifact: ArtifactCheck, numeric: NumericCheck, record: RecordReport, quote: Quote): string {
  const name = quote(artifact.path);
  const moved = numeric.tensors.filter((check) => check.status === 'within' || check.status === 'beyond');
  const sample = numeric.basis === 'sample' ? `; ${SAMPLE_NOTE}` : '';
  switch (numeric.outcome) {
    case 'content-identical': {
      const retyped = numeric.tensors.filter((check) => check.status === 'retyped');
      const note = retyped.length > 0 ? `; ${listed(retyped, quote, (check) => check.change ?? '')}` : '';
      return `${name}: serialization changed, content identical (${plural(numeric.identicalCount, 'tensor')} bit-identical${note})${packageChanges(record)}`;
    }
    case 'within-tolerance':
      return `${name} within tolerance: ${plural(moved.length, 'tensor')} moved, ${numeric.identicalCount} bit-identical, largest ${listed(moved.slice(0, 1), quote, mismatchFigures)}${sample}`;
    case 'beyond-tolerance': {
      const beyond = numeric.tensors.filter((check) => check.status === 'beyond');
      return `${name} beyond tolerance in ${plural(beyond.length, 'tensor')}: ${listed(beyond, quote, (check) => check.change ?? mismatchFigures(check))}${sample}`;
    }
    case 'structure-changed': {
      const changed = numeric.tensors.filter((check) => ['changed', 'added', 'removed'].includes(check.status));
      return `${name} structure changed: ${listed(changed, quote, structureChange)}`;
    }
    case 'no-baseline': {
      const differs = numeric.tensors.filter((check) => check.status === 'differs');
      return `${name} differs in ${plural(differs.length, 'tensor')}; no baseline to compare elementwise: ${listed(differs, quote, l2Change)}`;
    }
    case 'unrecorded':
      return `${name} differs; the record holds no tensor fingerprint to compare with (\`${TOOL_NAME} record --update\` adds it)`;
  }
}

function statisticsCell(check: TensorCheck): string {
  if (!check.recorded || !check.rerun) return '';
  const { recorded, rerun } = check;
  const mean = (value: typeof recorded.mean) => (value === null ? '—' : formatNumber(value, 4));
  return `L2 ${formatNumber(recorded.l2, 4)} → ${formatNumber(rerun.l2, 4)}, mean ${mean(recorded.mean)} → ${mean(rerun.mean)}`;
}

/** The collapsed tensor table of one artifact: the largest deviations first, then a count of the rest. */
export function tensorTable(artifact: ArtifactCheck, numeric: NumericCheck, quote: Quote): string | undefined {
  if (numeric.tensors.length === 0 && !numeric.parameters) return undefined;
  const rows = numeric.tensors.slice(0, TENSOR_TABLE_ROWS).map((check) => [
    quote(check.name),
    quote(shape(check)),
    `${TENSOR_STATUS[check.status]}${check.change ? `: ${quote(check.change)}` : ''}`,
    mismatchFigures(check),
    check.maxRel === undefined ? '' : formatNumber(check.maxRel, 3),
    check.firstMismatch ? `[${check.firstMismatch.join(', ')}]` : '',
    check.tolerance ? formatTolerance(check.tolerance) : '',
    statisticsCell(check),
  ]);
  const lines = ['| Tensor | dtype[shape] | Status | Elements | max rel | First at | Tolerance | Statistics |', '|---|---|---|---|---|---|---|---|'];
  lines.push(...rows.map((row) => `| ${row.join(' | ')} |`));
  const rest = numeric.tensorCount - numeric.identicalCount - rows.length;
  const notes = [
    rest > 0 ? `… and ${rest} more tensors that are not identical.` : '',
    `${plural(numeric.identicalCount, 'tensor')} of ${numeric.tensorCount} bit-identical.`,
    numeric.basis === 'sample' ? `Differing tensors were ${SAMPLE_NOTE}.` : numeric.basis === 'baseline' && numeric.baseline ? `Compared element by element with the baseline ${quote(numeric.baseline)}.` : '',
    parametersNote(numeric, quote),
  ].filter(Boolean);
  const table = rows.length > 0 ? `${lines.join('\n')}\n\n` : '';
  return `<details><summary>Tensors of ${quote(artifact.path)} (${numeric.format})</summary>\n\n${table}${notes.join(' ')}\n\n</details>`;
}

function parametersNote(numeric: NumericCheck, quote: Quote): string {
  const parameters = numeric.parameters;
  if (!parameters) return '';
  const part = (label: string, names: string[]) => (names.length > 0 ? `${label} ${names.slice(0, 10).map(quote).join(', ')}${names.length > 10 ? ` and ${names.length - 10} more` : ''}` : '');
  const parts = [part('added', parameters.added), part('removed', parameters.removed), part('changed', parameters.changed)].filter(Boolean);
  return `Constructor parameters (listed, not gating): ${parts.join('; ')}.`;
}
