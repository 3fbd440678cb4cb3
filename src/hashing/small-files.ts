import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { sha256File } from './sha256.js';

// Many small files (a training's modules and configs, thousands of them): a few KB each, so each is read whole, with
// no 1 MiB buffer or stream, and many at once.

/** Below this a file is read whole: a streamed hash costs a 1 MiB buffer and four calls more. */
const SMALL_FILE_BYTES = 256 * 1024;

/**
 * The sha256 of the regular file at `file`, `size` bytes as lstat saw it: read whole when small, streamed otherwise;
 * never through a link at its own path, never a FIFO or a device.
 */
export async function sha256RegularFile(file: string, size: number): Promise<string> {
  if (size <= SMALL_FILE_BYTES) {
    const bytes = await readFile(file, { flag: constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK }).catch(() => undefined);
    if (bytes !== undefined) return createHash('sha256').update(bytes).digest('hex');
  }
  return sha256File(file, { noFollow: true });
}
