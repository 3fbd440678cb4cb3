import { constants, copyFile, lstat, mkdir, mkdtemp, readdir, readlink, realpath, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { UserError } from '../errors.js';
import { folderExistence } from '../folder-existence.js';
import { listTrackedFiles, listWorkingTreeFiles } from '../git.js';
import { directoryDigest, digestOf, listRegularFiles, sha256Path } from '../hashing/sha256.js';
import { hashPool } from '../hashing/pool/hash-pool.js';
import { mapConcurrently } from '../map-concurrently.js';
import { isInside, isUnderAny } from '../record/paths.js';

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
  /**
   * Repo-relative inputs (of extraPaths) hashed as they are copied: each file is read once, and its digest is of
   * exactly the bytes the command gets. One that is a link is hashed where it leads.
   */
  hashedPaths?: string[];
  /**
   * `verify --at recorded`: a folder holding the files of the recorded commit (exported outside the working tree).
   * The copy's code comes from there, and only the extra paths (the data) from `repoRoot`.
   */
  codeRoot?: string;
}

export interface Sandbox {
  /** The folder that holds everything below (a container mounts it, and only it). */
  base: string;
  /** The copy of the repository. */
  root: string;
  /** The command's HOME and TMPDIR, beside the copy. */
  home: string;
  tmp: string;
  /** Symlinks that lead outside the repository, left out of the copy (repo-relative). */
  omittedLinks: string[];
  /** The digest of each of `hashedPaths` that exists (a file's sha256, or the directory hash of a folder). */
  hashes: Map<string, string>;
  dispose(): Promise<void>;
}

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

/**
 * What the copy holds besides the hashed inputs (listed apart): the code (the working tree, or the recorded commit's
 * files), and the other extra paths, which come from the repository.
 */
async function filesOf(options: SandboxOptions, hashedInputs: ReadonlyMap<string, string[]>): Promise<{ code: string[]; extra: string[] }> {
  const code = options.codeRoot
    ? (await allFilesUnder(options.codeRoot)).filter((file) => !isUnderAny(file.split(path.sep).join('/'), options.extraPaths))
    : options.isGitRepo
      ? await listWorkingTreeFiles(options.repoRoot)
      : await allFilesUnder(options.repoRoot);
  const extra = await Promise.all(
    options.extraPaths.filter((relative) => !hashedInputs.has(relative)).map(async (relative) => {
      const stats = await lstat(path.join(options.repoRoot, relative)).catch(() => undefined);
      if (!stats) return [];
      return stats.isDirectory() ? allFilesUnder(options.repoRoot, relative) : [relative];
    }),
  );
  const extraFiles = new Set(extra.flat());
  return { code: code.filter((file) => !extraFiles.has(file)), extra: [...extraFiles] };
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

interface CopyState {
  links: Set<string>;
  omitted: string[];
}

/** A link of the repository, re-pointed into the copy; left out (and listed) when it leads outside the repository. */
async function copyLink(sourceRoot: string, root: string, file: string, copy: CopyState): Promise<void> {
  const to = path.join(root, file);
  await mkdir(path.dirname(to), { recursive: true });
  const target = await linkTargetInCopy(sourceRoot, file);
  if (target === undefined) copy.omitted.push(file.split(path.sep).join('/'));
  else {
    await symlink(target, to);
    copy.links.add(file);
  }
}

/** A file whose path in the copy passes through a copied link: checked to stay inside, copied here (a rare case). */
async function copyUnderLink(sourceRoot: string, root: string, file: string): Promise<void> {
  const to = path.join(root, file);
  await mkdir(path.dirname(to), { recursive: true });
  await assertInsideSandbox(root, to);
  const stats = await lstat(path.join(sourceRoot, file)).catch(() => undefined);
  if (stats?.isFile()) await copyFile(path.join(sourceRoot, file), to, constants.COPYFILE_FICLONE);
}

/** The files of each hashed input that is a real file or folder (links are hashed where they lead, after the copy). */
async function hashedFiles(options: SandboxOptions): Promise<Map<string, string[]>> {
  const inputs = new Map<string, string[]>();
  for (const relative of options.hashedPaths ?? []) {
    const absolute = path.join(options.repoRoot, relative);
    const stats = await lstat(absolute).catch(() => undefined);
    if (stats?.isFile()) inputs.set(relative, [relative]);
    else if (stats?.isDirectory()) {
      const files = await listRegularFiles(absolute, { displayPath: relative.split(path.sep).join('/') });
      inputs.set(relative, files.map((file) => path.join(relative, file)));
    }
  }
  return inputs;
}

/**
 * Copies every regular file on the hash pool's threads: a clone where the file system can, else the kernel's copy;
 * inputs to hash are read once, hashed and written in the same pass. Never a hardlink or a link to the user's
 * file: the command could write through it into the working tree. Returns each file's digest (hashed ones).
 */
async function copyFiles(sourceOf: (file: string) => string, root: string, files: string[], hashed: ReadonlySet<string>): Promise<Map<string, string>> {
  const folders = [...new Set(files.map((file) => path.dirname(file)))].sort();
  for (const folder of folders) await mkdir(path.join(root, folder), { recursive: true });
  const pool = hashPool();
  const digests = new Map<string, string>();
  // Every copy under way ends before an error is raised: the caller then removes the sandbox, with no thread still
  // writing. Files are submitted as copies end: enough to keep every thread busy, and memory flat on 100,000 files.
  await mapConcurrently(
    files,
    async (file) => {
      const from = path.join(sourceOf(file), file);
      const toHash = hashed.has(file);
      const outcome = await pool.run({ file: from, copyTo: path.join(root, file), copyOnly: !toHash });
      if (toHash) digests.set(file, digestOf(outcome, file.split(path.sep).join('/')));
      // A file gone since it was listed, or one that is not regular (a FIFO or a socket), is not copied, as before.
      else if ('error' in outcome && !['ENOENT', 'ENXIO'].includes(outcome.error.code ?? '') && outcome.error.mode === undefined) digestOf(outcome, file);
    },
    pool.tasksToKeepBusy,
  );
  return digests;
}

/** The digest of every hashed input: a file's own, a folder's from its files', a link's where it leads. */
async function inputDigests(options: SandboxOptions, inputs: Map<string, string[]>, digests: Map<string, string>): Promise<Map<string, string>> {
  const hashes = new Map<string, string>();
  for (const relative of options.hashedPaths ?? []) {
    const files = inputs.get(relative);
    if (files === undefined) {
      const target = path.join(options.repoRoot, relative);
      if (await lstat(target).then((stats) => stats.isSymbolicLink(), () => false)) hashes.set(relative, await sha256Path(target));
      continue;
    }
    const target = path.join(options.repoRoot, relative);
    const fileDigests = files.map((file) => digests.get(file));
    // A file reached through a link of the copy was copied apart, unhashed: the input is then hashed where it is.
    if (fileDigests.some((digest) => digest === undefined)) hashes.set(relative, await sha256Path(target));
    else if (files.length === 1 && files[0] === relative) hashes.set(relative, fileDigests[0]!);
    else hashes.set(relative, directoryDigest(files.map((file) => path.relative(relative, file).split(path.sep).join('/')), fileDigests as string[]));
  }
  return hashes;
}

async function clearOutputs(root: string, options: SandboxOptions, tracked: ReadonlySet<string>): Promise<void> {
  const folderExists = folderExistence();
  for (const relative of options.clearPaths) {
    const target = path.join(root, relative);
    // A folder that cannot be looked up is passed over, as its outputs were before (their own lookup failed too).
    if (!(await folderExists(path.dirname(target)).catch(() => false))) continue;
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
  const copy: CopyState = { links: new Set<string>(), omitted: [] };
  try {
    await Promise.all([root, home, tmp].map((dir) => mkdir(dir, { recursive: true })));
    const inputs = await hashedFiles(options);
    const inputFiles = new Set([...inputs.values()].flat());
    const listed = await filesOf(options, inputs);
    // The hashed inputs' files were listed as regular files: only the others can be links.
    const code = listed.code.filter((file) => !inputFiles.has(file));
    const codeRoot = options.codeRoot ?? options.repoRoot;
    const codeFiles = new Set(code);
    const sourceOf = (file: string) => (codeFiles.has(file) ? codeRoot : options.repoRoot);
    const others = [...code, ...listed.extra];
    const isLink = await mapConcurrently(others, (file) => lstat(path.join(sourceOf(file), file)).then((stats) => stats.isSymbolicLink(), () => false));
    // Links first, so a file reached through one lands where the link leads in the copy, never in a folder of the same name.
    for (const file of others.filter((_, i) => isLink[i])) await copyLink(sourceOf(file), root, file, copy);
    // Only a path under a link of the copy can lead elsewhere; every other parent is a folder created here.
    const links = [...copy.links];
    const underLink = (file: string) => links.some((link) => file.startsWith(`${link}${path.sep}`));
    const files = [...others.filter((_, i) => !isLink[i]), ...inputFiles];
    const digests = await copyFiles(sourceOf, root, files.filter((file) => !underLink(file)), inputFiles);
    for (const file of files.filter(underLink)) await copyUnderLink(sourceOf(file), root, file);
    const hashes = await inputDigests(options, inputs, digests);
    // At the recorded commit, every file of the export was committed there.
    const tracked = options.codeRoot ? codeFiles : options.isGitRepo ? new Set(await listTrackedFiles(options.repoRoot)) : new Set<string>();
    await clearOutputs(root, options, tracked);
    return { base, root, home, tmp, omittedLinks: copy.omitted, hashes, dispose };
  } catch (error) {
    await dispose();
    throw error;
  }
}
