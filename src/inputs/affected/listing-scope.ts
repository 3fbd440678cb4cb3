import { foldersAtCommit, listWorkingTreeFiles, type RawChange } from '../../git.js';
import type { LoadedRecord } from '../../record/load.js';
import { foldersAbove, type ListingScope } from './structural-changes.js';

/**
 * The folders of the checkout as the sandbox copies it (tracked and untracked files, not ignored ones): a folder that
 * holds only ignored files (`__pycache__`) is gone for the rerun. Undefined when git cannot list them.
 */
async function foldersOfWorkingTree(repoRoot: string): Promise<Set<string> | undefined> {
  const files = await listWorkingTreeFiles(repoRoot).catch(() => undefined);
  return files && new Set(files.flatMap(foldersAbove));
}

/**
 * The record's listing scope for the changes since its commit: the folders its run listed, those of the commit, and
 * those of the checkout now (looked up only when something was removed). Undefined (every added file then counts, as
 * for a record without `code.listed`) when any of them cannot be known.
 */
export async function listingScope(loaded: LoadedRecord, changes: readonly RawChange[] | undefined): Promise<ListingScope | undefined> {
  const listed = loaded.record.code?.listed;
  const commit = loaded.record.code?.commit;
  if (!listed || !commit || !changes || !loaded.isGitRepo) return undefined;
  const removes = changes.some((change) => change.status === 'D' || change.status === 'R');
  const [atCommit, now] = await Promise.all([foldersAtCommit(loaded.repoRoot, commit), removes ? foldersOfWorkingTree(loaded.repoRoot) : new Set<string>()]);
  if (!atCommit || !now) return undefined;
  return { listed: new Set(listed), foldersAtCommit: atCommit, foldersNow: now };
}
