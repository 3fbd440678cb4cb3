// numpy's .npy format (header versions 1.0, 2.0 and 3.0): a magic string, a Python-literal dict naming the dtype,
// memory order and shape, then the raw elements. The header is parsed by a strict reader of the literal subset
// numpy writes (nothing is evaluated), and the data size it implies must match the bytes that follow it exactly.

import { UserError } from '../../errors.js';
import { elementChunks, openRegularFile, readPrefix, type ByteSource } from './byte-source.js';
import { itemSizeOf, type DType, type NumericDType, type TensorEntry, type TensorFile } from './tensor-file.js';

const MAGIC = [0x93, ...Buffer.from('NUMPY')];
const MAX_HEADER_BYTES = 1024 * 1024;
// numpy's own limit on dimensions (NPY_MAXDIMS in numpy 2).
const MAX_DIMENSIONS = 64;
const MAX_LITERAL_DEPTH = 32;
const NPY_HINT = 'Write it with numpy.save (or numpy.savez for several arrays) and make sure the file is complete.';

/** Reads a standalone .npy file: one tensor, named `array`. */
export async function openNpy(file: string, displayPath: string): Promise<TensorFile> {
  const opened = await openRegularFile(file, displayPath);
  try {
    const tensor = await readNpyEntry(opened.source, 'array', displayPath);
    return { format: 'npy', tensors: [tensor], close: opened.close };
  } catch (error) {
    await opened.close();
    throw error;
  }
}

/**
 * Parses the .npy header at the start of `source` (a file, or an npz member) and describes the array after it.
 * `where` names the source in messages (`out/a.npy`, `out/a.npz (member x.npy)`).
 */
export async function readNpyEntry(source: ByteSource, name: string, where: string): Promise<TensorEntry> {
  const fail = (what: string) => new UserError(`${where}: ${what}`, NPY_HINT);
  const preamble = await readPrefix(source, Math.min(source.size, 12));
  if (preamble.length < 10 || MAGIC.some((byte, index) => preamble[index] !== byte)) {
    throw fail('not an .npy array (it does not start with the \\x93NUMPY magic string)');
  }
  const [major, minor] = [preamble[6]!, preamble[7]!];
  if (![1, 2, 3].includes(major) || minor !== 0) throw fail(`.npy format version ${major}.${minor} is not supported (only 1.0, 2.0 and 3.0)`);
  if (major > 1 && preamble.length < 12) throw fail('the file ends inside its header');
  const view = new DataView(preamble.buffer, preamble.byteOffset, preamble.byteLength);
  const headerStart = major === 1 ? 10 : 12;
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  if (headerLength > MAX_HEADER_BYTES) throw fail(`its header claims ${headerLength} bytes, more than the ${MAX_HEADER_BYTES} repro-gate reads`);
  const dataOffset = headerStart + headerLength;
  if (dataOffset > source.size) throw fail(`its header claims ${headerLength} bytes, past the end of the ${source.size}-byte file`);

  const headerBytes = (await readPrefix(source, dataOffset)).subarray(headerStart);
  let headerText: string;
  try {
    headerText = new TextDecoder(major === 3 ? 'utf-8' : 'latin1', { fatal: true }).decode(headerBytes);
  } catch {
    throw fail('its version 3.0 header is not valid UTF-8');
  }
  const header = parseHeader(headerText, fail);
  const element = elementTypeOf(header.descr, fail);

  const elementCount = header.shape.reduce((product, dimension) => product * BigInt(dimension), 1n);
  const byteLength = elementCount * BigInt(element.itemSize);
  const available = source.size - dataOffset;
  if (byteLength !== BigInt(available)) {
    const shapeText = header.shape.length === 1 ? `(${header.shape[0]},)` : `(${header.shape.join(', ')})`;
    throw fail(
      `the header declares ${byteLength} bytes of data (shape ${shapeText} of ${element.itemSize}-byte ${element.dtype}) but the file holds ${available} after the header`,
    );
  }
  return {
    // A Fortran-ordered array is streamed as stored (column-major) with the shape as written, so np.save(W.T) of a
    // square W holds W's very bytes under W's shape. Naming the order keeps the two from comparing identical: an
    // array that switches order is a tensor gone and another new, a change of structure the comparison reports.
    name: header.fortranOrder ? `${name} (Fortran order)` : name,
    dtype: element.dtype,
    shape: header.shape,
    itemSize: element.itemSize,
    byteLength: available,
    chunks: () => elementChunks(source, dataOffset, element.itemSize, element.bigEndian),
  };
}

interface NpyHeader {
  descr: PyLiteral;
  fortranOrder: boolean;
  shape: number[];
}

function parseHeader(text: string, fail: (what: string) => UserError): NpyHeader {
  const literal = parsePyLiteral(text, fail);
  if (!(literal instanceof PyDict)) throw fail(`its header is not a dict: ${text.trim().slice(0, 200)}`);
  const keys = [...literal.entries.keys()].sort();
  if (keys.join() !== 'descr,fortran_order,shape') {
    throw fail(`its header has the keys ${keys.join(', ') || '(none)'}; an .npy header has exactly descr, fortran_order and shape`);
  }
  const fortranOrder = literal.entries.get('fortran_order');
  if (typeof fortranOrder !== 'boolean') throw fail(`its header's fortran_order is ${renderPyLiteral(fortranOrder!)}, not True or False`);
  const shape = literal.entries.get('shape');
  if (!(shape instanceof PyTuple)) throw fail(`its header's shape is ${renderPyLiteral(shape!)}, not a tuple`);
  if (shape.items.length > MAX_DIMENSIONS) throw fail(`its shape has ${shape.items.length} dimensions, more than numpy's ${MAX_DIMENSIONS}`);
  const dimensions = shape.items.map((dimension) => {
    if (typeof dimension !== 'bigint' || dimension < 0n || dimension > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw fail(`its shape ${renderPyLiteral(shape)} holds ${renderPyLiteral(dimension)}, not a non-negative dimension`);
    }
    return Number(dimension);
  });
  return { descr: literal.entries.get('descr')!, fortranOrder, shape: dimensions };
}

interface ElementType {
  dtype: DType;
  itemSize: number;
  /** Numeric data stored big-endian, swapped while streaming; raw types keep their bytes and their '>' in the name. */
  bigEndian: boolean;
}

const NUMERIC_BY_KIND: Record<string, NumericDType> = {
  b1: 'bool',
  f2: 'float16',
  f4: 'float32',
  f8: 'float64',
  i1: 'int8',
  i2: 'int16',
  i4: 'int32',
  i8: 'int64',
  u1: 'uint8',
  u2: 'uint16',
  u4: 'uint32',
  u8: 'uint64',
};
// Byte order, kind, size, and a datetime unit: '<f4', '|b1', '>U8', '<M8[ns]', '|V2'.
const SIMPLE_DESCR = /^([<>|=!]?)([biufcmMSUV])(\d+)(\[\w+\])?$/;
const MAX_ITEM_BYTES = 2n ** 31n;

function elementTypeOf(descr: PyLiteral, fail: (what: string) => UserError): ElementType {
  if (typeof descr === 'string') {
    const numeric = NUMERIC_BY_KIND[descr.replace(/^[<>|=!]/, '')];
    if (numeric) return { dtype: numeric, itemSize: itemSizeOf(numeric), bigEndian: descr.startsWith('>') || descr.startsWith('!') };
  }
  const itemSize = itemSizeOfDescr(descr, 0, fail);
  if (itemSize === 0n) throw fail(`its dtype ${renderPyLiteral(descr)} has zero-size elements`);
  if (itemSize > MAX_ITEM_BYTES) throw fail(`its dtype ${renderPyLiteral(descr)} has elements of ${itemSize} bytes`);
  return { dtype: `raw:${typeof descr === 'string' ? descr : renderPyLiteral(descr)}`, itemSize: Number(itemSize), bigEndian: false };
}

/** Bytes per element of a simple descr ('<U8') or a structured one ([('a', '<i4'), ('b', '<f8', (2,))]). */
function itemSizeOfDescr(descr: PyLiteral, depth: number, fail: (what: string) => UserError): bigint {
  if (depth > MAX_LITERAL_DEPTH) throw fail('its dtype is nested too deeply');
  if (typeof descr === 'string') {
    if (/^[<>|=!]?O\d*$/.test(descr)) {
      throw fail('it holds Python objects (dtype object), which cannot be compared without unpickling; save numeric arrays instead');
    }
    const match = SIMPLE_DESCR.exec(descr);
    if (!match) throw fail(`its dtype ${renderPyLiteral(descr)} is not one numpy writes`);
    const [, , kind, digits] = match;
    return BigInt(digits!) * (kind === 'U' ? 4n : 1n);
  }
  if (!(descr instanceof PyList)) throw fail(`its dtype ${renderPyLiteral(descr)} is neither a type string nor a list of fields`);
  let total = 0n;
  for (const field of descr.items) {
    if (!(field instanceof PyTuple) || field.items.length < 2 || field.items.length > 3) {
      throw fail(`its dtype field ${renderPyLiteral(field)} is not (name, type) or (name, type, shape)`);
    }
    const [, fieldDescr, fieldShape] = field.items;
    const dimensions = fieldShape === undefined ? [] : fieldShape instanceof PyTuple ? fieldShape.items : [fieldShape];
    const count = dimensions.reduce<bigint>((product, dimension) => {
      if (typeof dimension !== 'bigint' || dimension < 0n) throw fail(`its dtype field ${renderPyLiteral(field)} has a bad shape`);
      return product * dimension;
    }, 1n);
    total += itemSizeOfDescr(fieldDescr!, depth + 1, fail) * count;
    if (total > MAX_ITEM_BYTES) return total;
  }
  return total;
}

// The Python literal subset of .npy headers: dicts, tuples, lists, strings, integers, True/False/None.

type PyLiteral = string | bigint | boolean | null | PyList | PyTuple | PyDict;

class PyList {
  constructor(readonly items: PyLiteral[]) {}
}

class PyTuple {
  constructor(readonly items: PyLiteral[]) {}
}

class PyDict {
  constructor(readonly entries: Map<string, PyLiteral>) {}
}

const CLOSING = { '[': ']', '(': ')', '{': '}' } as const;
const ESCAPES: Record<string, string> = { '\\': '\\', "'": "'", '"': '"', n: '\n', t: '\t', r: '\r', '0': '\0' };

function parsePyLiteral(text: string, fail: (what: string) => UserError): PyLiteral {
  let at = 0;
  const bad = (what: string) => fail(`its header is not a valid Python literal (${what} at character ${at}): ${text.trim().slice(0, 200)}`);
  const skipSpace = () => {
    while (at < text.length && /\s/.test(text[at]!)) at++;
  };

  const parseString = (): string => {
    const quote = text[at++];
    let value = '';
    for (;;) {
      if (at >= text.length) throw bad('unterminated string');
      const char = text[at++]!;
      if (char === quote) return value;
      if (char !== '\\') {
        value += char;
        continue;
      }
      const escaped = text[at++] ?? '';
      const hexLength = escaped === 'x' ? 2 : escaped === 'u' ? 4 : escaped === 'U' ? 8 : 0;
      if (hexLength > 0) {
        const hex = text.slice(at, at + hexLength);
        const codePoint = /^[0-9a-fA-F]+$/.test(hex) && hex.length === hexLength ? parseInt(hex, 16) : NaN;
        if (!(codePoint <= 0x10ffff)) throw bad('bad escape');
        value += String.fromCodePoint(codePoint);
        at += hexLength;
      } else if (escaped in ESCAPES) value += ESCAPES[escaped];
      else throw bad('unsupported escape');
    }
  };

  const parseValue = (depth: number): PyLiteral => {
    if (depth > MAX_LITERAL_DEPTH) throw bad('nesting too deep');
    skipSpace();
    const char = text[at];
    if (char === "'" || char === '"') return parseString();
    if (char === '{' || char === '(' || char === '[') return parseContainer(char, depth);
    const word = /^(?:-?\d+L?|True|False|None)/.exec(text.slice(at, at + 64))?.[0];
    if (word === undefined) throw bad(char === undefined ? 'unexpected end' : `unexpected ${JSON.stringify(char)}`);
    at += word.length;
    if (word === 'True' || word === 'False') return word === 'True';
    if (word === 'None') return null;
    // Python 2 wrote long integers with an L suffix.
    return BigInt(word.replace(/L$/, ''));
  };

  const parseContainer = (open: keyof typeof CLOSING, depth: number): PyLiteral => {
    at++;
    const items: PyLiteral[] = [];
    const entries = new Map<string, PyLiteral>();
    let trailingComma = false;
    for (;;) {
      skipSpace();
      if (text[at] === CLOSING[open]) {
        at++;
        break;
      }
      const item = parseValue(depth + 1);
      if (open === '{') {
        if (typeof item !== 'string') throw bad('a dict key that is not a string');
        skipSpace();
        if (text[at++] !== ':') throw bad('expected ":"');
        if (entries.has(item)) throw bad(`the key '${item}' twice`);
        entries.set(item, parseValue(depth + 1));
      } else items.push(item);
      skipSpace();
      trailingComma = text[at] === ',';
      if (trailingComma) at++;
      else if (text[at] !== CLOSING[open]) throw bad(`expected "," or "${CLOSING[open]}"`);
    }
    if (open === '{') return new PyDict(entries);
    // (x) is x in Python; only (x,) is a tuple.
    if (open === '(' && items.length === 1 && !trailingComma) return items[0]!;
    return open === '(' ? new PyTuple(items) : new PyList(items);
  };

  const value = parseValue(0);
  skipSpace();
  if (at !== text.length) throw bad('trailing characters');
  return value;
}

/** Python's repr of a literal, so a structured dtype is named the way numpy prints its descr. */
function renderPyLiteral(value: PyLiteral): string {
  if (typeof value === 'string') return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (value === null) return 'None';
  if (value instanceof PyList) return `[${value.items.map(renderPyLiteral).join(', ')}]`;
  if (value instanceof PyTuple) return value.items.length === 1 ? `(${renderPyLiteral(value.items[0]!)},)` : `(${value.items.map(renderPyLiteral).join(', ')})`;
  return `{${[...value.entries].map(([key, item]) => `${renderPyLiteral(key)}: ${renderPyLiteral(item)}`).join(', ')}}`;
}

