import { MAX_METRIC_NAME_CHARS, MAX_METRICS } from '../constants.js';
import { type ErrorLocation, UserError } from '../errors.js';

// Pure: the rerun's metrics file as Python's json.dump writes it, flattened to dotted names.
// The file is written by the command, so nothing here recurses on its shape or scans it with a backtracking pattern.

const NON_FINITE: Record<string, number> = { NaN: Number.NaN, Infinity: Infinity, '-Infinity': -Infinity };
const NON_FINITE_TOKENS = ['-Infinity', 'Infinity', 'NaN'];
const TOKEN_STARTS = new Set(NON_FINITE_TOKENS.map((token) => token.charCodeAt(0)));
const SENTINEL = '\u0000repro-gate-number:';
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** A metrics file that parses but cannot be used as metrics; the message names the key. */
export class MetricsShapeError extends Error {
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(message);
    this.name = 'MetricsShapeError';
  }
}

/** Where the string that opens at `open` (a quote) ends, just past its closing quote. */
function endOfString(text: string, open: number): number {
  let from = open + 1;
  for (;;) {
    const quote = text.indexOf('"', from);
    if (quote === -1) return text.length;
    let backslashes = 0;
    while (text.charCodeAt(quote - 1 - backslashes) === BACKSLASH) backslashes += 1;
    if (backslashes % 2 === 0) return quote + 1;
    from = quote + 1;
  }
}

/**
 * Bare NaN / Infinity / -Infinity outside strings become sentinel strings, in one linear pass. (A regular expression
 * with an alternation inside a repetition did this before, and overflowed the stack on a 10 MB string value.)
 */
function quoteNonFiniteTokens(text: string): { text: string; found: boolean } {
  const parts: string[] = [];
  let copiedUpTo = 0;
  let i = 0;
  while (i < text.length) {
    const code = text.charCodeAt(i);
    if (code === QUOTE) {
      i = endOfString(text, i);
      continue;
    }
    const token = TOKEN_STARTS.has(code) ? NON_FINITE_TOKENS.find((candidate) => text.startsWith(candidate, i)) : undefined;
    if (token === undefined) {
      i += 1;
      continue;
    }
    parts.push(text.slice(copiedUpTo, i), JSON.stringify(`${SENTINEL}${token}`));
    i += token.length;
    copiedUpTo = i;
  }
  if (parts.length === 0) return { text, found: false };
  parts.push(text.slice(copiedUpTo));
  return { text: parts.join(''), found: true };
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null;

/** Turns the sentinel strings back into numbers, walking with a list instead of recursion (any depth is fine). */
function restoreNonFinite(root: unknown): void {
  const pending: Array<Record<string, unknown>> = isObject(root) ? [root] : [];
  while (pending.length > 0) {
    const node = pending.pop()!;
    for (const key of Object.keys(node)) {
      const value = node[key];
      if (typeof value === 'string' && value.startsWith(SENTINEL)) node[key] = NON_FINITE[value.slice(SENTINEL.length)];
      else if (isObject(value)) pending.push(value as Record<string, unknown>);
    }
  }
}

/** JSON plus the bare NaN / Infinity / -Infinity tokens Python writes (left alone inside strings). */
export function parseMetricsJson(text: string): unknown {
  const tokenized = quoteNonFiniteTokens(text);
  const value: unknown = JSON.parse(tokenized.text);
  if (tokenized.found) {
    if (typeof value === 'string' && value.startsWith(SENTINEL)) return NON_FINITE[value.slice(SENTINEL.length)];
    restoreNonFinite(value);
  }
  return value;
}

const shorten = (name: string) => (name.length > 80 ? `${name.slice(0, 80)}…` : name);

/**
 * Nested objects flatten with "." (`{"train": {"n_iter": 30}}` → `train.n_iter`); non-numeric leaves (strings, booleans,
 * null, lists) are listed as ignored. Two entries that flatten to the same name (`{"a.b": 1, "a": {"b": 2}}`) are an
 * error rather than one silently replacing the other. Throws MetricsShapeError for a file that cannot be used.
 */
export function flattenMetrics(value: unknown): { values: Record<string, number>; ignored: string[] } {
  if (!isObject(value) || Array.isArray(value)) {
    throw new MetricsShapeError('the top level must be a JSON object', 'The command must write its metrics as a JSON object, e.g. {"accuracy": 0.93}.');
  }
  // No prototype: a metric may be called "constructor" or "__proto__" like any other.
  const values = Object.create(null) as Record<string, number>;
  const ignored: string[] = [];
  const named = new Set<string>();
  let count = 0;
  // Depth first, in the file's key order, with an explicit stack: nesting depth costs no call stack.
  const stack: Array<{ entries: Iterator<[string, unknown]>; prefix: string }> = [{ entries: Object.entries(value)[Symbol.iterator](), prefix: '' }];
  while (stack.length > 0) {
    const top = stack.at(-1)!;
    const next = top.entries.next();
    if (next.done) {
      stack.pop();
      continue;
    }
    const [key, child] = next.value;
    const name = top.prefix ? `${top.prefix}.${key}` : key;
    if (name.length > MAX_METRIC_NAME_CHARS) {
      throw new MetricsShapeError(
        `the metric name "${shorten(name)}" is ${name.length} characters long; at most ${MAX_METRIC_NAME_CHARS} are allowed`,
        'Use shorter keys, or nest less deeply (nested keys join with ".").',
      );
    }
    if (isObject(child) && !Array.isArray(child)) {
      stack.push({ entries: Object.entries(child)[Symbol.iterator](), prefix: name });
      continue;
    }
    if (named.has(name)) {
      throw new MetricsShapeError(
        `two entries flatten to the same metric name "${shorten(name)}" (a key with a "." and a nested object, e.g. {"a.b": 1, "a": {"b": 2}})`,
        'Rename one of them, so that every metric has its own name.',
      );
    }
    named.add(name);
    if (typeof child !== 'number') {
      ignored.push(name);
      continue;
    }
    count += 1;
    if (count > MAX_METRICS) {
      throw new MetricsShapeError(`more than ${MAX_METRICS} metrics`, 'Write the metrics that tell whether the model reproduced, not every internal value.');
    }
    values[name] = child;
  }
  return { values, ignored };
}

/**
 * The metrics in a metrics file's text, or a UserError that names the file (and the key at fault). `written` says who
 * wrote it, e.g. "written by the rerun", for the message.
 */
export function metricsFromText(text: string, displayPath: string, written: string, location: ErrorLocation): Record<string, number> {
  let parsed: unknown;
  try {
    parsed = parseMetricsJson(text);
  } catch (error) {
    throw new UserError(
      `metrics file ${displayPath} ${written} is not valid JSON: ${(error as Error).message}`,
      'The command must write its metrics as a JSON object, e.g. {"accuracy": 0.93} (json.dump writes one).',
      location,
    );
  }
  try {
    return flattenMetrics(parsed).values;
  } catch (error) {
    if (!(error instanceof MetricsShapeError)) throw error;
    throw new UserError(`metrics file ${displayPath} ${written}: ${error.message}`, error.hint, location);
  }
}
