import { type Document, isMap, isNode, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';

export type FieldPath = ReadonlyArray<PropertyKey>;

/** `artifacts[0].path`, `metrics.values.train.n_iter` — the way users read field paths. */
export function formatFieldPath(path: FieldPath): string {
  return path
    .map((part, index) => (typeof part === 'number' ? `[${part}]` : `${index === 0 ? '' : '.'}${String(part)}`))
    .join('');
}

export interface ParsedSource {
  value: unknown;
  /** 1-based line of the field, or of its nearest existing parent when it is missing. */
  lineOf(path: FieldPath): number | undefined;
}

export interface SyntaxProblem {
  message: string;
  line?: number;
}

/** Parses YAML (and therefore JSON) keeping enough of the document to point at lines later. */
export function parseSource(text: string): { source: ParsedSource } | { problem: SyntaxProblem } {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  const [first] = document.errors;
  if (first) {
    return { problem: { message: first.message.split('\n')[0] ?? first.message, line: first.linePos?.[0].line } };
  }
  const lineAt = (offset: number) => lineCounter.linePos(offset).line;
  return {
    source: {
      value: document.toJS({ maxAliasCount: 100 }),
      lineOf: (path) => locate(document, path, lineAt),
    },
  };
}

/** The line of the deepest part of `path` that exists: a field's key line, a list item's first line. */
function locate(document: Document, path: FieldPath, lineAt: (offset: number) => number): number | undefined {
  let node: unknown = document.contents;
  let line = isNode(node) && node.range ? lineAt(node.range[0]) : undefined;
  for (const part of path) {
    if (isMap(node)) {
      const pair = node.items.find((item) => isScalar(item.key) && String(item.key.value) === String(part));
      if (!pair) break;
      if (isNode(pair.key) && pair.key.range) line = lineAt(pair.key.range[0]);
      node = pair.value;
    } else if (isSeq(node) && typeof part === 'number') {
      const item = node.items[part];
      if (!isNode(item)) break;
      if (item.range) line = lineAt(item.range[0]);
      node = item;
    } else {
      break;
    }
  }
  return line;
}
