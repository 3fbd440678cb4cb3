import { constants, copyFile, lstat, mkdir, mkdtemp, readdir, readlink, realpath, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { UserError } from '../errors.js';
import { listTrackedFiles, listWorkingTreeFiles } from '../git.js';
import { isInside } from '../record/paths.js';

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
  /** Extra folders between the temp folder and the copy (the `workdir` variation: a training must not depend on its path). */
  extraDepth?: number;
}

export interface Sandbox {
  /** The copy of the repository. */
  root: string;
  /** The command's HOME and TMPDIR, beside the copy. */
  home: string;
  tmp: string;
  /** Symlinks that lead outside the repository, left out of the copy (repo-relative). */
  omittedLinks: string[];
  dispose(): Promise<void>;
}

const PARALLEL_COPIES = 16;

/**
 * Every write or delete of repro-gate in the sandbox goes through here: the folder it touches, with every link
 * resolved, must still be inside the sandbox. A link planted by the command can never lead one out.
 */
export async function assertInsideSandbox(root: string, target: string): Promise<void> {
  const realRoot = await realpath(root);
  const parent = await realpath(path.dirname(target)).catch(() => undefined);
  const leaf = await lstat(target).catch(() => undefined);
  if ((parent === undefined || isInside(realRoot, parent)) && !leaf?.isSymbolicLink()) return;
  throw new UserError(
    `${path.relative(root, target)} leads outside the sandbox through a symlink; repro-gate does not follow it`,
    'Outputs and data must be real files and folders inside the repository, not links that leave it.',
  );
}

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
 * Where a link of the repository points inside the copy, as a relative link; undefined when it leaves the repository
 * (an absolute link into the repository is rewritten, so the command never reaches the user's files through it).
 */
async function linkTargetInCopy(repoRoot: string, file: string): Promise<string | undefined> {
  const from = path.join(repoRoot, file);
  const target = path.resolve(path.dirname(from), await readlink(from));
  const realRoot = await realpath(repoRoot);
  const resolved = await realpath(target).catch(() => target);
  const inRepo = isInside(repoRoot, target) ? target : isInside(realRoot, resolved) ? path.join(repoRoot, path.relative(realRoot, resolved)) : undefined;
  return inRepo === undefined ? undefined : path.relative(path.dirname(from), inRepo) || '.';
}

/**
 * Copies one entry: files are copied (copy-on-write where the filesystem can), links are re-pointed into the copy.
 * Never a hardlink or a link to the user's file: the command could write through it into the working tree.
 */
async function copyEntry(options: SandboxOptions, root: string, file: string, copy: { links: Set<string>; omitted: string[] }): Promise<void> {
  const from = path.join(options.repoRoot, file);
  const to = path.join(root, file);
  const stats = await lstat(from).catch(() => undefined);
  if (!stats || (!stats.isSymbolicLink() && !stats.isFile())) return;
  await mkdir(path.dirname(to), { recursive: true });
  // Only a path under a link of the copy can lead elsewhere; every other parent is a folder created here.
  const underLink = [...copy.links].some((link) => file.startsWith(`${link}${path.sep}`));
  if (underLink) await assertInsideSandbox(root, to);
  if (stats.isFile()) return copyFile(from, to, constants.COPYFILE_FICLONE);
  const target = await linkTargetInCopy(options.repoRoot, file);
  if (target === undefined) copy.omitted.push(file.split(path.sep).join('/'));
  else {
    await symlink(target, to);
    copy.links.add(file);
  }
}

async function clearOutputs(root: string, options: SandboxOptions): Promise<void> {
  const tracked = options.isGitRepo ? new Set(await listTrackedFiles(options.repoRoot)) : new Set<string>();
  for (const relative of options.clearPaths) {
    const target = path.join(root, relative);
    const stats = await lstat(target).catch(() => undefined);
    if (!stats) continue;
    await assertInsideSandbox(root, target);
    if (!stats.isDirectory()) {
      await rm(target, { recursive: true, force: true });
      continue;
    }
    const untracked = (await allFilesUnder(root, relative)).filter((file) => !tracked.has(file.split(path.sep).join('/')));
    for (const file of untracked) {
      const inside = await assertInsideSandbox(root, path.join(root, file)).then(
        () => true,
        () => false,
      );
      if (inside) await rm(path.join(root, file), { force: true });
    }
  }
}

/** An isolated copy of the working tree for the rerun: what git would see, plus the record's data. */
export async function createSandbox(options: SandboxOptions): Promise<Sandbox> {
  const base = await mkdtemp(path.join(tmpdir(), 'repro-gate-'));
  const nesting = Array.from({ length: options.extraDepth ?? 0 }, (_, i) => `nested-${i + 1}`);
  const [root, home, tmp] = [path.join(...nesting, 'work'), 'home', 'tmp'].map((name) => path.join(base, name)) as [string, string, string];
  const dispose = () => rm(base, { recursive: true, force: true });
  const copy = { links: new Set<string>(), omitted: [] as string[] };
  try {
    await Promise.all([root, home, tmp].map((dir) => mkdir(dir, { recursive: true })));
    const files = await filesOf(options);
    const isLink = await Promise.all(files.map((file) => lstat(path.join(options.repoRoot, file)).then((stats) => stats.isSymbolicLink(), () => false)));
    // Links first, so a file reached through one lands where the link leads in the copy, never in a folder of the same name.
    for (const file of files.filter((_, i) => isLink[i])) await copyEntry(options, root, file, copy);
    const regular = files.filter((_, i) => !isLink[i]);
    for (let i = 0; i < regular.length; i += PARALLEL_COPIES) {
      await Promise.all(regular.slice(i, i + PARALLEL_COPIES).map((file) => copyEntry(options, root, file, copy)));
    }
    await clearOutputs(root, options);
  } catch (error) {
    await dispose();
    throw error;
  }
  return { root, home, tmp, omittedLinks: copy.omitted, dispose };
}
