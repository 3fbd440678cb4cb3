import path from 'node:path';
import type { RawChange } from '../../git.js';

/**
 * Pure: of the changes since the record's commit (undefined when they cannot be known), the files matching the record's
 * `code.watch` globs (repository-relative), at their path now or, renamed, at the one they had.
 */
export function watchedChanges(changes: readonly RawChange[] | undefined, globs: readonly string[]): string[] | undefined {
  if (globs.length === 0) return [];
  if (!changes) return undefined;
  const watched = (file: string | undefined) => file !== undefined && globs.some((glob) => file === glob || path.matchesGlob(file, glob));
  return changes.filter((change) => watched(change.path) || watched(change.from)).map((change) => change.path);
}
