import { fromReportNumber, type ReportNumber, type Verdict } from './schema.js';

export const VERDICT_EMOJI: Record<Verdict, string> = { reproduced: '✅', 'within-tolerance': '🟡', drift: '❌', error: '⚠️', unaffected: '⏭️' };
export const VERDICT_LABEL: Record<Verdict, string> = {
  reproduced: 'reproduced',
  'within-tolerance': 'within tolerance',
  drift: 'drift',
  error: 'error',
  unaffected: 'unaffected',
};

export function formatNumber(value: ReportNumber, significant = 6): string {
  const number = fromReportNumber(value);
  if (!Number.isFinite(number)) return String(value);
  if (Number.isInteger(number) && Math.abs(number) < 1e15) return String(number);
  return String(Number(number.toPrecision(significant)));
}

/** Two numbers with just enough digits that different values never print the same (a drift is never rounded away). */
export function formatPair(a: ReportNumber | null, b: ReportNumber | null): [string, string] {
  if (a === null || b === null) return [a === null ? '—' : formatNumber(a), b === null ? '—' : formatNumber(b)];
  for (let digits = 6; digits <= 17; digits++) {
    const pair: [string, string] = [formatNumber(a, digits), formatNumber(b, digits)];
    if (pair[0] !== pair[1] || fromReportNumber(a) === fromReportNumber(b)) return pair;
  }
  return [String(a), String(b)];
}

export function formatDelta(delta: ReportNumber | null): string {
  if (delta === null) return '—';
  const number = fromReportNumber(delta);
  if (number === 0) return '0';
  return `${number > 0 ? '+' : ''}${formatNumber(delta, 3)}`;
}

/** A min/max gate as readers see it: `≥ 0.9`, `≤ 50`, `≥ 0.9 and ≤ 1`; empty without either bound. */
export function formatThresholdRule(min: number | undefined, max: number | undefined): string {
  return [min !== undefined ? `≥ ${formatNumber(min)}` : '', max !== undefined ? `≤ ${formatNumber(max)}` : ''].filter(Boolean).join(' and ');
}

export function formatTolerance(tolerance: { abs: number; rel: number }): string {
  const parts = [];
  if (tolerance.abs > 0) parts.push(formatNumber(tolerance.abs));
  if (tolerance.rel > 0) parts.push(`${formatNumber(tolerance.rel * 100)}%`);
  return parts.length === 0 ? 'exact' : `±${parts.join(' + ')}`;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export function shortHash(hash: string | null): string {
  return hash === null ? '—' : hash.slice(0, 12);
}

export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
