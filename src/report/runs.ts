import { formatNumber, plural } from './format.js';
import type { Quote } from './explain.js';
import type { RecordReport, RunReport, VaryingOutput } from './schema.js';

// Pure: how a record's extra runs read: the drift's kind (`--runs`), the outputs that varied between runs side by
// side, which variation changed what (`--vary`), and what the probe seeded.

/** The headline's qualifier: "drift (nondeterministic)". */
export function driftKindLabel(record: RecordReport): string {
  return record.verdict === 'drift' && record.drift ? ` (${record.drift.kind})` : '';
}

const FIX_NONDETERMINISM =
  'Seed the frameworks (`seeds:` with `apply_seeds: true`), set `determinism: strict` in the record, or calibrate tolerances with `repro-gate record --update --runs 5`.';

/** One sentence on what the reruns showed, with the fix for nondeterminism. */
export function driftSentence(record: RecordReport, quote: Quote): string | undefined {
  const drift = record.drift;
  if (!drift || record.verdict !== 'drift') return undefined;
  if (drift.kind === 'deterministic') return `All ${drift.runs} reruns agree with each other and not with the record: the change is real, not noise.`;
  const names = drift.varying.map((output) => quote(output.output));
  const failed = (record.reruns ?? []).filter((run) => run.failure && !run.variation).map((run) => `run ${run.index} ${quote(run.failure!)}`);
  const varies = names.length > 0 ? `${names.slice(0, 5).join(', ')}${names.length > 5 ? ` and ${names.length - 5} more` : ''} ${names.length === 1 ? 'varies' : 'vary'} between them` : '';
  return `The ${drift.runs} reruns disagree with each other: the training is nondeterministic (${[varies, ...failed].filter(Boolean).join('; ')}). ${FIX_NONDETERMINISM}`;
}

/** A short sha256 or a number; from a report another job wrote, so quoted all the same. */
function cell(value: VaryingOutput['values'][number], quote: Quote): string {
  if (value === null) return '—';
  return typeof value === 'number' || value === 'NaN' || value === 'Infinity' || value === '-Infinity' ? formatNumber(value) : quote(value);
}

/** The varying outputs, one row each, one column per run. */
export function varyingRows(outputs: VaryingOutput[], quote: Quote): string[][] {
  return outputs.map((output) => [quote(output.output), ...output.values.map((value) => cell(value, quote))]);
}

/** One row per variation: what it changed, or that it changed nothing. */
export function variationRows(record: RecordReport, quote: Quote): string[][] {
  return (record.variations ?? []).map((variation) => [
    quote(variation.variation),
    variation.failure ? `run failed: ${quote(variation.failure)}` : variation.changed.length === 0 ? 'no change' : variation.changed.map((output) => `${quote(output.output)} (${cell(output.values[0] ?? null, quote)} → ${cell(output.values[1] ?? null, quote)})`).join(', '),
  ]);
}

/** What the probe did with the seeds, in one line; undefined when it did nothing. */
export function seedingLine(run: RunReport | undefined, quote: Quote): string | undefined {
  const seeding = run?.seeding;
  if (!seeding) return undefined;
  const calls = seeding.applied.flatMap((entry) => entry.calls.map((call) => `${quote(call)}${entry.processes > 1 ? ` (${plural(entry.processes, 'process')})` : ''}`));
  const failed = (seeding.failed ?? []).map((entry) => `${quote(entry.module)} failed: ${quote(entry.error)}`);
  const what = [...calls, ...failed];
  return `Seeds applied in-process by the probe${seeding.strict ? ' (strict determinism)' : ''}: ${what.length > 0 ? what.join(' · ') : 'none (no seeded framework was imported)'}`;
}
