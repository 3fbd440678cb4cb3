import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { UserError } from '../errors.js';
import { exportCommitTree, resolveCommit } from '../git.js';
import type { LoadedRecord } from '../record/load.js';
import { type FolderRealPaths, type ResolvedPath, resolveInside } from '../record/paths.js';

// `verify --at recorded`: the record's code as it was committed, exported outside the working tree, so a record
// can be reproduced months later whatever happened to the code since.

export interface RecordedCommitTree {
  /** The full hash of `code.commit`. */
  commit: string;
  /** The folder holding the commit's files. */
  root: string;
  /** The record with its code, config and environment files read from `root`; its data stays where it is. */
  loaded: LoadedRecord;
  dispose(): Promise<void>;
}

const SHALLOW_HINT =
  'Fetch the full history: with actions/checkout, `fetch-depth: 0`; in a clone, `git fetch --unshallow` (or `git fetch origin <commit>`).';

/**
 * The record as its commit holds it: what it names besides data and outputs is read from the exported tree, each
 * path proven to stay inside it (a link in the commit that leads out, to /proc/self/environ or a credentials file,
 * would otherwise be hashed and diffed into the report).
 */
async function loadedAt(loaded: LoadedRecord, root: string): Promise<LoadedRecord> {
  const { paths } = loaded;
  const folders: FolderRealPaths = new Map();
  const rebased = async (file: ResolvedPath, field: string): Promise<ResolvedPath> => {
    try {
      return await resolveInside(root, root, file.repoRelative, field, folders);
    } catch (error) {
      if (!(error instanceof UserError)) throw error;
      throw new UserError(`at the recorded commit, ${error.message}`, 'Links in the repository must stay inside it: the commit cannot be reproduced as it is.', error.location);
    }
  };
  return {
    ...loaded,
    paths: {
      ...paths,
      requirements: paths.requirements && (await rebased(paths.requirements, 'environment.requirements')),
      lockfile: paths.lockfile && { lock: await rebased(paths.lockfile.lock, 'environment.lockfile'), pyproject: await rebased(paths.lockfile.pyproject, 'environment.lockfile') },
      config: await Promise.all(paths.config.map((file) => rebased(file, 'config'))),
      codeFiles: await Promise.all(paths.codeFiles.map((file) => rebased(file, 'code.files'))),
    },
  };
}

/** Exports the record's `code.commit`; every reason it cannot be reproduced there is a UserError saying what to do. */
export async function exportRecordedCommit(loaded: LoadedRecord): Promise<RecordedCommitTree> {
  const { record, lineOf } = loaded;
  const commit = record.code?.commit;
  if (!loaded.isGitRepo) throw new UserError('--at recorded needs a git repository: the record is not in one', 'Verify at the working tree (the default), or run from a clone of the repository.');
  if (!commit) {
    throw new UserError('the record has no code.commit, so there is no recorded commit to reproduce it at', 'Re-record it in a git checkout (`repro-gate record --update`) after committing the code.', { field: 'code.commit' });
  }
  if (record.code?.dirty) {
    throw new UserError(
      `the record was made from uncommitted changes (code.dirty: true), so code.commit ${commit.slice(0, 12)} does not hold the code that ran`,
      'Commit the code, then re-record (`repro-gate record --update`) and commit the record; or verify at the working tree.',
      { field: 'code.dirty', line: lineOf(['code', 'dirty']) },
    );
  }
  const full = await resolveCommit(loaded.repoRoot, commit);
  if (!full) throw new UserError(`the recorded commit ${commit} is not in this clone`, SHALLOW_HINT, { field: 'code.commit', line: lineOf(['code', 'commit']) });
  const root = await mkdtemp(path.join(tmpdir(), 'repro-gate-commit-'));
  const dispose = () => rm(root, { recursive: true, force: true });
  try {
    await exportCommitTree(loaded.repoRoot, full, root).catch((error: unknown) => {
      throw new UserError(`could not read the files of the recorded commit ${commit.slice(0, 12)}: ${(error as Error).message}`, SHALLOW_HINT, { field: 'code.commit' });
    });
    return { commit: full, root, loaded: await loadedAt(loaded, root), dispose };
  } catch (error) {
    await dispose();
    throw error;
  }
}
