import { constants, copyFile, lstat, mkdir, mkdtemp, readdir, readlink, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { listTrackedFiles, listWorkingTreeFiles } from '../git.js';

export interface SandboxOptions {
  repoRoot: string;
  isGitRepo: boolean;
  /** Repo-relative data paths, copied even when git ignores them. */
  extraPaths: string[];
  /**
   * Repo-relative outputs cleared in the copy, so a stale one can never be hashed in place of a missing one.
   * A file output is removed; in a folder output only untracked files go (a tracked `model/.gitignore` stays,
   * so the rerun hashes the same set of files the record did).
   */
  clearPaths: string[];
}

export interface Sandbox {
  root: string;
  dispose(): Promise<void>;
}

const PARALLEL_COPIES = 16;

async function allFilesUnder(dir: string, prefix = ''): Promise<string[]> {
  const entries = await readdir(path.join(dir, prefix), { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => !entry.isDirectory())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)));
}

async function filesOf(options: SandboxOptions): Promise<string[]> {
  const base = options.isGitRepo ? await listWorkingTreeFiles(options.repoRoot) : await allFilesUnder(options.repoRoot);
  const extra = await Promise.all(
    options.extraPaths.map(async (relative) => {
      const stats = await lstat(path.join(options.repoRoot, relative)).catch(() => undefined);
      if (!stats) return [];
      return stats.isDirectory() ? allFilesUnder(options.repoRoot, relative) : [relative];
    }),
  );
  return [...new Set([...base, ...extra.flat()])];
}

/**
 * Copies one entry: symlinks stay symlinks, files are copied (copy-on-write where the filesystem can).
 * Never a hardlink or a link to the user's file: the command could write through it into the working tree.
 */
async function copyEntry(from: string, to: string): Promise<void> {
  const stats = await lstat(from).catch(() => undefined);
  if (!stats) return;
  await mkdir(path.dirname(to), { recursive: true });
  if (stats.isSymbolicLink()) await symlink(await readlink(from), to);
  else if (stats.isFile()) await copyFile(from, to, constants.COPYFILE_FICLONE);
}

async function clearOutputs(root: string, options: SandboxOptions): Promise<void> {
  const tracked = options.isGitRepo ? new Set(await listTrackedFiles(options.repoRoot)) : new Set<string>();
  await Promise.all(
    options.clearPaths.map(async (relative) => {
      const target = path.join(root, relative);
      const stats = await lstat(target).catch(() => undefined);
      if (!stats?.isDirectory()) return rm(target, { recursive: true, force: true });
      const untracked = (await allFilesUnder(root, relative)).filter((file) => !tracked.has(file.split(path.sep).join('/')));
      await Promise.all(untracked.map((file) => rm(path.join(root, file), { force: true })));
    }),
  );
}

/** An isolated copy of the working tree for the rerun: what git would see, plus the record's data. */
export async function createSandbox(options: SandboxOptions): Promise<Sandbox> {
  const root = await mkdtemp(path.join(tmpdir(), 'repro-gate-'));
  const dispose = () => rm(root, { recursive: true, force: true });
  try {
    const files = await filesOf(options);
    for (let i = 0; i < files.length; i += PARALLEL_COPIES) {
      await Promise.all(files.slice(i, i + PARALLEL_COPIES).map((file) => copyEntry(path.join(options.repoRoot, file), path.join(root, file))));
    }
    await clearOutputs(root, options);
  } catch (error) {
    await dispose();
    throw error;
  }
  return { root, dispose };
}
