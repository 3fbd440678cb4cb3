// The one description every numeric-artifact reader produces (npy, npz, safetensors, PyTorch archives, JSON/CSV
// tables, and pickles through the Python helper), so fingerprinting and comparison never know the file format.

/** Element types with numeric meaning: these get statistics and tolerances. */
export const NUMERIC_DTYPES = [
  'float16',
  'bfloat16',
  'float32',
  'float64',
  'int8',
  'int16',
  'int32',
  'int64',
  'uint8',
  'uint16',
  'uint32',
  'uint64',
  'bool',
] as const;

export type NumericDType = (typeof NUMERIC_DTYPES)[number];

/**
 * A numeric dtype, or any other fixed-size element type the file declares (numpy `<U8`, `complex64`, float8…),
 * which is compared by its bytes only: named as the file names it, prefixed `raw:` (e.g. `raw:<U8`).
 */
export type DType = NumericDType | `raw:${string}`;

export interface TensorEntry {
  /** Unique within the file: the key in an npz/safetensors/state dict, the attribute path in a pickle. */
  name: string;
  dtype: DType;
  shape: number[];
  /** Bytes per element (1 for bool). */
  itemSize: number;
  /** itemSize × product(shape), checked against the file's size before anything is read. */
  byteLength: number;
  /**
   * The elements' bytes, little-endian, in the order the file stores them, streamed in chunks of bounded size
   * (the caller never holds a whole tensor). Each call starts a fresh read.
   */
  chunks(): AsyncIterable<Uint8Array>;
}

export interface TensorFile {
  format: 'npy' | 'npz' | 'safetensors' | 'torch' | 'json' | 'csv' | 'pickle';
  tensors: TensorEntry[];
  /**
   * Non-gating facts listed beside the comparison (a scikit-learn estimator's constructor parameters, rendered
   * as text): a parameter that appears or disappears between library versions is listed, never drift.
   */
  parameters?: Record<string, string>;
  /** Releases file handles; safe to call twice. */
  close(): Promise<void>;
}

/**
 * Reading chunk size: large enough for memcmp and typed-array loops to run at memory speed, small enough to bound RSS
 * (4 MiB chunks, read ahead on both files, peaked at 212 MB on a 1 GiB pair; 1 MiB at 115 MB, as fast: `npm run bench`).
 */
export const TENSOR_CHUNK_BYTES = 1024 * 1024;

export function itemSizeOf(dtype: NumericDType): number {
  switch (dtype) {
    case 'bool':
    case 'int8':
    case 'uint8':
      return 1;
    case 'float16':
    case 'bfloat16':
    case 'int16':
    case 'uint16':
      return 2;
    case 'float32':
    case 'int32':
    case 'uint32':
      return 4;
    case 'float64':
    case 'int64':
    case 'uint64':
      return 8;
  }
}

export function isNumericDType(dtype: DType): dtype is NumericDType {
  return !dtype.startsWith('raw:');
}
