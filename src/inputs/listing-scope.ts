import { stat } from 'node:fs/promises';
import path from 'node:path';
import { foldersAtCommit, type RawChange } from '../git.js';
import type { LoadedRecord } from '../record/load.js';
import { foldersAbove, type ListingScope } from './structural-changes.js';

/** Whether `folder` (repository-relative) is a folder in the checkout now. */
async function isFolderNow(repoRoot: string, folder: string): Promise<boolean> {
  return stat(path.join(repoRoot, folder)).then(
    (stats) => stats.isDirectory(),
    () => false,
  );
}

/**
 * The record's listing scope for the changes since its commit: the folders its run listed, those of the commit, and
 * which folders above a removed file are still there. Undefined (every added file then counts) when the record has no
 * `code.listed` or the commit's folders cannot be read.
 */
export async function listingScope(loaded: LoadedRecord, changes: readonly RawChange[] | undefined): Promise<ListingScope | undefined> {
  const listed = loaded.record.code?.listed;
  const commit = loaded.record.code?.commit;
  if (!listed || !commit || !changes || !loaded.isGitRepo) return undefined;
  const removed = changes.flatMap((change) => [...(change.status === 'D' ? [change.path] : []), ...(change.status === 'R' && change.from ? [change.from] : [])]);
  const candidates = [...new Set(removed.flatMap(foldersAbove))];
  const [atCommit, present] = await Promise.all([foldersAtCommit(loaded.repoRoot, commit), Promise.all(candidates.map((folder) => isFolderNow(loaded.repoRoot, folder)))]);
  if (!atCommit) return undefined;
  return { listed: new Set(listed), foldersAtCommit: atCommit, foldersNow: new Set(candidates.filter((_, i) => present[i])) };
}
