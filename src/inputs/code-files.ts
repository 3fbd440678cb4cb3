import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, readFile } from 'node:fs/promises';
import { sha256PathIfExists } from '../hashing/sha256.js';
import type { LoadedRecord } from '../record/load.js';
import type { InputCheck } from '../report/schema.js';

// The record's learned input set (`code.files`) against the working tree: every file the training read, hashed now.

/** Files hashed at once: a learned set holds thousands of small modules, and each open takes a descriptor. */
const PARALLEL_HASHES = 128;
/** Below this a file is read whole: a module is a few KB, and a streamed hash costs a 1 MiB buffer and four calls more. */
const SMALL_FILE_BYTES = 256 * 1024;

/** A learned file's sha256, or null when it is gone. Never through a link at its own path, never a FIFO or device. */
async function hashLearnedFile(file: string): Promise<string | null> {
  const stats = await lstat(file).catch(() => undefined);
  if (!stats) return null;
  if (!stats.isFile() || stats.size > SMALL_FILE_BYTES) return sha256PathIfExists(file);
  const bytes = await readFile(file, { flag: constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK }).catch(() => undefined);
  return bytes === undefined ? sha256PathIfExists(file) : createHash('sha256').update(bytes).digest('hex');
}

export interface CodeFilesCheck {
  /** How many files the learned set holds. */
  total: number;
  /** Only those that changed or are gone (the rest match): a report never lists a thousand unchanged modules. */
  changed: InputCheck[];
}

export async function checkCodeFiles(loaded: LoadedRecord): Promise<CodeFilesCheck | undefined> {
  const files = loaded.record.code?.files;
  if (!files) return undefined;
  const changed: InputCheck[] = [];
  for (let start = 0; start < files.length; start += PARALLEL_HASHES) {
    const batch = files.slice(start, start + PARALLEL_HASHES);
    const actual = await Promise.all(batch.map((_, i) => hashLearnedFile(loaded.paths.codeFiles[start + i]!.absolute)));
    batch.forEach((entry, i) => {
      const hash = actual[i]!;
      if (hash === entry.sha256) return;
      const index = start + i;
      changed.push({ kind: 'code', path: loaded.paths.codeFiles[index]!.repoRelative, recorded: entry.sha256, actual: hash, status: hash === null ? 'missing' : 'mismatch', line: loaded.lineOf(['code', 'files', index, 'sha256']) });
    });
  }
  return { total: files.length, changed };
}
