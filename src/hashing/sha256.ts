import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, open, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../errors.js';
import { fileKind } from './file-kind.js';

// One buffer per file, reused for every read: memory stays flat on any file size. A Readable stream allocates
// a fresh chunk per read, which measured at half of OpenSSL's throughput and 2.5x the RSS (`npm run bench`).
const READ_CHUNK_BYTES = 1024 * 1024;
const PARALLEL_FILES = 4;

export interface FileHashOptions {
  /** Refuse a symlink at `file` itself (O_NOFOLLOW), so a link swapped in after it was checked is never followed. */
  noFollow?: boolean;
}

/**
 * Only a regular file is read: opening does not wait (O_NONBLOCK: a FIFO would block until a writer comes), and what
 * was opened is checked before the first read (a FIFO or a device such as /dev/zero would never end).
 */
export async function sha256File(file: string, options: FileHashOptions = {}): Promise<string> {
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(READ_CHUNK_BYTES);
  const handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK | (options.noFollow ? constants.O_NOFOLLOW : 0));
  try {
    const opened = await handle.stat();
    if (!opened.isFile()) throw new UserError(`${file} is ${fileKind(opened)}, not a regular file`, 'Only regular files can be hashed.');
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
    }
  } finally {
    await handle.close();
  }
  return hash.digest('hex');
}

export interface DirectoryHashOptions {
  /** How the folder is named in messages (default: its path). */
  displayPath?: string;
  /** Outputs: a FIFO, device or socket in the folder is an error, not skipped, and no file is opened through a link. */
  regularOnly?: boolean;
}

/** Regular files under `dir` as `/`-separated relative paths, sorted bytewise like `LC_ALL=C sort`. */
async function listRegularFiles(dir: string, options: DirectoryHashOptions): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files: string[] = [];
  for (const entry of entries) {
    const relative = path.relative(dir, path.join(entry.parentPath, entry.name)).split(path.sep).join('/');
    const shown = options.displayPath ? `${options.displayPath}/${relative}` : path.join(dir, relative);
    if (entry.isSymbolicLink()) {
      throw new UserError(
        `${shown} is a symlink inside a hashed directory`,
        'Replace it with the file it points to: `find -type f` (and so the documented directory hash) does not follow symlinks.',
      );
    }
    if (options.regularOnly && !entry.isFile() && !entry.isDirectory()) {
      throw new UserError(`${shown} is ${fileKind(entry)}, not a regular file`, 'An output folder must hold only regular files (and folders of them).');
    }
    if (!entry.isFile()) continue;
    if (/[\\\n]/.test(relative)) {
      throw new UserError(`${shown} has a backslash or newline in its name`, 'Rename it: sha256sum escapes such names, so the hash would be ambiguous.');
    }
    files.push(relative);
  }
  return files.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

/** Maps with at most `limit` calls in flight, results in input order. */
async function mapLimited<T, R>(items: T[], limit: number, map: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await map(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/**
 * The documented directory hash: sha256 of exactly what `sha256sum` prints for every regular file,
 * sorted bytewise by relative path — so users can recompute it with coreutils.
 */
export async function sha256Directory(dir: string, options: DirectoryHashOptions = {}): Promise<string> {
  const files = await listRegularFiles(dir, options);
  const hashes = await mapLimited(files, PARALLEL_FILES, (file) => sha256File(path.join(dir, file), { noFollow: options.regularOnly }));
  const listing = createHash('sha256');
  files.forEach((file, i) => listing.update(`${hashes[i]}  ${file}\n`));
  return listing.digest('hex');
}

/** An input: a file or a directory, or a link to one (data kept elsewhere and linked into the repository is legitimate). */
export async function sha256Path(target: string): Promise<string> {
  const stats = await lstat(target);
  // What a link leads to is checked before it is opened: a link to /dev/zero would never end.
  const resolved = stats.isSymbolicLink() ? await stat(target) : stats;
  if (resolved.isFile()) return sha256File(target);
  if (resolved.isDirectory()) return sha256Directory(target);
  const what = stats.isSymbolicLink() ? `a symlink to ${fileKind(resolved)}` : fileKind(resolved);
  throw new UserError(`${target} is ${what}, neither a file nor a directory`, 'Point the record at a regular file or a directory.');
}

/** Null for a path that does not exist, so a missing output is reported as missing, never hashed from elsewhere. */
export async function sha256PathIfExists(target: string): Promise<string | null> {
  try {
    return await sha256Path(target);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}
