import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

// Read-only git queries. None of them writes to the repository (no index refresh: --no-optional-locks).

async function git(cwd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  try {
    const { stdout } = await execFileAsync('git', ['--no-optional-locks', ...args], {
      cwd,
      env,
      maxBuffer: 256 * 1024 * 1024,
      encoding: 'utf8',
    });
    return stdout;
  } catch {
    return undefined;
  }
}

/** The repository's top level, or undefined outside git. */
export async function findRepoRoot(dir: string): Promise<string | undefined> {
  return (await git(dir, ['rev-parse', '--show-toplevel']))?.trim() || undefined;
}

export async function headCommit(repoRoot: string): Promise<string | undefined> {
  return (await git(repoRoot, ['rev-parse', 'HEAD']))?.trim() || undefined;
}

/**
 * Files a rerun must see: tracked files as they are in the working tree (uncommitted changes included)
 * plus untracked files that are not ignored. Deleted tracked files are left out. Paths use `/`.
 */
export async function listWorkingTreeFiles(repoRoot: string): Promise<string[]> {
  const out = await git(repoRoot, ['ls-files', '-z', '--cached', '--others', '--exclude-standard', '--deduplicate']);
  if (out === undefined) throw new Error(`git ls-files failed in ${repoRoot}`);
  const deleted = new Set(
    ((await git(repoRoot, ['ls-files', '-z', '--deleted'])) ?? '').split('\0').filter(Boolean),
  );
  return [...new Set(out.split('\0').filter((file) => file && !deleted.has(file)))];
}

/**
 * `git diff` refreshes and rewrites .git/index even with --no-optional-locks (git 2.39), which would modify the
 * user's checkout. It gets a throwaway copy of the index instead.
 */
async function withPrivateIndex<T>(repoRoot: string, run: (env: NodeJS.ProcessEnv) => Promise<T>): Promise<T | undefined> {
  const index = (await git(repoRoot, ['rev-parse', '--path-format=absolute', '--git-path', 'index']))?.trim();
  if (!index) return undefined;
  const dir = await mkdtemp(path.join(tmpdir(), 'repro-gate-index-'));
  try {
    const copy = path.join(dir, 'index');
    await copyFile(index, copy).catch(() => undefined);
    return await run({ ...process.env, GIT_INDEX_FILE: copy });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Files that differ between `commit` and the working tree; undefined when the commit is not in the clone. */
export async function changedFilesSince(repoRoot: string, commit: string): Promise<string[] | undefined> {
  if ((await git(repoRoot, ['cat-file', '-e', `${commit}^{commit}`])) === undefined) return undefined;
  const out = await withPrivateIndex(repoRoot, (env) => git(repoRoot, ['diff', '--name-only', '-z', commit, '--'], env));
  if (out === undefined) return undefined;
  const untracked = (await git(repoRoot, ['ls-files', '-z', '--others', '--exclude-standard'])) ?? '';
  return [...new Set([...out.split('\0'), ...untracked.split('\0')].filter(Boolean))].sort();
}

export async function hasUncommittedChanges(repoRoot: string): Promise<boolean> {
  return ((await git(repoRoot, ['status', '--porcelain'])) ?? '').trim() !== '';
}
