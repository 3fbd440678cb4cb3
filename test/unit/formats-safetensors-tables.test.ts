import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCsvTable } from '../../src/compare/formats/csv-table.js';
import { openJsonTable } from '../../src/compare/formats/json-table.js';
import { openSafetensors } from '../../src/compare/formats/safetensors.js';
import { TENSOR_CHUNK_BYTES, type TensorFile } from '../../src/compare/formats/tensor-file.js';
import { bytesOf, rejection } from '../support/tensor-readers.js';
import { runTensorPython } from '../support/tensor-venv.js';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'repro-gate-formats-st-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function withFile<T>(opening: Promise<TensorFile>, use: (file: TensorFile) => Promise<T>): Promise<T> {
  const file = await opening;
  try {
    return await use(file);
  } finally {
    await file.close();
    await file.close();
  }
}

describe('safetensors', () => {
  // Each tensor as the library sees it: numpy's dtype name (torch's, for torch tensors), shape, and the sha256 and
  // length of its C-order bytes. Big tensors cross the chunk size, so chunking is exercised on real files.
  const WRITE = String.raw`
import hashlib, json, sys
try:
    import packaging.version
except ImportError:
    # safetensors.torch imports packaging without declaring it, and the shared venv's pins do not list it yet:
    # pip's vendored copy stands in.
    import pip._vendor.packaging as packaging
    import pip._vendor.packaging.version
    sys.modules["packaging"], sys.modules["packaging.version"] = packaging, packaging.version
import numpy as np, torch
from safetensors.numpy import save_file as save_numpy
from safetensors.torch import save_file as save_torch
out = sys.argv[1]
rng = np.random.default_rng(7)
arrays = {
    "weight": rng.standard_normal((3, 4)).astype(np.float32),
    "bias": rng.standard_normal(5),
    "half": rng.standard_normal((2, 2)).astype(np.float16),
    "scalar": np.array(3.5, dtype=np.float64),
    "empty": np.zeros((0, 3), dtype=np.float32),
    "big": rng.standard_normal((1100, 1000)).astype(np.float32),
    "mask": rng.random(7) > 0.5,
}
for name in ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]:
    arrays["i_" + name] = (rng.integers(0, 100, size=6) - 3 * ("u" not in name)).astype(name)
save_numpy(arrays, out + "/numpy.safetensors", metadata={"written_by": "numpy"})
tensors = {
    "layer.weight": torch.randn(4, 3, generator=torch.Generator().manual_seed(1)),
    "layer.bf16": torch.randn(2, 3, generator=torch.Generator().manual_seed(2)).to(torch.bfloat16),
    "steps": torch.arange(5, dtype=torch.int64),
    "fp8": torch.linspace(-2, 2, 6).to(torch.float8_e4m3fn),
}
save_torch(tensors, out + "/torch.safetensors")
def numpy_entry(a):
    data = np.ascontiguousarray(a).tobytes()
    return {"dtype": a.dtype.name, "shape": list(a.shape), "sha256": hashlib.sha256(data).hexdigest(), "length": len(data)}
def torch_entry(t):
    data = t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()
    return {"dtype": str(t.dtype).removeprefix("torch."), "shape": list(t.shape), "sha256": hashlib.sha256(data).hexdigest(), "length": len(data)}
print(json.dumps({
    "numpy": {k: numpy_entry(v) for k, v in arrays.items()},
    "torch": {k: torch_entry(v) for k, v in tensors.items()},
}))
`;
  // torch names the 8-bit float after its variant; safetensors (and so the reader) names it F8_E4M3.
  const RAW_NAMES: Record<string, string> = { float8_e4m3fn: 'raw:F8_E4M3' };
  type Expected = Record<string, { dtype: string; shape: number[]; sha256: string; length: number }>;
  let expected: { numpy: Expected; torch: Expected };

  beforeAll(async () => {
    expected = JSON.parse(await runTensorPython(WRITE, [dir]));
  });

  for (const library of ['numpy', 'torch'] as const) {
    it(`reads every tensor safetensors.${library}.save_file wrote, byte for byte`, async () => {
      await withFile(openSafetensors(path.join(dir, `${library}.safetensors`), `out/${library}.safetensors`), async (file) => {
        expect(file.format).toBe('safetensors');
        const want = expected[library];
        expect(file.tensors.map((tensor) => tensor.name).sort()).toEqual(Object.keys(want).sort());
        for (const tensor of file.tensors) {
          const entry = want[tensor.name]!;
          const { bytes, chunkSizes } = await bytesOf(tensor);
          expect({ name: tensor.name, dtype: tensor.dtype, shape: tensor.shape }).toEqual({
            name: tensor.name,
            dtype: RAW_NAMES[entry.dtype] ?? entry.dtype,
            shape: entry.shape,
          });
          expect(tensor.byteLength).toBe(entry.length);
          expect(tensor.itemSize * tensor.shape.reduce((a, b) => a * b, 1)).toBe(entry.length);
          expect(createHash('sha256').update(bytes).digest('hex')).toBe(entry.sha256);
          expect(Math.max(0, ...chunkSizes)).toBeLessThanOrEqual(TENSOR_CHUNK_BYTES);
          if (tensor.name === 'big') expect(chunkSizes.length).toBeGreaterThan(1);
        }
      });
    });
  }

  describe('bad files', () => {
    let valid: Buffer;
    let header: Record<string, any>;
    let data: Buffer;

    beforeAll(async () => {
      valid = await readFile(path.join(dir, 'torch.safetensors'));
      const headerLength = Number(valid.readBigUInt64LE(0));
      header = JSON.parse(valid.subarray(8, 8 + headerLength).toString('utf8'));
      data = valid.subarray(8 + headerLength);
    });

    function withHeader(edit: (copy: Record<string, any>) => void, body: Buffer = data): Buffer {
      const copy = structuredClone(header);
      edit(copy);
      const json = Buffer.from(JSON.stringify(copy));
      const length = Buffer.alloc(8);
      length.writeBigUInt64LE(BigInt(json.length));
      return Buffer.concat([length, json, body]);
    }

    const ITEM_SIZES: Record<string, number> = { F32: 4, BF16: 2, I64: 8, F8_E4M3: 1 };
    const firstTensor = () => Object.entries(header).find(([name]) => name !== '__metadata__')!;
    const cases: Array<{ name: string; bytes: () => Buffer; message: RegExp }> = [
      { name: 'shorter than the header length', bytes: () => valid.subarray(0, 5), message: /too short/ },
      {
        name: 'a header length past the end of the file',
        bytes: () => {
          const copy = Buffer.from(valid);
          copy.writeBigUInt64LE(BigInt(valid.length));
          return copy;
        },
        message: /header length is \d+ bytes, but the file holds \d+ after the length/,
      },
      {
        name: 'a header length over the 100 MB cap',
        bytes: () => {
          const copy = Buffer.from(valid);
          copy.writeBigUInt64LE(2n ** 62n);
          return copy;
        },
        message: /over the 100000000-byte limit/,
      },
      { name: 'truncated data', bytes: () => valid.subarray(0, valid.length - 10), message: /but the file holds \d+ bytes after the header \(truncated\?\)/ },
      { name: 'bytes after the last tensor', bytes: () => Buffer.concat([valid, Buffer.alloc(16)]), message: /bytes no tensor accounts for/ },
      {
        name: 'invalid JSON in the header',
        bytes: () => {
          const copy = Buffer.from(valid);
          copy.write('{]', 8);
          return copy;
        },
        message: /the header is not valid JSON/,
      },
      {
        name: 'overlapping offsets',
        bytes: () =>
          withHeader((copy) => {
            const tensors = Object.values(copy).filter((info) => 'data_offsets' in info);
            const [a, b] = tensors.sort((x, y) => x.data_offsets[0] - y.data_offsets[0]);
            b.data_offsets = [a.data_offsets[0], a.data_offsets[0] + (b.data_offsets[1] - b.data_offsets[0])];
          }),
        message: /without gaps or overlaps/,
      },
      {
        name: 'offsets out of range',
        bytes: () =>
          withHeader((copy) => {
            const last = Object.values(copy)
              .filter((info) => 'data_offsets' in info)
              .sort((x, y) => y.data_offsets[0] - x.data_offsets[0])[0];
            last.shape = [last.shape.reduce((a: number, b: number) => a * b, 1) + 100];
            last.data_offsets = [last.data_offsets[0], last.data_offsets[1] + 100 * ITEM_SIZES[last.dtype]!];
          }),
        message: /ends at byte \d+ of the data, but the file holds \d+ bytes after the header/,
      },
      {
        name: 'a shape that does not match the byte range',
        bytes: () => withHeader((copy) => (copy[firstTensor()[0]].shape = [999])),
        message: /which is \d+ bytes, but its data_offsets/,
      },
      { name: 'an unknown dtype', bytes: () => withHeader((copy) => (copy[firstTensor()[0]].dtype = 'Q7')), message: /unknown dtype "Q7"/ },
      { name: 'a negative offset', bytes: () => withHeader((copy) => (copy[firstTensor()[0]].data_offsets = [-1, 3])), message: /invalid description in the header/ },
      {
        name: 'metadata that is not strings',
        bytes: () => withHeader((copy) => (copy.__metadata__ = { epoch: 3 })),
        message: /"__metadata__" must map strings to strings/,
      },
    ];

    for (const { name, bytes, message } of cases) {
      it(`refuses ${name}, naming the file`, async () => {
        const file = path.join(dir, `bad-${name.replaceAll(' ', '-')}.safetensors`);
        await writeFile(file, bytes());
        const error = await rejection(openSafetensors(file, 'out/model.safetensors'));
        expect(error.message).toMatch(/^out\/model\.safetensors: /);
        expect(error.message).toMatch(message);
        expect(error.hint).toBeTruthy();
      });
    }

    it('names the tensor at fault', async () => {
      const [tensorName] = firstTensor();
      const file = path.join(dir, 'bad-named.safetensors');
      await writeFile(file, withHeader((copy) => (copy[tensorName].shape = [999])));
      expect((await rejection(openSafetensors(file, 'out/model.safetensors'))).message).toContain(`tensor "${tensorName}"`);
    });

    it('refuses exactly what the safetensors library refuses', async () => {
      // The rules come from the reference implementation: every bad file above must fail there too.
      const files = cases.map(({ name }) => path.join(dir, `bad-${name.replaceAll(' ', '-')}.safetensors`));
      const opened = JSON.parse(
        await runTensorPython(
          String.raw`
import json, sys
from safetensors import safe_open
result = {}
for name in sys.argv[1:]:
    try:
        with safe_open(name, framework="numpy") as f:
            [f.get_tensor(k) for k in f.keys()]
        result[name] = True
    except Exception:
        result[name] = False
print(json.dumps(result))
`,
          files,
        ),
      ) as Record<string, boolean>;
      expect(Object.entries(opened).filter(([, ok]) => ok)).toEqual([]);
    });
  });
});

function float64Bytes(values: number[]): Buffer {
  const bytes = Buffer.alloc(values.length * 8);
  values.forEach((value, i) => bytes.writeDoubleLE(value, i * 8));
  return bytes;
}

async function tensorsOf(file: TensorFile): Promise<Record<string, { dtype: string; shape: number[]; bytes: Buffer }>> {
  const result: Record<string, { dtype: string; shape: number[]; bytes: Buffer }> = {};
  for (const tensor of file.tensors) result[tensor.name] = { dtype: tensor.dtype, shape: tensor.shape, bytes: (await bytesOf(tensor)).bytes };
  return result;
}

type TableOpener = (file: string, displayPath: string) => Promise<TensorFile>;

/** Opens `text`, written into the test folder as `name`, with `opener`; the file is shown as `out/<name>`. */
function writingWith(opener: TableOpener): (name: string, text: string) => Promise<TensorFile> {
  return async (name, text) => {
    const file = path.join(dir, name);
    await writeFile(file, text);
    return opener(file, `out/${name}`);
  };
}

/** One test a case: its text, written as `name`, is refused with a message that starts with `out/<name>: ` and matches. */
function refusesEach(opener: TableOpener, name: string, cases: Array<[string, string, RegExp]>): void {
  const open = writingWith(opener);
  for (const [what, text, message] of cases) {
    it(`refuses ${what}`, async () => {
      const error = await rejection(open(name, text));
      expect(error.message.slice(0, `out/${name}: `.length)).toBe(`out/${name}: `);
      expect(error.message).toMatch(message);
    });
  }
}

describe('JSON tables', () => {
  const open = writingWith(openJsonTable);

  it('reads a top-level nested array as one float64 tensor "values", with Python\'s NaN and Infinity', async () => {
    const file = await open('grid.json', '[[1, 2.5, NaN], [-0.0, 1e-300, -Infinity]]');
    expect(file.format).toBe('json');
    expect(await tensorsOf(file)).toEqual({ values: { dtype: 'float64', shape: [2, 3], bytes: float64Bytes([1, 2.5, NaN, -0, 1e-300, -Infinity]) } });
  });

  it('reads an object as one tensor per dotted key: numbers are 0-d, arrays keep their shape', async () => {
    const file = await open('weights.json', JSON.stringify({ lr: 0.01, layer: { w: [[1, 2], [3, 4]], b: [0.5] }, empty: [], none: [[], []] }));
    expect(await tensorsOf(file)).toEqual({
      lr: { dtype: 'float64', shape: [], bytes: float64Bytes([0.01]) },
      'layer.w': { dtype: 'float64', shape: [2, 2], bytes: float64Bytes([1, 2, 3, 4]) },
      'layer.b': { dtype: 'float64', shape: [1], bytes: float64Bytes([0.5]) },
      empty: { dtype: 'float64', shape: [0], bytes: Buffer.alloc(0) },
      none: { dtype: 'float64', shape: [2, 0], bytes: Buffer.alloc(0) },
    });
  });

  it('streams a large array in bounded chunks', async () => {
    const values = Array.from({ length: 600_000 }, (_, i) => i / 7);
    const file = await open('long.json', JSON.stringify(values));
    const { bytes, chunkSizes } = await bytesOf(file.tensors[0]!);
    expect(bytes.equals(float64Bytes(values))).toBe(true);
    // Whole chunks, then the rest: more than one chunk, none larger than the bound.
    const total = values.length * 8;
    const whole = Math.floor(total / TENSOR_CHUNK_BYTES);
    expect(whole).toBeGreaterThan(0);
    expect(chunkSizes).toEqual([...Array<number>(whole).fill(TENSOR_CHUNK_BYTES), ...(total % TENSOR_CHUNK_BYTES ? [total % TENSOR_CHUNK_BYTES] : [])]);
  });

  refusesEach(openJsonTable, 'bad.json', [
    ['a string leaf, naming its key', '{"a": {"b": "x"}}', /"a\.b" is the string "x", not a number/],
    ['a boolean inside an array, naming where', '{"w": [1, true]}', /"w" has boolean true at \[1\], where a number belongs/],
    ['a ragged array', '[[1, 2], [3]]', /the top-level array is not rectangular: \[1\] is an array of 1, where the first element at that depth is an array of 2/],
    ['a top-level number', '42', /the top level is number 42, not an array or an object/],
    ['invalid JSON', '{"a": [1, 2', /is not valid JSON/],
    ['two keys flattening to one name', '{"a.b": 1, "a": {"b": 2}}', /two entries flatten to the same name "a\.b"/],
    ['nesting past 64 dimensions', `${'['.repeat(65)}1${']'.repeat(65)}`, /more than 64 levels deep/],
    ['a key path longer than 1000 characters', `${'{"key":'.repeat(300)}1${'}'.repeat(300)}`, /the name "key\.key.*" is 1003 characters long; at most 1000/],
  ]);

  it('refuses a file over the size cap before reading it', async () => {
    const previous = process.env.REPRO_GATE_METRICS_MAX_SIZE;
    process.env.REPRO_GATE_METRICS_MAX_SIZE = '1KiB';
    try {
      const error = await rejection(open('huge.json', JSON.stringify(Array.from({ length: 1000 }, () => 1.5))));
      expect(error.message).toMatch(/^out\/huge\.json: the JSON table is .* over the 1\.00 KiB limit/);
      expect(error.hint).toContain('REPRO_GATE_METRICS_MAX_SIZE');
    } finally {
      if (previous === undefined) delete process.env.REPRO_GATE_METRICS_MAX_SIZE;
      else process.env.REPRO_GATE_METRICS_MAX_SIZE = previous;
    }
  });
});

describe('CSV tables', () => {
  const open = writingWith(openCsvTable);

  it('reads numeric columns as float64 (empty is NaN) and text columns as their cells joined by newlines', async () => {
    const text = [
      '\ufeff,x,y,label,note',
      '0,1.5,-2,cat,"a, b"',
      '1,,1e3,dog,"say ""hi"""',
      '2,nan,-inf,cat,"two',
      'lines"',
      '',
    ].join('\r\n');
    const file = await open('table.csv', text);
    expect(file.format).toBe('csv');
    expect(await tensorsOf(file)).toEqual({
      'Unnamed: 0': { dtype: 'float64', shape: [3], bytes: float64Bytes([0, 1, 2]) },
      x: { dtype: 'float64', shape: [3], bytes: float64Bytes([1.5, NaN, NaN]) },
      y: { dtype: 'float64', shape: [3], bytes: float64Bytes([-2, 1000, -Infinity]) },
      label: { dtype: 'raw:utf8', shape: [11], bytes: Buffer.from('cat\ndog\ncat') },
      note: { dtype: 'raw:utf8', shape: [24], bytes: Buffer.from('a, b\nsay "hi"\ntwo\r\nlines') },
    });
  });

  it('reads a header without rows as empty columns', async () => {
    expect(await tensorsOf(await open('header.csv', 'a,b\n'))).toEqual({
      a: { dtype: 'float64', shape: [0], bytes: Buffer.alloc(0) },
      b: { dtype: 'float64', shape: [0], bytes: Buffer.alloc(0) },
    });
  });

  refusesEach(openCsvTable, 'bad.csv', [
    ['a row with too many fields, naming its line', 'a,b\n1,2\n\n3,4,5\n', /line 4 has 3 fields, but the header names 2 columns/],
    ['an unclosed quote', 'a,b\n1,"2\n3,4\n', /the quoted field that starts on line 2 is never closed/],
    ['a column named twice', 'a,b,a\n1,2,3\n', /names the column "a" twice/],
    ['a column name longer than 1000 characters', `${'x'.repeat(1001)},b\n1,2\n`, /the name "x+…" is 1001 characters long/],
    ['an empty file', '', /the CSV table is empty/],
  ]);
});
