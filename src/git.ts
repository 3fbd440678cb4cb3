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

/** Tracked files (paths with `/`), whatever their state in the working tree. */
export async function listTrackedFiles(repoRoot: string): Promise<string[]> {
  const out = await git(repoRoot, ['ls-files', '-z', '--cached', '--deduplicate']);
  if (out === undefined) throw new Error(`git ls-files failed in ${repoRoot}`);
  return out.split('\0').filter(Boolean);
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

// Queries about another commit (a pull request's base) never need the checkout's hooks or file-system monitor,
// and a repository's own config must not get to run a program while we read it.
const NO_REPOSITORY_PROGRAMS = ['-c', 'core.fsmonitor=', '-c', 'core.hooksPath=/dev/null'];

/** The full commit hash a ref names, or undefined when the clone does not have it (a shallow clone, an unfetched branch). */
export async function resolveCommit(repoRoot: string, ref: string): Promise<string | undefined> {
  const out = await git(repoRoot, [...NO_REPOSITORY_PROGRAMS, 'rev-parse', '--verify', '--quiet', '--end-of-options', `${ref}^{commit}`]);
  return out?.trim() || undefined;
}

/** A file's text at a commit (`git show COMMIT:PATH`), or undefined when the file does not exist there. */
export async function readFileAtCommit(repoRoot: string, commit: string, repoRelative: string): Promise<string | undefined> {
  const object = `${commit}:${repoRelative}`;
  if ((await git(repoRoot, [...NO_REPOSITORY_PROGRAMS, 'cat-file', '-e', object])) === undefined) return undefined;
  const text = await git(repoRoot, [...NO_REPOSITORY_PROGRAMS, 'show', object]);
  if (text === undefined) throw new Error(`git show ${object} failed in ${repoRoot}`);
  return text;
}

/** Every file in a commit's tree (`git ls-tree -r --name-only`), paths with `/`. */
export async function listFilesAtCommit(repoRoot: string, commit: string): Promise<string[]> {
  const out = await git(repoRoot, [...NO_REPOSITORY_PROGRAMS, 'ls-tree', '-r', '-z', '--name-only', commit]);
  if (out === undefined) throw new Error(`git ls-tree ${commit} failed in ${repoRoot}`);
  return out.split('\0').filter(Boolean);
}
