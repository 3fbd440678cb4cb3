import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../errors.js';
import { fileKind } from './file-kind.js';
import { hashPool } from './pool/hash-pool.js';
import type { HashOutcome, HashTask } from './pool/hash-worker.js';

// Every file is read on a thread of the hash pool (one per core), with one reused buffer per thread: memory stays
// flat on any file size, and a folder of many small files is hashed on every core (`npm run bench`).

export interface FileHashOptions {
  /** Refuse a symlink at `file` itself (O_NOFOLLOW), so a link swapped in after it was checked is never followed. */
  noFollow?: boolean;
}

/** A file type as `fileKind` words it, from the type bits of a mode. */
function kindOfMode(mode: number): string {
  const type = mode & constants.S_IFMT;
  const is = (bits: number) => () => type === bits;
  return fileKind({
    isFile: is(constants.S_IFREG),
    isDirectory: is(constants.S_IFDIR),
    isSymbolicLink: is(constants.S_IFLNK),
    isFIFO: is(constants.S_IFIFO),
    isCharacterDevice: is(constants.S_IFCHR),
    isBlockDevice: is(constants.S_IFBLK),
    isSocket: is(constants.S_IFSOCK),
  });
}

/** The digest of an outcome, or the error it stands for: an errno error keeps its code (ENOENT means missing). */
export function digestOf(outcome: HashOutcome, file: string): string {
  if ('sha256' in outcome) return outcome.sha256;
  if ('error' in outcome) {
    const { message, code, mode } = outcome.error;
    if (mode !== undefined) throw new UserError(`${file} is ${kindOfMode(mode)}, not a regular file`, 'Only regular files can be hashed.');
    throw Object.assign(new Error(message), { code });
  }
  throw new Error(`${file} was copied, not hashed`);
}

/** Runs one task on the pool; its digest, or the error it met. */
export async function hashTask(task: HashTask): Promise<string> {
  return digestOf(await hashPool().run(task), task.file);
}

/**
 * Only a regular file is read: opening does not wait (O_NONBLOCK: a FIFO would block until a writer comes), and what
 * was opened is checked before the first read (a FIFO or a device such as /dev/zero would never end).
 */
export async function sha256File(file: string, options: FileHashOptions = {}): Promise<string> {
  // The thread never follows a link: one that may be followed is resolved here.
  return hashTask({ file: options.noFollow ? file : await realpath(file) });
}

export interface DirectoryHashOptions {
  /** How the folder is named in messages (default: its path). */
  displayPath?: string;
  /** Outputs: a FIFO, device or socket in the folder is an error, not skipped, and no file is opened through a link. */
  regularOnly?: boolean;
}

/** Regular files under `dir` as `/`-separated relative paths, sorted bytewise like `LC_ALL=C sort`. */
export async function listRegularFiles(dir: string, options: DirectoryHashOptions): Promise<string[]> {
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
  // Sorted as bytes: compared as UTF-16 strings, names past U+FFFF would sort apart from `sort`'s order.
  const keyed = files.map((file) => ({ file, key: Buffer.from(file) }));
  return keyed.sort((a, b) => Buffer.compare(a.key, b.key)).map((entry) => entry.file);
}

/**
 * The documented directory hash: sha256 of exactly what `sha256sum` prints for every regular file,
 * sorted bytewise by relative path — so users can recompute it with coreutils.
 */
export async function sha256Directory(dir: string, options: DirectoryHashOptions = {}): Promise<string> {
  const files = await listRegularFiles(dir, options);
  // Every file was checked to be regular just now: none is opened through a link.
  const hashes = await Promise.all(files.map((file) => hashTask({ file: path.join(dir, file) })));
  return directoryDigest(files, hashes);
}

/** The directory hash from its sorted files and their digests, in the same order. */
export function directoryDigest(files: readonly string[], hashes: readonly string[]): string {
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
  // Tried as a regular file first, on a thread: a missing path then costs no exception here (10,000 artifacts
  // that are not in the checkout), and a folder or a link takes the full way below.
  const outcome = await hashPool().run({ file: target });
  if ('sha256' in outcome) return outcome.sha256;
  if ('error' in outcome && (outcome.error.code === 'ENOENT' || outcome.error.code === 'ENOTDIR')) return null;
  try {
    return await sha256Path(target);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}
