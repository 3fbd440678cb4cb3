import path from 'node:path';
import { headCommit, type RawChange } from '../git.js';
import type { LoadedRecord } from '../record/load.js';
import { isUnderAny } from '../record/paths.js';
import type { CodeReport } from '../report/schema.js';

const MAX_LISTED_FILES = 50;

/** Every path a change touched: a rename names both the path it left and the one it took. */
const touchedPaths = (changes: readonly RawChange[]) => [...new Set(changes.flatMap((change) => [change.path, ...(change.from ? [change.from] : [])]))].sort();

/**
 * What changed in the code since the record was made: usually the first place to look when a PR drifts. `changes`:
 * the differences between code.commit and the working tree (undefined when the commit is not in the clone).
 */
export async function codeReport(loaded: LoadedRecord, changes: Promise<readonly RawChange[] | undefined>): Promise<CodeReport | undefined> {
  if (!loaded.isGitRepo) return undefined;
  const recordedCommit = loaded.record.code?.commit;
  const currentCommit = await headCommit(loaded.repoRoot);
  if (!recordedCommit) return { currentCommit, changedFiles: null };
  // The record and its outputs are committed after the run they describe, so they always differ: they are not causes.
  const own = [...loaded.paths.artifacts, ...(loaded.paths.metrics ? [loaded.paths.metrics] : [])].map((p) => p.repoRelative);
  const isOwn = (file: string) => isUnderAny(file, [loaded.recordPath, ...own]);
  const touched = await changes;
  const changed = touched ? touchedPaths(touched).filter((file) => !isOwn(file)) : null;
  // In a repository of many models, what changed next to the training code matters most: it is listed first.
  const scope = path.relative(loaded.repoRoot, path.resolve(loaded.dir, loaded.record.workdir ?? '.')).split(path.sep).join('/');
  const inScope = (file: string) => scope === '' || file === scope || file.startsWith(`${scope}/`);
  const near = changed?.filter(inScope) ?? [];
  const ordered = changed ? [...near, ...changed.filter((file) => !inScope(file))] : null;
  return {
    recordedCommit,
    currentCommit,
    scope: scope || '.',
    changedFiles: ordered ? ordered.slice(0, MAX_LISTED_FILES) : null,
    changedFilesTotal: changed?.length,
    changedInScope: changed ? near.length : undefined,
  };
}
