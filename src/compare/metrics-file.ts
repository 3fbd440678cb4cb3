// Pure: the rerun's metrics file as Python's json.dump writes it, flattened to dotted names.

const NON_FINITE: Record<string, number> = { NaN: Number.NaN, Infinity: Infinity, '-Infinity': -Infinity };
const SENTINEL = '\u0000repro-gate-number:';

/** JSON plus the bare NaN / Infinity / -Infinity tokens Python writes (left alone inside strings). */
export function parseMetricsJson(text: string): unknown {
  const tokenized = text.replace(/"(?:[^"\\]|\\.)*"|-?Infinity|NaN/g, (token) =>
    token.startsWith('"') ? token : JSON.stringify(`${SENTINEL}${token}`),
  );
  return JSON.parse(tokenized, (_key, value: unknown) =>
    typeof value === 'string' && value.startsWith(SENTINEL) ? NON_FINITE[value.slice(SENTINEL.length)] : value,
  );
}

/** Nested objects flatten with "." (`{"train": {"n_iter": 30}}` → `train.n_iter`); non-numeric leaves are listed as ignored. */
export function flattenMetrics(value: unknown): { values: Record<string, number>; ignored: string[] } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error('the top level must be a JSON object');
  }
  const values: Record<string, number> = {};
  const ignored: string[] = [];
  const visit = (node: Record<string, unknown>, prefix: string) => {
    for (const [key, child] of Object.entries(node)) {
      const name = prefix ? `${prefix}.${key}` : key;
      if (typeof child === 'number') values[name] = child;
      else if (typeof child === 'object' && child !== null && !Array.isArray(child)) visit(child as Record<string, unknown>, name);
      else ignored.push(name);
    }
  };
  visit(value as Record<string, unknown>, '');
  return { values, ignored };
}
