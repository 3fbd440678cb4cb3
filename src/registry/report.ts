import { escapeInline, sanitizeTerminal } from '../report/escape.js';
import { formatDelta, formatPair } from '../report/format.js';
import { toReportNumber } from '../report/schema.js';
import type { PolicyRow } from './policy.js';
import type { RegistryProblem } from './state.js';

// Pure: what `registry check`, `registry promote` and the action's `mode: registry` print. Every name in it may come
// from a pull request, so markdown gets escapeInline and the terminal sanitizeTerminal.

/** One alias move, proposed (promote, a pull request's moved alias) or refused. */
export interface PromotionView {
  model: string;
  alias: string;
  from?: string;
  to: string;
  rows: PolicyRow[];
  /** The two versions' recorded metrics, for the deltas. */
  fromMetrics: Record<string, number>;
  toMetrics: Record<string, number>;
  passes: boolean;
}

export interface RegistryView {
  problems: RegistryProblem[];
  promotions: PromotionView[];
  /** What the registry was checked against (`--base`, the pull request's base). */
  base?: string;
}

const ROW_MARK = (ok: boolean | null) => (ok === null ? '➖' : ok ? '✅' : '❌');

export function registryPasses(view: RegistryView): boolean {
  return view.problems.length === 0 && view.promotions.every((promotion) => promotion.passes);
}

function deltas(view: PromotionView): Array<{ metric: string; from: string; to: string; delta: string }> {
  const metrics = [...new Set([...Object.keys(view.fromMetrics), ...Object.keys(view.toMetrics)])].sort();
  return metrics.map((metric) => {
    const [a, b] = [view.fromMetrics[metric], view.toMetrics[metric]];
    const [from, to] = formatPair(a === undefined ? null : toReportNumber(a), b === undefined ? null : toReportNumber(b));
    return { metric, from, to, delta: a === undefined || b === undefined ? '—' : formatDelta(toReportNumber(b - a)) };
  });
}

function rollbackOf(view: PromotionView): string {
  return view.from === undefined ? 'none (first promotion)' : view.from;
}

const moveTitle = (view: PromotionView) => `${view.model} ${view.alias}: ${view.from ?? '(none)'} → ${view.to}`;

export function renderRegistryMarkdown(view: RegistryView): string {
  const passes = registryPasses(view);
  const lines = [`### ${passes ? '✅' : '❌'} Model registry ${passes ? 'passes' : 'fails'}${view.base ? ` (against ${escapeInline(view.base)})` : ''}`, ''];
  if (view.promotions.length === 0 && view.problems.length === 0) lines.push('No alias moved, and every version matches its checksums.', '');
  for (const promotion of view.promotions) {
    lines.push(`#### ${promotion.passes ? '✅' : '❌'} ${escapeInline(moveTitle(promotion))}`, '', `Rollback target: ${escapeInline(rollbackOf(promotion))}`, '');
    lines.push('| Policy | | Detail |', '|---|---|---|');
    for (const row of promotion.rows) lines.push(`| ${escapeInline(row.rule)} | ${ROW_MARK(row.ok)} | ${escapeInline(row.detail)} |`);
    const rows = deltas(promotion);
    if (rows.length > 0) {
      lines.push('', `| Metric | ${escapeInline(promotion.from ?? '—')} | ${escapeInline(promotion.to)} | Δ |`, '|---|---:|---:|---:|');
      for (const row of rows) lines.push(`| ${escapeInline(row.metric)} | ${row.from} | ${row.to} | ${row.delta} |`);
    }
    lines.push('');
  }
  if (view.problems.length > 0) {
    lines.push(`**${view.problems.length} problem${view.problems.length === 1 ? '' : 's'}:**`, '');
    for (const problem of view.problems) lines.push(`- **${escapeInline(problem.model)}**: ${escapeInline(problem.message, 1_000)}`);
  }
  return lines.join('\n');
}

export function renderRegistryTerminal(view: RegistryView): string {
  const lines: string[] = [];
  for (const promotion of view.promotions) {
    lines.push(`${promotion.passes ? '✓' : '✗'} ${sanitizeTerminal(moveTitle(promotion))}   rollback: ${sanitizeTerminal(rollbackOf(promotion))}`);
    for (const row of promotion.rows) lines.push(`    ${row.ok === null ? '-' : row.ok ? '✓' : '✗'} ${sanitizeTerminal(row.rule)}: ${sanitizeTerminal(row.detail)}`);
    for (const row of deltas(promotion)) lines.push(`    ${sanitizeTerminal(row.metric)}: ${row.from} → ${row.to} (${row.delta})`);
  }
  for (const problem of view.problems) lines.push(`✗ ${sanitizeTerminal(problem.model)}: ${sanitizeTerminal(problem.message)}`);
  if (view.problems.length === 0 && view.promotions.length === 0) lines.push(`✓ registry passes${view.base ? ` against ${sanitizeTerminal(view.base)}` : ''}: every version matches its checksums, every alias its log and policy`);
  return lines.join('\n');
}
