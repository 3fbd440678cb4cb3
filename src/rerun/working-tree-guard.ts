import { createHash } from 'node:crypto';
import { lstat, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { statusEntries } from '../git.js';
import { mapConcurrently } from '../map-concurrently.js';

// The command runs in a copy, but nothing stops it from writing into the user's repository by absolute path,
// through $GITHUB_WORKSPACE, or with `cd ../..`. The working tree is fingerprinted before and after the rerun:
// any difference means the command wrote outside its sandbox. Nothing is undone; the verdict says so.

/** Files inside .git that would make git itself run code, or change what it reports. */
const GIT_CONTROL = ['config', 'hooks', 'info', 'HEAD', 'packed-refs', 'refs/replace', 'objects/info', 'modules', 'commondir'];

const STATS_IN_FLIGHT = 256;

/** Metadata that a same-size rewrite with its mtime put back still changes: the inode change time (ns), which no user can set. */
async function fileState(file: string): Promise<string> {
  const stats = await lstat(file, { bigint: true }).catch(() => undefined);
  return stats ? `${stats.mode}:${stats.size}:${stats.mtimeNs}:${stats.ctimeNs}:${stats.ino}` : 'absent';
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((entry) => !entry.isDirectory()).map((entry) => path.join(entry.parentPath, entry.name));
}

async function gitControlState(repoRoot: string): Promise<Map<string, string>> {
  const state = new Map<string, string>();
  for (const name of GIT_CONTROL) {
    const target = path.join(repoRoot, '.git', name);
    const files = (await lstat(target).catch(() => undefined))?.isDirectory() ? await filesUnder(target) : [target];
    for (const file of files) {
      const content = await readFile(file).catch(() => undefined);
      state.set(path.relative(repoRoot, file), content ? createHash('sha256').update(content).digest('hex') : 'absent');
    }
  }
  return state;
}

export type TreeFingerprint = Map<string, string>;

/**
 * The contents of .git's control files, plus what git reports about the tree (each listed file with its metadata).
 * Given the fingerprint from before the rerun, git is not run at all when its control files changed since: the
 * difference is already the verdict, and a changed config could make git run the command's program.
 */
export async function fingerprintWorkingTree(repoRoot: string, isGitRepo: boolean, before?: TreeFingerprint): Promise<TreeFingerprint> {
  const state: TreeFingerprint = isGitRepo ? await gitControlState(repoRoot) : new Map();
  if (before && [...state].some(([file, value]) => before.get(file) !== value)) return new Map([...before, ...state]);
  const listed = isGitRepo ? await statusEntries(repoRoot) : undefined;
  const files = listed ? [...listed.keys()] : (await filesUnder(repoRoot)).map((file) => path.relative(repoRoot, file));
  // A few hundred at a time: a dataset of 20,000 files in flight at once held 100 MB of stat results and promises.
  await mapConcurrently(files, async (file) => state.set(file, `${listed?.get(file) ?? ''}|${await fileState(path.join(repoRoot, file))}`), STATS_IN_FLIGHT);
  return state;
}

/** Pure: the paths whose state differs between two fingerprints, sorted. */
export function changedPaths(before: TreeFingerprint, after: TreeFingerprint): string[] {
  const paths = new Set([...before.keys(), ...after.keys()]);
  return [...paths].filter((file) => before.get(file) !== after.get(file)).sort();
}
