// Byte sources for the tensor readers: a regular file opened safely and read at positions, byte ranges of it, and
// tensors' elements streamed from either (or from a zip member, see zip.ts) in bounded chunks. Every read that comes
// up short is a UserError naming the file: a file that shrinks while it is read is never a crash.

import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { UserError } from '../../errors.js';
import { fileKind } from '../../hashing/file-kind.js';
import { TENSOR_CHUNK_BYTES } from './tensor-file.js';

/** Bytes a reader can stream from any position: a whole file, a range of one, or one zip member as it is once decompressed. */
export interface ByteSource {
  /** Total bytes (for a deflated member: the size its directory declares, enforced while inflating). */
  readonly size: number;
  /**
   * Bytes [start, size) in freshly allocated chunks of exactly `chunkBytes` (the last may be shorter); each call starts
   * a fresh read, and breaking out of the loop releases it. With `reuse`, a source may read into memory it handed out
   * REUSED_CHUNKS chunks earlier (sources that must keep chunks fresh ignore it): only for a consumer that is done
   * with each chunk by then.
   */
  stream(start: number, chunkBytes: number, options?: { reuse?: boolean }): AsyncIterable<Uint8Array>;
}

/**
 * How many chunks a reusing stream cycles through. A PieceReader holds its current chunk and the one being read ahead;
 * the third is slack. Without reuse every 1 MiB chunk is a new allocation that only a garbage collection frees, and
 * a 1 GiB pair piled up ~80 MB of them before one came.
 */
export const REUSED_CHUNKS = 3;

export interface OpenedFile {
  readonly handle: FileHandle;
  /** The whole file, as large as it was when opened. */
  readonly source: ByteSource;
  /** Safe to call twice. */
  close(): Promise<void>;
}

/**
 * Opens a regular file without following a link at its path or waiting on a FIFO, and checks what was opened before
 * the first read. Any failure is a UserError naming `displayPath`.
 */
export async function openRegularFile(file: string, displayPath: string): Promise<OpenedFile> {
  const handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW).catch((error: NodeJS.ErrnoException) => {
    throw new UserError(
      `${displayPath}: cannot be opened (${error.code ?? error.message})`,
      'Make sure the command writes this file as a regular file (not a link) and that it is readable.',
    );
  });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await handle.close();
  };
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) {
      throw new UserError(`${displayPath} is ${fileKind(stats)}, not a regular file`, 'Numeric artifacts must be regular files written by the command.');
    }
    return { handle, source: fileRangeSource(handle, 0, stats.size, displayPath), close };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * Exactly `length` bytes of the file at `position`, in a fresh array of its own or at the start of `into` (either way
 * its buffer starts at the first byte).
 */
export async function readAt(handle: FileHandle, position: number, length: number, displayPath: string, into?: Uint8Array): Promise<Uint8Array> {
  const bytes = into ? into.subarray(0, length) : new Uint8Array(length);
  for (let filled = 0; filled < length; ) {
    const { bytesRead } = await handle.read(bytes, filled, length - filled, position + filled);
    if (bytesRead === 0) {
      throw new UserError(
        `${displayPath}: the file ends at byte ${position + filled}, before the ${length} bytes read at byte ${position}`,
        'The file was truncated or changed while it was being read; compare it once the command that writes it has finished.',
      );
    }
    filled += bytesRead;
  }
  return bytes;
}

/** The `size` bytes of an open file from `offset`: a stored zip member, one tensor's range in a safetensors file. */
export function fileRangeSource(handle: FileHandle, offset: number, size: number, displayPath: string): ByteSource {
  return {
    size,
    async *stream(start, chunkBytes, options) {
      // Allocated as first needed, no larger than the range: a small tensor costs no more than before.
      const ring: Uint8Array[] = [];
      for (let position = start, index = 0; position < size; position += chunkBytes, index++) {
        const length = Math.min(chunkBytes, size - position);
        const slot = index % REUSED_CHUNKS;
        if (options?.reuse) ring[slot] ??= new Uint8Array(Math.min(chunkBytes, size - start));
        yield await readAt(handle, offset + position, length, displayPath, options?.reuse ? ring[slot] : undefined);
      }
    },
  };
}

/** The first `length` bytes of a source (a header, a small member); the caller checks `length <= source.size`. */
export async function readPrefix(source: ByteSource, length: number): Promise<Uint8Array> {
  if (length === 0) return new Uint8Array(0);
  for await (const chunk of source.stream(0, length)) return chunk;
  return new Uint8Array(0);
}

/**
 * A tensor's elements from `start` to the end of `source`, in chunks of whole elements of at most TENSOR_CHUNK_BYTES,
 * byte-swapped to little-endian when `bigEndian` (the chunks are the stream's own, so they are swapped in place).
 * Chunks may be reused (see ByteSource.stream): this feeds a PieceReader, which is done with a chunk two chunks later.
 */
export async function* elementChunks(source: ByteSource, start: number, itemSize: number, bigEndian: boolean): AsyncIterable<Uint8Array> {
  // An element wider than a chunk is only ever raw (compared by bytes), so it may be split.
  const chunkBytes = itemSize <= TENSOR_CHUNK_BYTES ? TENSOR_CHUNK_BYTES - (TENSOR_CHUNK_BYTES % itemSize) : TENSOR_CHUNK_BYTES;
  for await (const chunk of source.stream(start, chunkBytes, { reuse: true })) {
    if (bigEndian) swapToLittleEndian(chunk, itemSize);
    yield chunk;
  }
}

function swapToLittleEndian(chunk: Uint8Array, itemSize: number): void {
  const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (itemSize === 2) bytes.swap16();
  else if (itemSize === 4) bytes.swap32();
  else if (itemSize === 8) bytes.swap64();
}
