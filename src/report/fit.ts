import { escapeInline } from './escape.js';
import { type RenderOptions, renderMarkdown } from './markdown.js';
import type { Report } from './schema.js';

// Pure: the report at the most detail that fits a size limit. Logs go first, then the environment diff,
// then table rows; only a report that still does not fit is cut, at a line boundary, with tags closed.

const ATTEMPTS: RenderOptions[] = [
  { detail: 'full' },
  { detail: 'no-logs' },
  { detail: 'compact' },
  { detail: 'compact', maxRows: 100 },
  { detail: 'compact', maxRows: 20 },
  { detail: 'compact', maxRows: 5 },
];

type Measure = (text: string) => number;

function hardCut(text: string, limit: number, measure: Measure, hint: string): string {
  const note = `\n\n> ✂️ The report was cut to fit. ${escapeInline(hint)}\n`;
  const closers = '\n</details>'.repeat(20);
  let end = text.length;
  // Shrink geometrically, then settle on the last line break: never inside a tag or a table row.
  while (end > 0 && measure(text.slice(0, end)) + measure(note) + measure(closers) > limit) end = Math.floor(end * 0.9);
  const cut = text.slice(0, text.lastIndexOf('\n', end));
  const open = (cut.match(/<details/g) ?? []).length - (cut.match(/<\/details>/g) ?? []).length;
  return `${cut}${'\n</details>'.repeat(Math.max(0, open))}${note}`;
}

function fit(report: Report, limit: number, measure: Measure, fullReportHint: string): string {
  for (const attempt of ATTEMPTS) {
    const text = renderMarkdown(report, { ...attempt, fullReportHint });
    if (measure(text) <= limit) return text;
  }
  return hardCut(renderMarkdown(report, { ...ATTEMPTS.at(-1), fullReportHint }), limit, measure, fullReportHint);
}

/** GitHub counts a comment's characters; the runner counts a job summary's UTF-8 bytes. */
const MEASURES = { chars: (text: string) => text.length, bytes: (text: string) => Buffer.byteLength(text, 'utf8') } satisfies Record<string, Measure>;

/** For a PR comment: GitHub counts characters. */
export function fitMarkdown(report: Report, maxChars: number, options: { fullReportHint: string }): string {
  return fit(report, maxChars, MEASURES.chars, options.fullReportHint);
}

/** For the job summary: the runner counts UTF-8 bytes. */
export function fitBytes(report: Report, maxBytes: number, options: { fullReportHint: string }): string {
  return fit(report, maxBytes, MEASURES.bytes, options.fullReportHint);
}

/** Markdown that is not a report (the registry's), cut the same way when it does not fit. */
export function fitText(markdown: string, limit: number, unit: keyof typeof MEASURES, hint: string): string {
  return MEASURES[unit](markdown) <= limit ? markdown : hardCut(markdown, limit, MEASURES[unit], hint);
}
