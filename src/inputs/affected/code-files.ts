import { lstat } from 'node:fs/promises';
import { sha256PathIfExists } from '../../hashing/sha256.js';
import { sha256RegularFile } from '../../hashing/small-files.js';
import { mapConcurrently } from '../../map-concurrently.js';
import type { LoadedRecord } from '../../record/load.js';
import type { InputCheck } from '../../report/schema.js';

// The record's learned input set (`code.files`) against the working tree: every file the training read, hashed now.

/** A learned file's sha256, or null when it is gone; what is no longer a regular file is hashed as an input path would be. */
async function hashLearnedFile(file: string): Promise<string | null> {
  const stats = await lstat(file).catch(() => undefined);
  if (!stats) return null;
  if (!stats.isFile()) return sha256PathIfExists(file);
  return sha256RegularFile(file, stats.size).catch(() => sha256PathIfExists(file));
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
  const actual = await mapConcurrently(loaded.paths.codeFiles, (file) => hashLearnedFile(file.absolute));
  const changed = files.flatMap((entry, index): InputCheck[] => {
    const hash = actual[index]!;
    if (hash === entry.sha256) return [];
    return [{ kind: 'code', path: loaded.paths.codeFiles[index]!.repoRelative, recorded: entry.sha256, actual: hash, status: hash === null ? 'missing' : 'mismatch', line: loaded.lineOf(['code', 'files', index, 'sha256']) }];
  });
  return { total: files.length, changed };
}
