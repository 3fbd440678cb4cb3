import { UserError } from '../../errors.js';
import { parseMetricsJson } from '../metrics-file.js';
import { checkTensorName, float64Tensor, MAX_TABLE_TENSORS, readTableText, tooManyTensors } from './numeric-table.js';
import type { TensorEntry, TensorFile } from './tensor-file.js';

// A JSON numeric table: a top-level (nested, rectangular) array of numbers is one tensor "values"; an object maps
// dotted key paths to numbers (0-d tensors) or such arrays. Every value is float64, whatever JSON spelled.
// NaN / Infinity / -Infinity are accepted as Python's json.dump writes them. The file is the command's output, so
// nothing here recurses on its shape: nesting is walked with explicit stacks.

/** numpy's limit on dimensions (NPY_MAXDIMS). */
const MAX_DIMENSIONS = 64;
const TOP_LEVEL_TENSOR = 'values';
const JSON_TABLE_HINT =
  'A JSON table is an array of numbers (nested arrays of equal length for more dimensions) or an object whose values are numbers or such arrays; write missing values as NaN (json.dump does).';

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  return `${typeof value} ${String(value)}`;
}

/** The shape (from each level's first element) and the values in row-major order, or a message saying what is wrong. */
function flattenNumericArray(root: unknown[]): { shape: number[]; values: number[] } | { problem: string } {
  const shape: number[] = [];
  for (let probe: unknown = root; Array.isArray(probe); probe = probe[0]) {
    if (shape.length === MAX_DIMENSIONS) return { problem: `nests arrays more than ${MAX_DIMENSIONS} levels deep` };
    shape.push(probe.length);
  }
  const values: number[] = [];
  const stack = [{ items: root, depth: 0, next: 0 }];
  const indexOf = () => `[${stack.map((level) => level.next - 1).join('][')}]`;
  while (stack.length > 0) {
    const level = stack.at(-1)!;
    if (level.next === level.items.length) {
      stack.pop();
      continue;
    }
    const item = level.items[level.next++];
    if (level.depth === shape.length - 1) {
      if (typeof item !== 'number') return { problem: `has ${describeValue(item)} at ${indexOf()}, where a number belongs` };
      values.push(item);
      continue;
    }
    const expected = shape[level.depth + 1]!;
    if (!Array.isArray(item) || item.length !== expected) {
      const found = Array.isArray(item) ? `an array of ${item.length}` : describeValue(item);
      return { problem: `is not rectangular: ${indexOf()} is ${found}, where the first element at that depth is an array of ${expected}` };
    }
    stack.push({ items: item, depth: level.depth + 1, next: 0 });
  }
  return { shape, values };
}

function arrayTensor(name: string, array: unknown[], displayPath: string): TensorEntry {
  const flattened = flattenNumericArray(array);
  if ('problem' in flattened) {
    const which = name === TOP_LEVEL_TENSOR ? 'the top-level array' : `"${name}"`;
    throw new UserError(`${displayPath}: ${which} ${flattened.problem}`, JSON_TABLE_HINT);
  }
  return float64Tensor(name, flattened.shape, flattened.values);
}

/** One tensor per leaf, named by its dotted key path, in the file's key order. */
function objectTensors(root: Record<string, unknown>, displayPath: string): TensorEntry[] {
  const tensors: TensorEntry[] = [];
  const named = new Set<string>();
  const stack: Array<{ entries: Iterator<[string, unknown]>; prefix: string }> = [{ entries: Object.entries(root)[Symbol.iterator](), prefix: '' }];
  while (stack.length > 0) {
    const next = stack.at(-1)!.entries.next();
    if (next.done) {
      stack.pop();
      continue;
    }
    const [key, value] = next.value;
    const prefix = stack.at(-1)!.prefix;
    const name = prefix ? `${prefix}.${key}` : key;
    checkTensorName(name, displayPath);
    if (isObject(value)) {
      stack.push({ entries: Object.entries(value)[Symbol.iterator](), prefix: name });
      continue;
    }
    if (named.has(name)) {
      throw new UserError(`${displayPath}: two entries flatten to the same name "${name}" (a key with a "." and a nested object)`, 'Rename one of them.');
    }
    named.add(name);
    if (tensors.length === MAX_TABLE_TENSORS) throw tooManyTensors(displayPath);
    if (typeof value === 'number') tensors.push(float64Tensor(name, [], [value]));
    else if (Array.isArray(value)) tensors.push(arrayTensor(name, value, displayPath));
    else throw new UserError(`${displayPath}: "${name}" is ${describeValue(value)}, not a number or an array of numbers`, JSON_TABLE_HINT);
  }
  return tensors;
}

export async function openJsonTable(file: string, displayPath: string): Promise<TensorFile> {
  const text = await readTableText(file, displayPath, 'JSON');
  let parsed: unknown;
  try {
    parsed = parseMetricsJson(text);
  } catch (error) {
    throw new UserError(`${displayPath}: is not valid JSON: ${(error as Error).message}`, JSON_TABLE_HINT);
  }
  let tensors: TensorEntry[];
  if (Array.isArray(parsed)) tensors = [arrayTensor(TOP_LEVEL_TENSOR, parsed, displayPath)];
  else if (isObject(parsed)) tensors = objectTensors(parsed, displayPath);
  else throw new UserError(`${displayPath}: the top level is ${describeValue(parsed)}, not an array or an object`, JSON_TABLE_HINT);
  return { format: 'json', tensors, close: async () => {} };
}
