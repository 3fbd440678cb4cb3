import path from 'node:path';
import { changedFilesSince } from '../git.js';

/**
 * Files matching the record's `code.watch` globs (repository-relative) that changed since `commit`, untracked ones
 * included; undefined when the commit is not in the clone (a shallow checkout).
 */
export async function watchedChanges(repoRoot: string, commit: string | undefined, globs: string[]): Promise<string[] | undefined> {
  if (globs.length === 0) return [];
  if (!commit) return undefined;
  const changed = await changedFilesSince(repoRoot, commit);
  return changed?.filter((file) => globs.some((glob) => file === glob || path.matchesGlob(file, glob)));
}
