import type { FileHandle } from 'node:fs/promises';
import { z } from 'zod';
import { UserError } from '../../errors.js';
import { elementChunks, fileRangeSource, openRegularFile, readAt } from './byte-source.js';
import { type DType, itemSizeOf, type NumericDType, type TensorEntry, type TensorFile } from './tensor-file.js';

// A .safetensors file: an 8-byte little-endian header length N, N bytes of JSON naming each tensor's dtype, shape and
// byte range, then the data buffer. The checks are the reference implementation's (huggingface/safetensors,
// safetensors/src/tensor.rs): the header is at most 100 MB, the tensors, sorted by offset, cover the buffer exactly
// (no gap, no overlap: a polyglot file is refused), each range holds itemsize × prod(shape) bytes, and the buffer
// ends where the file ends.

const HEADER_LENGTH_BYTES = 8;
/** The reference's MAX_HEADER_SIZE. */
const MAX_HEADER_BYTES = 100_000_000;
const METADATA_KEY = '__metadata__';
const SAFETENSORS_HINT = 'The file must be written by safetensors (save_file / save_model); rewrite it, or compare it with `compare: exact`.';

const NUMERIC_SAFETENSORS_DTYPES: Record<string, NumericDType> = {
  BOOL: 'bool',
  U8: 'uint8',
  I8: 'int8',
  U16: 'uint16',
  I16: 'int16',
  F16: 'float16',
  BF16: 'bfloat16',
  U32: 'uint32',
  I32: 'int32',
  F32: 'float32',
  U64: 'uint64',
  I64: 'int64',
  F64: 'float64',
};

/** Whole-byte element types without numeric statistics here: compared by their bytes. */
const RAW_SAFETENSORS_ITEM_SIZES: Record<string, number> = {
  F8_E5M2: 1,
  F8_E4M3: 1,
  F8_E8M0: 1,
  F8_E4M3FNUZ: 1,
  F8_E5M2FNUZ: 1,
  C64: 8,
};

/** Packed types whose elements are smaller than a byte: a TensorEntry counts whole bytes per element. */
const SUB_BYTE_DTYPES = new Set(['F4', 'F6_E2M3', 'F6_E3M2']);

const TensorInfoSchema = z.object({
  dtype: z.string(),
  shape: z.array(z.int().nonnegative()),
  data_offsets: z.tuple([z.int().nonnegative(), z.int().nonnegative()]),
});
type TensorInfo = z.infer<typeof TensorInfoSchema>;

const MetadataSchema = z.record(z.string(), z.string());

function invalid(displayPath: string, problem: string): UserError {
  return new UserError(`${displayPath}: ${problem}`, SAFETENSORS_HINT);
}

/** itemSize × prod(shape), or undefined when it passes 2^53 (no file that size can exist). */
export function tensorByteLength(itemSize: number, shape: readonly number[]): number | undefined {
  let bytes = itemSize;
  for (const dimension of shape) {
    bytes *= dimension;
    if (!Number.isSafeInteger(bytes)) return undefined;
  }
  return bytes;
}

function elementType(name: string, dtype: string, displayPath: string): { dtype: DType; itemSize: number } {
  const numeric = NUMERIC_SAFETENSORS_DTYPES[dtype];
  if (numeric !== undefined) return { dtype: numeric, itemSize: itemSizeOf(numeric) };
  const rawSize = RAW_SAFETENSORS_ITEM_SIZES[dtype];
  if (rawSize !== undefined) return { dtype: `raw:${dtype}`, itemSize: rawSize };
  if (SUB_BYTE_DTYPES.has(dtype)) {
    throw new UserError(
      `${displayPath}: tensor "${name}" has dtype ${dtype}, whose elements are smaller than a byte; numeric comparison does not read packed sub-byte types`,
      'Compare this artifact with `compare: exact` (its sha256), or save the tensor in a whole-byte dtype.',
    );
  }
  throw invalid(displayPath, `tensor "${name}" has an unknown dtype "${dtype}"`);
}

function parseHeader(bytes: Uint8Array, displayPath: string): Record<string, unknown> {
  if (bytes[0] !== 0x7b) throw invalid(displayPath, 'the header does not start with "{" (this is not a safetensors file)');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw invalid(displayPath, 'the header is not valid UTF-8');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw invalid(displayPath, `the header is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw invalid(displayPath, 'the header is not a JSON object');
  return parsed as Record<string, unknown>;
}

function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  return `${where}${issue?.message ?? 'invalid'}`;
}

function tensorInfos(header: Record<string, unknown>, displayPath: string): Array<{ name: string; info: TensorInfo }> {
  const tensors: Array<{ name: string; info: TensorInfo }> = [];
  for (const [name, value] of Object.entries(header)) {
    if (name === METADATA_KEY) {
      const metadata = MetadataSchema.safeParse(value);
      if (!metadata.success) throw invalid(displayPath, `"${METADATA_KEY}" must map strings to strings (${describeIssue(metadata.error)})`);
      continue;
    }
    const info = TensorInfoSchema.safeParse(value);
    if (!info.success) throw invalid(displayPath, `tensor "${name}" has an invalid description in the header (${describeIssue(info.error)})`);
    tensors.push({ name, info: info.data });
  }
  // The reference sorts by (begin, end): writers order tensors by name or alignment, never necessarily by offset.
  return tensors.sort((a, b) => a.info.data_offsets[0] - b.info.data_offsets[0] || a.info.data_offsets[1] - b.info.data_offsets[1]);
}

function describeTensors(
  handle: FileHandle,
  header: Record<string, unknown>,
  dataStart: number,
  fileSize: number,
  displayPath: string,
): TensorEntry[] {
  const dataBytes = fileSize - dataStart;
  let expectedBegin = 0;
  const entries = tensorInfos(header, displayPath).map(({ name, info }) => {
    const [begin, end] = info.data_offsets;
    if (begin !== expectedBegin || end < begin) {
      throw invalid(
        displayPath,
        `tensor "${name}" has data_offsets [${begin}, ${end}], but the next tensor's data must start at ${expectedBegin} (tensors must cover the data buffer in order, without gaps or overlaps)`,
      );
    }
    expectedBegin = end;
    const { dtype, itemSize } = elementType(name, info.dtype, displayPath);
    const byteLength = tensorByteLength(itemSize, info.shape);
    if (byteLength !== end - begin) {
      throw invalid(
        displayPath,
        `tensor "${name}" is ${info.dtype} with shape [${info.shape.join(', ')}], which is ${byteLength ?? 'more than 2^53'} bytes, but its data_offsets [${begin}, ${end}] span ${end - begin}`,
      );
    }
    if (end > dataBytes) {
      throw invalid(displayPath, `tensor "${name}" ends at byte ${end} of the data, but the file holds ${dataBytes} bytes after the header (truncated?)`);
    }
    return {
      name,
      dtype,
      shape: info.shape,
      itemSize,
      byteLength,
      chunks: () => elementChunks(fileRangeSource(handle, dataStart + begin, byteLength, displayPath), 0, itemSize, false),
    };
  });
  if (expectedBegin !== dataBytes) {
    throw invalid(displayPath, `the tensors cover ${expectedBegin} bytes of data, but the file holds ${dataBytes} bytes after the header (bytes no tensor accounts for)`);
  }
  return entries;
}

export async function openSafetensors(file: string, displayPath: string): Promise<TensorFile> {
  const opened = await openRegularFile(file, displayPath);
  const { handle, source } = opened;
  try {
    if (source.size < HEADER_LENGTH_BYTES) {
      throw invalid(displayPath, `the file is ${source.size} bytes, too short for the ${HEADER_LENGTH_BYTES}-byte header length a safetensors file starts with`);
    }
    const lengthBytes = await readAt(handle, 0, HEADER_LENGTH_BYTES, displayPath);
    const headerLength = new DataView(lengthBytes.buffer).getBigUint64(0, true);
    if (headerLength > BigInt(MAX_HEADER_BYTES)) {
      throw invalid(displayPath, `the header length is ${headerLength} bytes, over the ${MAX_HEADER_BYTES}-byte limit safetensors itself applies`);
    }
    const headerBytes = Number(headerLength);
    if (headerBytes > source.size - HEADER_LENGTH_BYTES) {
      throw invalid(displayPath, `the header length is ${headerBytes} bytes, but the file holds ${source.size - HEADER_LENGTH_BYTES} after the length (truncated?)`);
    }
    const header = parseHeader(await readAt(handle, HEADER_LENGTH_BYTES, headerBytes, displayPath), displayPath);
    const tensors = describeTensors(handle, header, HEADER_LENGTH_BYTES + headerBytes, source.size, displayPath);
    return { format: 'safetensors', tensors, close: opened.close };
  } catch (error) {
    await opened.close();
    throw error;
  }
}
