import { changedFilesSince, headCommit } from '../git.js';
import type { LoadedRecord } from '../record/load.js';
import type { CodeReport } from '../report/schema.js';

const MAX_LISTED_FILES = 50;

/** What changed in the code since the record was made: usually the first place to look when a PR drifts. */
export async function codeReport(loaded: LoadedRecord): Promise<CodeReport | undefined> {
  if (!loaded.isGitRepo) return undefined;
  const recordedCommit = loaded.record.code?.commit;
  const currentCommit = await headCommit(loaded.repoRoot);
  if (!recordedCommit) return { currentCommit, changedFiles: null };
  const changed = await changedFilesSince(loaded.repoRoot, recordedCommit);
  return {
    recordedCommit,
    currentCommit,
    changedFiles: changed ? changed.slice(0, MAX_LISTED_FILES) : null,
    changedFilesTotal: changed?.length,
  };
}
