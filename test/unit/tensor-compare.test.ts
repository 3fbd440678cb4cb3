import { createHash } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openTensorFile } from '../../src/compare/formats/open-tensor-file.js';
import { itemSizeOf, type NumericDType, type TensorEntry } from '../../src/compare/formats/tensor-file.js';
import { Decoder } from '../../src/compare/tensors/decode.js';
import { judgeNumericArtifact, type RecordedContent, unflattenIndex } from '../../src/compare/tensors/judge.js';
import { samplePositions } from '../../src/compare/tensors/sample-positions.js';
import { measureTensor } from '../../src/compare/tensors/tensor-pass.js';
import { DTYPE_DEFAULT_TOLERANCE, toleranceResolver } from '../../src/compare/tensors/tolerance.js';
import { renderMarkdown } from '../../src/report/markdown.js';
import type { NumericCheck, TensorCheck } from '../../src/report/schema.js';
import { recordReport, report } from '../support/report-fixtures.js';
import { runTensorPython } from '../support/tensor-venv.js';

/** A tensor over bytes, streamed in chunks of an awkward size so elements straddle chunk boundaries. */
function entryOf(name: string, dtype: NumericDType, shape: number[], bytes: Uint8Array, chunkSize = 7): TensorEntry {
  return {
    name,
    dtype,
    shape,
    itemSize: itemSizeOf(dtype),
    byteLength: bytes.length,
    async *chunks() {
      for (let offset = 0; offset < bytes.length; offset += chunkSize) yield bytes.slice(offset, offset + chunkSize);
    },
  };
}

const f32 = (values: number[]) => new Uint8Array(new Float32Array(values).buffer);
const tolerance = { abs: 1e-5, rel: 1.3e-6, equalNan: false };
const exact = { abs: 0, rel: 0, equalNan: false };
const displayPath = 'out/model.bin';

describe('one pass over a tensor', () => {
  it('fingerprints it: the sha256 of its bytes and statistics over its finite elements', async () => {
    const { fingerprint } = await measureTensor(entryOf('w', 'float32', [2, 3], f32([1, -2, 3, NaN, Infinity, 0.5])), { tolerance, sample: false, displayPath });
    expect(fingerprint).toMatchObject({ name: 'w', dtype: 'float32', shape: [2, 3], count: 6, nonfinite: 2, min: -2, max: 3, mean: 2.5 / 4 });
    expect(fingerprint.l2).toBeCloseTo(Math.sqrt(1 + 4 + 9 + 0.25), 12);
    const python = await runTensorPython(
      'import hashlib, numpy as np; print(hashlib.sha256(np.array([1, -2, 3, np.nan, np.inf, 0.5], dtype="<f4").tobytes()).hexdigest())',
    );
    expect(fingerprint.sha256).toBe(python.trim());
  });

  it('compares every element with the baseline: counts, largest differences and the first index beyond tolerance', async () => {
    const expected = [1, 2, 3, 4, 5, 6];
    const actual = [1, 2 + 1e-6, 3, 4.5, 5, 6.25];
    const { comparison } = await measureTensor(entryOf('w', 'float32', [2, 3], f32(actual)), {
      baseline: entryOf('w', 'float32', [2, 3], f32(expected), 5),
      tolerance,
      sample: false,
      displayPath,
    });
    expect(comparison).toMatchObject({ total: 6, mismatched: 2, firstMismatch: 3 });
    expect(comparison!.maxAbs).toBeCloseTo(0.5, 6);
    // |4.5 − 4| / 4 = 0.125 is the largest relative difference (|6.25 − 6| / 6 ≈ 0.042).
    expect(comparison!.maxRel).toBeCloseTo(0.125, 6);
    expect(unflattenIndex(3, [2, 3])).toEqual([1, 0]);
  });

  it('passes noise inside the tolerance and fails just outside it (|a − e| ≤ abs + rel·|e|)', async () => {
    const run = (a: number) =>
      measureTensor(entryOf('w', 'float64', [1], new Uint8Array(new Float64Array([a]).buffer)), {
        baseline: entryOf('w', 'float64', [1], new Uint8Array(new Float64Array([100]).buffer)),
        tolerance: { abs: 0.01, rel: 0.001, equalNan: false },
        sample: false,
        displayPath,
      });
    expect((await run(100.109)).comparison!.mismatched).toBe(0);
    expect((await run(100.12)).comparison!.mismatched).toBe(1);
  });

  it('never takes NaN for NaN unless equal_nan is set', async () => {
    const measure = (equalNan: boolean) =>
      measureTensor(entryOf('w', 'float32', [2], f32([NaN, 1])), { baseline: entryOf('w', 'float32', [2], f32([NaN, 1])), tolerance: { ...tolerance, equalNan }, sample: false, displayPath });
    // The same NaN bit pattern: identical bytes, so the comparison loop is skipped either way.
    expect((await measure(false)).comparison!.mismatched).toBe(0);
    const quietNan = new Uint8Array(new Uint32Array([0x7fc00001, 0x3f800000]).buffer);
    const otherNan = new Uint8Array(new Uint32Array([0x7fc00002, 0x3f800000]).buffer);
    const compareNans = (equalNan: boolean) =>
      measureTensor(entryOf('w', 'float32', [2], otherNan), { baseline: entryOf('w', 'float32', [2], quietNan), tolerance: { ...tolerance, equalNan }, sample: false, displayPath });
    expect((await compareNans(false)).comparison!.mismatched).toBe(1);
    expect((await compareNans(true)).comparison!.mismatched).toBe(0);
  });

  it('compares int64 by value even past 2^53, where doubles cannot tell two values apart', async () => {
    const big = (value: bigint) => new Uint8Array(new BigInt64Array([value]).buffer);
    const { comparison } = await measureTensor(entryOf('steps', 'int64', [1], big(2n ** 60n + 1n)), { baseline: entryOf('steps', 'int64', [1], big(2n ** 60n)), tolerance: exact, sample: false, displayPath });
    expect(comparison!.mismatched).toBe(1);
  });

  it('decodes float16 and bfloat16 as numpy and torch do', async () => {
    const output = await runTensorPython(`
import json, numpy as np, torch
values = [0.0, -0.0, 1.0, -2.5, 65504.0, 6e-08, 0.1, float('inf')]
half = np.array(values, dtype='<f2')
bf = torch.tensor(values, dtype=torch.bfloat16)
print(json.dumps({'half': half.tobytes().hex(), 'halfValues': [repr(float(v)) for v in half],
  'bf': bf.view(torch.int16).numpy().astype('<i2').tobytes().hex(), 'bfValues': [repr(float(v)) for v in bf.float()]}))`);
    // Python's repr of a float ('inf', '6.0e-08') reads back exactly with Number(), once 'inf' is spelled as JS spells it.
    const fixture = JSON.parse(output) as { half: string; halfValues: string[]; bf: string; bfValues: string[] };
    const numbers = (texts: string[]) => texts.map((text) => Number(text.replace('inf', 'Infinity')));
    const decode = (dtype: NumericDType, hex: string) => Array.from(new Decoder(dtype).decode(new Uint8Array(Buffer.from(hex, 'hex'))));
    expect(decode('float16', fixture.half)).toEqual(numbers(fixture.halfValues));
    expect(decode('bfloat16', fixture.bf)).toEqual(numbers(fixture.bfValues));
  });

  it('keeps samples at fixed positions and judges a rerun on them when there is no baseline', async () => {
    const count = 10_000;
    const recordedValues = Array.from({ length: count }, (_, i) => Math.sin(i));
    const recorded = await measureTensor(entryOf('w', 'float32', [count], f32(recordedValues), 4096), { tolerance, sample: true, displayPath });
    const positions = samplePositions(count);
    expect(positions.length).toBe(4096);
    expect(Buffer.from(recorded.fingerprint.samples!, 'base64').length).toBe(4096 * 4);
    const nudged = recordedValues.map((value, i) => (i === positions[100] ? value + 0.5 : value));
    const rerun = await measureTensor(entryOf('w', 'float32', [count], f32(nudged), 4096), { tolerance, sample: true, recordedSamples: recorded.fingerprint.samples, displayPath });
    expect(rerun.sampleComparison).toMatchObject({ total: 4096, mismatched: 1, firstMismatch: positions[100] });
    const unseen = recordedValues.map((value, i) => (i === 1 && !positions.includes(1) ? value + 0.5 : value));
    const blind = await measureTensor(entryOf('w', 'float32', [count], f32(unseen), 4096), { tolerance, sample: false, recordedSamples: recorded.fingerprint.samples, displayPath });
    // A sample cannot see every element: this is why its verdict says so.
    expect(blind.sampleComparison!.mismatched).toBe(positions.includes(1) ? 1 : 0);
  });

  it('says which tensor is shorter than it claims, naming the artifact', async () => {
    const short = { ...entryOf('w', 'float32', [4], f32([1, 2, 3])), byteLength: 16 };
    await expect(measureTensor(short, { tolerance, sample: false, displayPath })).rejects.toThrow(/out\/model\.bin: tensor w ended after 12 of its 16 bytes/);
  });
});

describe('tolerances of numeric artifacts', () => {
  it('default per dtype as torch.testing.assert_close does, exact for integers', () => {
    const resolve = toleranceResolver({});
    expect(resolve('w', 'float32')).toEqual({ ...DTYPE_DEFAULT_TOLERANCE.float32, equalNan: false });
    expect(resolve('w', 'bfloat16')).toMatchObject({ rel: 1.6e-2, abs: 1e-5 });
    expect(resolve('steps', 'int64')).toMatchObject({ abs: 0, rel: 0 });
  });

  it('take a tensor glob first, field by field, then the artifact tolerance, then the dtype default', () => {
    const resolve = toleranceResolver({ tolerance: { rel: 1e-3 }, tensors: { 'classifier.*': { abs: 1e-4 }, '*': { abs: 1 } }, equal_nan: true });
    expect(resolve('classifier.weight', 'float32')).toEqual({ abs: 1e-4, rel: 1e-3, equalNan: true });
    expect(resolve('hidden.weight', 'float32')).toEqual({ abs: 1, rel: 1e-3, equalNan: true });
    expect(toleranceResolver({ tensors: { 'a.?': { abs: 2 } } })('a.b', 'float64').abs).toBe(2);
    expect(toleranceResolver({ tensors: { 'a.?': { abs: 2 } } })('axb', 'float64').abs).toBe(1e-7);
  });
});

describe('judging a numeric artifact', () => {
  const fingerprint = (name: string, sha: string, shape = [2]) => ({ name, dtype: 'float32' as const, shape, sha256: sha.repeat(64), count: 2, nonfinite: 0, min: 0, max: 1, mean: 0.5, l2: 1 });
  const recorded: RecordedContent = { format: 'safetensors', tensors: [fingerprint('a', '1'), fingerprint('b', '2')] };
  const toleranceFor = toleranceResolver({});

  it('calls bit-identical tensors in different bytes "content identical", with the parameters that changed', () => {
    const check = judgeNumericArtifact({
      recorded: { ...recorded, parameters: { C: '1.0', alpha: '0.1' } },
      rerun: { format: 'pickle', tensors: recorded.tensors.map((tensor) => ({ fingerprint: tensor })), parameters: { alpha: '0.1', tol: '0.001' } },
      toleranceFor,
    });
    expect(check).toMatchObject({ outcome: 'content-identical', identicalCount: 2, tensors: [], parameters: { added: ['tol'], removed: ['C'], changed: [] } });
  });

  it('is drift without a baseline when a tensor differs, and within tolerance with one that shows it close', () => {
    const moved = { fingerprint: fingerprint('b', '3') };
    expect(judgeNumericArtifact({ recorded, rerun: { format: 'safetensors', tensors: [{ fingerprint: recorded.tensors[0]! }, moved] }, toleranceFor })).toMatchObject({
      outcome: 'no-baseline',
      tensors: [{ name: 'b', status: 'differs', recorded: { l2: 1 }, rerun: { l2: 1 } }],
    });
    const close = { ...moved, comparison: { total: 2, mismatched: 0, maxAbs: 1e-7, maxRel: 1e-7, firstMismatch: null, bitIdentical: false } };
    expect(judgeNumericArtifact({ recorded, rerun: { format: 'safetensors', tensors: [{ fingerprint: recorded.tensors[0]! }, close] }, toleranceFor, baseline: 'b/out.st' })).toMatchObject({
      outcome: 'within-tolerance',
      basis: 'baseline',
      baseline: 'b/out.st',
      tensors: [{ name: 'b', status: 'within', mismatched: 0 }],
    });
  });

  it('lists a scalar retyped with the same value (scikit-learn bookkeeping) without gating, but not a retyped tensor', () => {
    const scalar = (dtype: 'int64' | 'float64', value: number) => ({ name: 'scaler.n_samples_seen_', dtype, shape: [], sha256: (dtype === 'int64' ? 'a' : 'b').repeat(64), count: 1, nonfinite: 0, min: value, max: value, mean: value, l2: value });
    const judge = (rerun: ReturnType<typeof scalar>) =>
      judgeNumericArtifact({ recorded: { format: 'pickle', tensors: [scalar('int64', 105)] }, rerun: { format: 'pickle', tensors: [{ fingerprint: rerun }] }, toleranceFor });
    expect(judge(scalar('float64', 105))).toMatchObject({ outcome: 'content-identical', tensors: [{ status: 'retyped', change: 'dtype int64 → float64, same value' }] });
    expect(judge(scalar('float64', 106)).outcome).toBe('structure-changed');
    const vector = { ...fingerprint('a', '9'), dtype: 'float64' as const };
    expect(judgeNumericArtifact({ recorded, rerun: { format: 'safetensors', tensors: [{ fingerprint: vector }, { fingerprint: recorded.tensors[1]! }] }, toleranceFor }).outcome).toBe('structure-changed');
  });

  it('judges a sampled tensor on its statistics too: a change the sample missed still fails', () => {
    const sample = { total: 2, mismatched: 0, maxAbs: 0, maxRel: 0, firstMismatch: null, bitIdentical: false };
    const moved = (max: number) => ({ fingerprint: { ...fingerprint('b', '3'), max }, sampleComparison: sample });
    const judge = (max: number) => judgeNumericArtifact({ recorded, rerun: { format: 'npy', tensors: [{ fingerprint: recorded.tensors[0]! }, moved(max)] }, toleranceFor });
    expect(judge(1 + 1e-6)).toMatchObject({ outcome: 'within-tolerance', basis: 'sample' });
    expect(judge(1.5)).toMatchObject({ outcome: 'beyond-tolerance', tensors: [{ name: 'b', status: 'beyond', change: 'statistics beyond tolerance: max 1 → 1.5' }] });
  });

  it('names tensors added, removed or reshaped, and sorts those first', () => {
    const check = judgeNumericArtifact({
      recorded,
      rerun: { format: 'safetensors', tensors: [{ fingerprint: fingerprint('a', '9', [3]) }, { fingerprint: fingerprint('c', '4') }] },
      toleranceFor,
    });
    expect(check.outcome).toBe('structure-changed');
    expect(check.tensors.map((tensor) => [tensor.name, tensor.status, tensor.change])).toEqual([
      ['a', 'changed', 'shape [2] → [3]'],
      ['b', 'removed', undefined],
      ['c', 'added', undefined],
    ]);
  });
});

describe('the comment for a numeric artifact', () => {
  it('shows the 20 largest deviations in a collapsed table, counts the rest, and says it in one sentence', () => {
    const tensors: TensorCheck[] = Array.from({ length: 25 }, (_, i) => ({
      name: `layer${i}.weight`,
      dtype: 'float32',
      shape: [4, 4],
      status: 'beyond',
      basis: 'baseline',
      total: 100,
      mismatched: i + 1,
      maxAbs: (i + 1) / 100,
      maxRel: 0.5,
      firstMismatch: [0, 1],
      tolerance: { abs: 1e-5, rel: 1.3e-6 },
    }));
    const numeric: NumericCheck = { format: 'safetensors', outcome: 'beyond-tolerance', basis: 'baseline', tensorCount: 30, identicalCount: 5, tensors: [...tensors].reverse() };
    const record = recordReport({
      verdict: 'drift',
      artifacts: [{ path: 'out/model.safetensors', recorded: 'a'.repeat(64), actual: 'b'.repeat(64), status: 'differs', policy: 'numeric', numeric }],
    });
    const markdown = renderMarkdown(report([record], 'drift'));
    expect(markdown).toContain('<details><summary>Tensors of out/model.safetensors (safetensors)</summary>');
    // Every cell stays one cell: no `|` from a figure, and the shape's brackets escaped.
    expect(markdown).toContain('| layer24.weight | float32\\[4×4\\] | ❌ beyond | 25/100 beyond, max abs Δ 0.25 | 0.5 | [0, 1] | ±0.00001 + 0.00013% |  |');
    expect(markdown).not.toContain('| layer4.weight |');
    expect(markdown).toContain('… and 5 more tensors that are not identical. 5 tensors of 30 bit-identical.');
    expect(markdown).toMatch(/out\/model\.safetensors beyond tolerance in 25 tensors: layer24\.weight 25\/100 beyond, max abs Δ 0\.25/);
  });
});

describe('streaming a large tensor through reused chunks', () => {
  /** A float32 .npy file of `values`, written here (format version 1.0, header padded to 64 bytes). */
  async function writeNpy(file: string, values: Float32Array): Promise<void> {
    const header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${values.length},), }`;
    const padded = `${header}${' '.repeat(63 - ((10 + header.length) % 64))}\n`;
    const preamble = Buffer.alloc(10);
    preamble.write('\x93NUMPY', 0, 'latin1');
    preamble[6] = 1;
    preamble.writeUInt16LE(padded.length, 8);
    await writeFile(file, Buffer.concat([preamble, Buffer.from(padded, 'latin1'), Buffer.from(values.buffer)]));
  }

  it('compares and hashes every element right when the tensor spans many more chunks than the reader reuses', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'repro-gate-reused-chunks-'));
    // Five and a half chunks of 1 MiB: the readers cycle through their three buffers almost twice.
    const count = (5.5 * 1024 * 1024) / 4;
    const expected = Float32Array.from({ length: count }, (_, i) => Math.sin(i));
    const actual = expected.slice();
    const moved = [3, 700_000, count - 2];
    for (const index of moved) actual[index] = actual[index]! + 1;
    await writeNpy(path.join(dir, 'expected.npy'), expected);
    await writeNpy(path.join(dir, 'actual.npy'), actual);
    const noPython = async () => ({ exitCode: 1, stderr: 'not needed' });
    const [rerun, baseline] = await Promise.all([openTensorFile(path.join(dir, 'actual.npy'), 'actual.npy', noPython), openTensorFile(path.join(dir, 'expected.npy'), 'expected.npy', noPython)]);
    try {
      const result = await measureTensor(rerun.tensors[0]!, { baseline: baseline.tensors[0]!, tolerance: { abs: 1e-5, rel: 1.3e-6, equalNan: false }, sample: false, displayPath: 'actual.npy' });
      expect(result.comparison).toMatchObject({ total: count, mismatched: 3, firstMismatch: 3, bitIdentical: false });
      expect(result.fingerprint.sha256).toBe(createHash('sha256').update(Buffer.from(actual.buffer)).digest('hex'));
      expect(result.fingerprint.max).toBe(Math.max(...moved.map((index) => actual[index]!), 1));
    } finally {
      await Promise.all([rerun.close(), baseline.close()]);
    }
  });
});
