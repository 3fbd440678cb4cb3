import { constants, open } from 'node:fs/promises';

/** The file holds more than the caller accepts; `size` is what it held when it was looked at (at least limit + 1). */
export class FileTooLargeError extends Error {
  constructor(
    readonly size: number,
    readonly limit: number,
  ) {
    super(`${size} bytes, over the ${limit}-byte limit`);
    this.name = 'FileTooLargeError';
  }
}

/** A directory, FIFO, socket or device: nothing a whole-file read should wait on or swallow. */
export class NotARegularFileError extends Error {
  constructor() {
    super('not a regular file');
    this.name = 'NotARegularFileError';
  }
}

/**
 * Reads a whole regular file of at most `limit` bytes. The size is checked before anything is read, and again while
 * reading, so a file that grows meanwhile cannot get past the bound. Other failures (ENOENT, EACCES) are thrown as they are.
 */
export async function readFileWithin(file: string, limit: number, options: { noFollow?: boolean } = {}): Promise<Buffer> {
  // O_NONBLOCK: opening a FIFO would otherwise wait for a writer; on a regular file it changes nothing.
  // noFollow: a link at `file` itself fails with ELOOP instead of being read through.
  const handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK | (options.noFollow ? constants.O_NOFOLLOW : 0));
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw new NotARegularFileError();
    if (stats.size > limit) throw new FileTooLargeError(stats.size, limit);
    // One byte of room past the size tells a file that grew since from one that did not; a grown file is read on, to the bound.
    let buffer = Buffer.alloc(Math.min(stats.size, limit) + 1);
    let filled = 0;
    for (;;) {
      if (filled === buffer.length) {
        if (filled > limit) throw new FileTooLargeError(filled, limit);
        const grown = Buffer.alloc(Math.min(buffer.length * 2, limit + 1));
        buffer.copy(grown);
        buffer = grown;
      }
      const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return buffer.subarray(0, filled);
  } finally {
    await handle.close();
  }
}
