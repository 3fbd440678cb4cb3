import { createHash } from 'node:crypto';
import { UserError } from '../../errors.js';
import { isNumericDType, type DType, TENSOR_CHUNK_BYTES, type TensorEntry } from '../formats/tensor-file.js';
import { Decoder } from './decode.js';
import { ElementwiseAccumulator, type ElementwiseResult } from './elementwise.js';
import { PieceReader } from './piece-reader.js';
import { samplePositions } from './sample-positions.js';
import { StatisticsAccumulator, type TensorStatistics } from './statistics.js';
import type { NumericTolerance } from './tolerance.js';

/** What the record keeps of one tensor: enough to say whether it changed, and how, without the file. */
export interface TensorFingerprint extends Partial<Omit<TensorStatistics, 'count'>> {
  name: string;
  dtype: DType;
  shape: number[];
  sha256: string;
  count: number;
  /** With `fingerprint: sampled`: the raw bytes of the elements at samplePositions(count), base64. */
  samples?: string;
}

export interface TensorPassOptions {
  /**
   * The same tensor as the recorded run produced it (dtype and shape already checked equal), with the sha256 the
   * record holds for it: the comparison then tells bit-identity, and the rerun's tensor is hashed only when
   * `hash` asks (hashing costs more than the comparison itself; it matters only for a record to be written).
   */
  baseline?: TensorEntry;
  baselineSha256?: string;
  hash?: boolean;
  tolerance: NumericTolerance;
  /** Keep samples in the fingerprint. */
  sample: boolean;
  /** The record's samples of this tensor: the rerun is judged on them when there is no baseline. */
  recordedSamples?: string;
  /** The artifact, as messages name it. */
  displayPath: string;
}

export interface TensorPassResult {
  fingerprint: TensorFingerprint;
  /** Against the baseline, every element. */
  comparison?: ElementwiseResult;
  /** Against the recorded samples (no baseline); firstMismatch is the element's index in the tensor. */
  sampleComparison?: ElementwiseResult;
}

const INTEGER_DTYPES = new Set<DType>(['int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'uint64', 'bool']);

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** Integers under an exact tolerance and raw dtypes are compared by their bytes: a double cannot hold every int64. */
function comparesBytes(dtype: DType, tolerance: NumericTolerance): boolean {
  return !isNumericDType(dtype) || (INTEGER_DTYPES.has(dtype) && tolerance.abs === 0 && tolerance.rel === 0);
}

function sizeError(options: TensorPassOptions, entry: TensorEntry, what: string): UserError {
  return new UserError(
    `${options.displayPath}: tensor ${entry.name} ${what}`,
    'The file is truncated or its header does not describe its data; write it again with the library that made it.',
  );
}

/**
 * One streaming pass over the rerun's tensor: its fingerprint (sha256, statistics, samples) and, in the same read,
 * its element-by-element comparison with the baseline. Pieces whose bytes are equal skip the comparison loop
 * (a memcmp), so a mostly unchanged model costs little more than reading it.
 */
export async function measureTensor(actual: TensorEntry, options: TensorPassOptions): Promise<TensorPassResult> {
  const { dtype, itemSize } = actual;
  const numeric = isNumericDType(dtype);
  const alignment = numeric ? itemSize : 1;
  const pieceSize = Math.max(itemSize, Math.floor(TENSOR_CHUNK_BYTES / itemSize) * itemSize);
  const count = actual.byteLength / itemSize;
  // Without a baseline the sha256 is the only way to tell the tensor is unchanged.
  const hash = options.hash !== false || !options.baseline ? createHash('sha256') : undefined;
  const statistics = numeric ? new StatisticsAccumulator() : undefined;
  const decoders = numeric ? { actual: new Decoder(dtype), expected: new Decoder(dtype) } : undefined;
  const comparison = options.baseline ? new ElementwiseAccumulator(options.tolerance) : undefined;
  const byBytes = comparesBytes(dtype, options.tolerance);
  const positions = options.sample || options.recordedSamples ? samplePositions(count) : undefined;
  const samples = positions ? new Uint8Array(positions.length * itemSize) : undefined;
  let nextSample = 0;
  let element = 0;
  const reader = new PieceReader(actual.chunks());
  const baselineReader = options.baseline ? new PieceReader(options.baseline.chunks()) : undefined;
  try {
    for (;;) {
      const piece = await reader.read(pieceSize, alignment);
      if (piece.length === 0) break;
      if (piece.length % itemSize !== 0 || element * itemSize + piece.length > actual.byteLength) {
        throw sizeError(options, actual, `holds more or fewer bytes than its ${actual.byteLength} (${dtype} × ${actual.shape.join('×') || 'scalar'})`);
      }
      const elements = piece.length / itemSize;
      hash?.update(piece);
      const values = decoders?.actual.decode(piece);
      if (values) statistics!.add(values);
      if (positions && samples) {
        for (; nextSample < positions.length && positions[nextSample]! < element + elements; nextSample++) {
          const offset = (positions[nextSample]! - element) * itemSize;
          samples.set(piece.subarray(offset, offset + itemSize), nextSample * itemSize);
        }
      }
      if (baselineReader && comparison) {
        const other = await baselineReader.read(piece.length, alignment);
        if (other.length !== piece.length) throw sizeError(options, actual, 'is shorter in the baseline than in the rerun');
        comparison.count(elements);
        if (!bytesEqual(piece, other)) {
          const expected = decoders?.expected.decode(other);
          if (byBytes) comparison.addBytes(other, piece, itemSize, element, values && expected ? { expected, actual: values } : undefined);
          else comparison.addValues(expected!, values!, element);
        }
      }
      element += elements;
    }
  } finally {
    await Promise.all([reader.close(), baselineReader?.close()]);
  }
  if (element !== count) throw sizeError(options, actual, `ended after ${element * itemSize} of its ${actual.byteLength} bytes`);
  const fingerprint: TensorFingerprint = {
    name: actual.name,
    dtype,
    shape: actual.shape,
    sha256: hash ? hash.digest('hex') : sha256FromComparison(comparison?.result(), options.baselineSha256),
    ...statistics?.result(),
    count,
    ...(options.sample && samples ? { samples: Buffer.from(samples).toString('base64') } : {}),
  };
  const result: TensorPassResult = { fingerprint, comparison: comparison?.result() };
  if (options.recordedSamples !== undefined && samples && positions) {
    result.sampleComparison = compareSamples(options.recordedSamples, samples, positions, actual, options);
  }
  return result;
}

/** Unhashed: the record's sha256 when the comparison proved the bytes equal, else unknown (empty: see isMeasured). */
function sha256FromComparison(comparison: ElementwiseResult | undefined, baselineSha256: string | undefined): string {
  return comparison?.bitIdentical && baselineSha256 ? baselineSha256 : '';
}

/** Whether a fingerprint is complete enough to be recorded (its sha256 was computed or proved). */
export function isMeasured(fingerprint: TensorFingerprint): boolean {
  return fingerprint.sha256 !== '';
}

function compareSamples(recorded: string, rerun: Uint8Array, positions: Float64Array, entry: TensorEntry, options: TensorPassOptions): ElementwiseResult {
  // A fresh buffer: decoded base64 may start at an offset no typed array of the dtype can use.
  const expectedBytes = new Uint8Array(Buffer.from(recorded, 'base64'));
  if (expectedBytes.length !== rerun.length) {
    throw new UserError(
      `${options.displayPath}: the recorded samples of tensor ${entry.name} hold ${expectedBytes.length} bytes, not the ${rerun.length} its dtype and shape need`,
      'Re-record the artifact with `repro-gate record --update`.',
    );
  }
  const accumulator = new ElementwiseAccumulator(options.tolerance, positions.length);
  if (comparesBytes(entry.dtype, options.tolerance) || !isNumericDType(entry.dtype)) {
    accumulator.addBytes(expectedBytes, rerun, entry.itemSize, 0);
  } else {
    const decoders = { expected: new Decoder(entry.dtype), actual: new Decoder(entry.dtype) };
    accumulator.addValues(decoders.expected.decode(expectedBytes), decoders.actual.decode(rerun), 0);
  }
  const result = accumulator.result();
  return { ...result, firstMismatch: result.firstMismatch === null ? null : positions[result.firstMismatch]! };
}
