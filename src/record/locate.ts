import { type Document, isAlias, isMap, isNode, isPair, isScalar, isSeq, LineCounter, type Pair, parseDocument } from 'yaml';
import { RECORD_MAX_ALIAS_COUNT } from '../constants.js';

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
  /** The whole message, ready to show. */
  message: string;
  line?: number;
  /** How to fix it. */
  hint: string;
}

/** A key's text as it ends up in the parsed value: `1` and `"1"` are the same property there. */
function keyText(key: unknown): string {
  return isScalar(key) ? String(key.value) : String(key);
}

/**
 * The first key that a map repeats. yaml's own `uniqueKeys` check compares each key with every earlier one, which
 * took 19 s on a record with 40k metrics; this walk is linear, and iterative, so nesting depth costs no stack.
 */
function firstDuplicateKey(document: Document, lineAt: (offset: number) => number): SyntaxProblem | undefined {
  const pending: unknown[] = [document.contents];
  while (pending.length > 0) {
    const node = pending.pop();
    if (isAlias(node)) continue;
    if (isPair(node)) pending.push(node.key, node.value);
    // One push per item: spreading a list of a million items into push() would overflow the stack.
    if (isSeq(node)) for (const item of node.items) pending.push(item);
    if (!isMap(node)) continue;
    const seen = new Map<string, Pair>();
    for (const pair of node.items) {
      const key = keyText(pair.key);
      const earlier = seen.get(key);
      if (earlier) {
        const line = isNode(pair.key) && pair.key.range ? lineAt(pair.key.range[0]) : undefined;
        const earlierLine = isNode(earlier.key) && earlier.key.range ? lineAt(earlier.key.range[0]) : undefined;
        return {
          message: `duplicate key "${key}"${earlierLine ? `: line ${earlierLine} already sets it` : ''}, and only one of the two would be kept`,
          line,
          hint: 'Remove one of the two, or merge them: each key may appear once per mapping.',
        };
      }
      seen.set(key, pair);
      pending.push(pair.value);
      if (isNode(pair.key) && !isScalar(pair.key)) pending.push(pair.key);
    }
  }
  return undefined;
}

function syntaxProblem(message: string, line: number | undefined): SyntaxProblem {
  // yaml turns a stack overflow while composing into a document error; say what it means for a record.
  if (message.startsWith('Maximum call stack size exceeded')) {
    return { message: 'not valid YAML or JSON: nested too deeply to parse', line, hint: 'A run record needs only a few levels of nesting: flatten the structure at that line.' };
  }
  return { message: `not valid YAML or JSON: ${message}`, line, hint: 'Fix the syntax at that line.' };
}

/** Parses YAML (and therefore JSON) keeping enough of the document to point at lines later. */
export function parseSource(text: string): { source: ParsedSource } | { problem: SyntaxProblem } {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: false });
  const [first] = document.errors;
  if (first) {
    return { problem: syntaxProblem(first.message.split('\n')[0] ?? first.message, first.linePos?.[0].line) };
  }
  const lineAt = (offset: number) => lineCounter.linePos(offset).line;
  const duplicate = firstDuplicateKey(document, lineAt);
  if (duplicate) return { problem: duplicate };
  let value: unknown;
  try {
    value = document.toJS({ maxAliasCount: RECORD_MAX_ALIAS_COUNT });
  } catch (error) {
    // yaml throws a ReferenceError when aliases expand past maxAliasCount (the "billion laughs" attack).
    if (!(error instanceof ReferenceError && /alias/i.test(error.message))) throw error;
    return {
      problem: {
        message: `YAML aliases expand too far: aliases (*name) are limited to ${RECORD_MAX_ALIAS_COUNT} expansions, so that a small record cannot grow into gigabytes`,
        hint: 'Write the repeated values out instead of using anchors and aliases (&name / *name).',
      },
    };
  }
  // The document itself (11 MB for a record of 10,000 artifacts) is dropped here: only the lines are kept.
  const lines = lineTree(document.contents, lineAt);
  return {
    source: {
      value,
      lineOf: (path) => locate(lines, path),
    },
  };
}

/**
 * A field's line and its children's, in the document's shape: a map's by key (the first of a repeated key, as the
 * value keeps), a list's by index. About a fifth of the document's size, and a field is found in one walk down.
 */
interface LineNode {
  line: number | undefined;
  children?: Map<string, LineNode> | LineNode[];
}

function startLine(node: unknown, lineAt: (offset: number) => number): number | undefined {
  return isNode(node) && node.range ? lineAt(node.range[0]) : undefined;
}

/** Built iteratively, like the duplicate check: a deeply nested record costs no stack. */
function lineTree(contents: unknown, lineAt: (offset: number) => number): LineNode {
  const root: LineNode = { line: startLine(contents, lineAt) };
  const pending: Array<[unknown, LineNode]> = [[contents, root]];
  while (pending.length > 0) {
    const [node, entry] = pending.pop()!;
    if (isMap(node)) {
      const byKey = new Map<string, LineNode>();
      for (const item of node.items) {
        if (!isPair(item) || !isScalar(item.key) || byKey.has(String(item.key.value))) continue;
        const child: LineNode = { line: startLine(item.key, lineAt) };
        byKey.set(String(item.key.value), child);
        pending.push([item.value, child]);
      }
      entry.children = byKey;
    } else if (isSeq(node)) {
      entry.children = node.items.map((item) => {
        const child: LineNode = { line: startLine(item, lineAt) };
        pending.push([item, child]);
        return child;
      });
    }
  }
  return root;
}

/** The line of the deepest part of `path` that exists: a field's key line, a list item's first line. */
function locate(root: LineNode, path: FieldPath): number | undefined {
  let node = root;
  let line = root.line;
  for (const part of path) {
    const child = node.children instanceof Map ? node.children.get(String(part)) : typeof part === 'number' ? node.children?.[part] : undefined;
    if (!child) break;
    line = child.line ?? line;
    node = child;
  }
  return line;
}
