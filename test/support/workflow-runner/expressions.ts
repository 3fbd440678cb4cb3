// A small evaluator for the `${{ }}` expressions our workflows use: context paths, string/number/boolean
// literals, ==, !=, &&, ||, !, parentheses, and the functions always(), success(), cancelled(), fromJSON(), join()
// and format().
// Unknown functions throw, so a workflow that outgrows this evaluator fails loudly instead of passing.

export type Context = Record<string, unknown>;

const TOKEN = /\s*(?:(\d+(?:\.\d+)?)|'((?:[^']|'')*)'|(==|!=|&&|\|\||[!(),])|([A-Za-z_][\w-]*(?:\.[A-Za-z_*][\w-]*)*))/y;

type Token = { kind: 'number'; value: number } | { kind: 'string'; value: string } | { kind: 'op'; value: string } | { kind: 'path'; value: string };

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < source.trimEnd().length) {
    const match = TOKEN.exec(source);
    if (!match) throw new Error(`cannot parse expression: ${source}`);
    if (match[1] !== undefined) tokens.push({ kind: 'number', value: Number(match[1]) });
    else if (match[2] !== undefined) tokens.push({ kind: 'string', value: match[2].replaceAll("''", "'") });
    else if (match[3] !== undefined) tokens.push({ kind: 'op', value: match[3] });
    else tokens.push({ kind: 'path', value: match[4]! });
  }
  return tokens;
}

const truthy = (value: unknown) => value !== null && value !== undefined && value !== false && value !== '' && value !== 0;
const text = (value: unknown) => (value === null || value === undefined ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value));

function lookup(context: Context, path: string): unknown {
  if (path === 'true') return true;
  if (path === 'false') return false;
  if (path === 'null') return null;
  let value: unknown = context;
  for (const part of path.split('.')) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

const FUNCTIONS: Record<string, (...args: unknown[]) => unknown> = {
  always: () => true,
  success: () => true,
  cancelled: () => false,
  fromJSON: (value) => JSON.parse(text(value)),
  join: (list, separator = ',') => (Array.isArray(list) ? list.map(text).join(text(separator)) : text(list)),
  // `{N}` is the Nth argument after the format; `{{` and `}}` are literal braces.
  format: (template, ...args) => text(template).replace(/\{\{|\}\}|\{(\d+)\}/g, (match, index?: string) => (index === undefined ? match[0]! : text(args[Number(index)]))),
};

export function evaluate(source: string, context: Context): unknown {
  const tokens = tokenize(source);
  let position = 0;
  const peek = () => tokens[position];
  const take = (op?: string) => {
    const token = tokens[position++];
    if (!token || (op && !(token.kind === 'op' && token.value === op))) throw new Error(`expected ${op ?? 'a token'} in: ${source}`);
    return token;
  };
  const isOp = (op: string) => peek()?.kind === 'op' && peek()?.value === op;

  function primary(): unknown {
    const token = take();
    if (token.kind === 'number' || token.kind === 'string') return token.value;
    if (token.kind === 'op' && token.value === '(') {
      const value = or();
      take(')');
      return value;
    }
    if (token.kind === 'op' && token.value === '!') return !truthy(primary());
    if (token.kind !== 'path') throw new Error(`unexpected ${token.value} in: ${source}`);
    if (!isOp('(')) return lookup(context, token.value);
    const fn = FUNCTIONS[token.value];
    if (!fn) throw new Error(`unsupported function ${token.value}() in: ${source}`);
    take('(');
    const args: unknown[] = [];
    while (!isOp(')')) {
      args.push(or());
      if (isOp(',')) take(',');
    }
    take(')');
    return fn(...args);
  }
  function comparison(): unknown {
    const left = primary();
    if (!isOp('==') && !isOp('!=')) return left;
    const equal = take().value === '==';
    const same = text(left).toLowerCase() === text(primary()).toLowerCase();
    return equal ? same : !same;
  }
  // GitHub's && and || return an operand, not a boolean: `inputs.python-version || matrix.python`.
  const chain = (op: string, next: () => unknown, pick: (left: unknown, right: unknown) => unknown) => () => {
    let value = next();
    while (isOp(op)) {
      take();
      value = pick(value, next());
    }
    return value;
  };
  const and = chain('&&', comparison, (left, right) => (truthy(left) ? right : left));
  const or: () => unknown = chain('||', and, (left, right) => (truthy(left) ? left : right));

  const value = or();
  if (position !== tokens.length) throw new Error(`trailing tokens in: ${source}`);
  return value;
}

/** A `with:`/`env:` value: every `${{ }}` replaced by its value as text. */
export function interpolate(value: unknown, context: Context): string {
  return text(value).replace(/\$\{\{\s*([\s\S]+?)\s*\}\}/g, (_, expression: string) => text(evaluate(expression, context)));
}

/** An `if:` condition, with or without `${{ }}`. */
export function condition(source: string | undefined, context: Context): boolean {
  if (source === undefined) return true;
  const bare = /^\s*\$\{\{([\s\S]*)\}\}\s*$/.exec(source)?.[1] ?? source;
  return truthy(evaluate(bare, context));
}

export const usesAlways = (source: string | undefined) => /\balways\(\)/.test(source ?? '');
