import { METRICS_MAX_SIZE_ENV } from '../../constants.js';
import { formatSize } from '../../environment/cache/size-notation.js';
import { UserError } from '../../errors.js';
import { FileTooLargeError, NotARegularFileError, readFileWithin } from '../../read-bounded.js';
import { metricsSizeCap } from '../read-metrics-file.js';
import { TENSOR_CHUNK_BYTES, type TensorEntry } from './tensor-file.js';

// What the JSON and CSV table readers share: the text read whole under the metrics files' size cap (a table is parsed
// in memory, so it gets the bound the other parsed outputs of a command have), and the tensors they yield.

/** More tensors than this in one table file is refused: each is listed in the report. */
export const MAX_TABLE_TENSORS = 100_000;

const FLOAT64_BYTES = 8;
/** A tensor name longer than this is refused rather than carried into every report (and deep nesting stops here). */
const MAX_TABLE_NAME_CHARS = 1_000;

/** The table's text, or a UserError naming the file when it is too large, not a regular file, or unreadable. */
export async function readTableText(file: string, displayPath: string, kind: 'JSON' | 'CSV'): Promise<string> {
  const cap = metricsSizeCap();
  try {
    return (await readFileWithin(file, cap.bytes)).toString('utf8');
  } catch (error) {
    if (error instanceof FileTooLargeError) {
      throw new UserError(
        `${displayPath}: the ${kind} table is ${formatSize(error.size)} (${error.size} bytes), over the ${formatSize(cap.bytes)} limit for tables read whole (${cap.source}, shared with metrics files)`,
        `Save large arrays as .npy, .npz or .safetensors (read in chunks), or raise the limit with ${METRICS_MAX_SIZE_ENV}, e.g. ${METRICS_MAX_SIZE_ENV}=256MiB.`,
      );
    }
    if (error instanceof NotARegularFileError) {
      throw new UserError(`${displayPath}: is not a regular file`, 'Numeric artifacts must be regular files written by the command.');
    }
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new UserError(`${displayPath}: cannot be read (${code})`, 'Make sure the command writes this file and that it is readable.');
  }
}

/** A float64 tensor over values already in memory, encoded little-endian one chunk at a time. */
export function float64Tensor(name: string, shape: number[], values: ArrayLike<number>): TensorEntry {
  const perChunk = TENSOR_CHUNK_BYTES / FLOAT64_BYTES;
  return {
    name,
    dtype: 'float64',
    shape,
    itemSize: FLOAT64_BYTES,
    byteLength: values.length * FLOAT64_BYTES,
    async *chunks() {
      for (let start = 0; start < values.length; start += perChunk) {
        const count = Math.min(perChunk, values.length - start);
        const chunk = new Uint8Array(count * FLOAT64_BYTES);
        const view = new DataView(chunk.buffer);
        for (let i = 0; i < count; i += 1) view.setFloat64(i * FLOAT64_BYTES, values[start + i]!, true);
        yield chunk;
      }
    },
  };
}

/** Text compared by its bytes: `raw:utf8`, one byte per element. */
export function utf8Tensor(name: string, text: string): TensorEntry {
  const bytes = Buffer.from(text, 'utf8');
  return {
    name,
    dtype: 'raw:utf8',
    shape: [bytes.length],
    itemSize: 1,
    byteLength: bytes.length,
    async *chunks() {
      for (let start = 0; start < bytes.length; start += TENSOR_CHUNK_BYTES) yield bytes.subarray(start, start + TENSOR_CHUNK_BYTES);
    },
  };
}

export function tooManyTensors(displayPath: string): UserError {
  return new UserError(
    `${displayPath}: more than ${MAX_TABLE_TENSORS} tensors in one table`,
    'Group values into arrays (one key per array) rather than one key per number, or save them as .npz or .safetensors.',
  );
}

/** Refuses a name longer than the reports carry, quoting its start. */
export function checkTensorName(name: string, displayPath: string): void {
  if (name.length <= MAX_TABLE_NAME_CHARS) return;
  throw new UserError(
    `${displayPath}: the name "${name.slice(0, 80)}…" is ${name.length} characters long; at most ${MAX_TABLE_NAME_CHARS} are allowed`,
    'Use shorter keys or column names, or nest less deeply (nested keys join with ".").',
  );
}
