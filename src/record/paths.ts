import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../errors.js';

export interface ResolvedPath {
  /** Absolute path in the user's tree. */
  absolute: string;
  /** Relative to the repository root, with `/`: the same place inside a sandbox copy. */
  repoRelative: string;
}

const HINT = "Paths in a run record are relative to the record's folder and must stay inside the repository.";

/** Whether a path from `path.relative` leads out of its root (`..`, `../x`, another drive); `..cache` stays inside. */
export function leadsOutside(relative: string): boolean {
  return relative === '..' || relative.startsWith(`..${path.sep}`) || path.isAbsolute(relative);
}

/** Whether `candidate` is `root` or lies below it (paths as given: resolve links first where they matter). */
export function isInside(root: string, candidate: string): boolean {
  return !leadsOutside(path.relative(root, candidate));
}

/** Whether a repository-relative path (with `/`) is one of `entries` (files or folders) or lies below one of them. */
export function isUnderAny(file: string, entries: readonly string[]): boolean {
  return entries.some((entry) => file === entry || file.startsWith(`${entry}/`));
}

/** A path's real path as far as it exists, and whether it exists whole (a missing part is joined as written). */
export interface ExistingPart {
  real: string;
  complete: boolean;
}

/** Real paths of folders, memoized across the paths of one record. */
export type FolderRealPaths = Map<string, Promise<ExistingPart>>;

/** `target` below a folder resolved as `parent`: looked up only when that folder exists whole. */
function belowFolder(target: string, parent: ExistingPart): Promise<ExistingPart> {
  const joined = { real: path.join(parent.real, path.basename(target)), complete: false };
  // Under a missing folder nothing exists to resolve (and a failed lookup costs an error object each).
  if (!parent.complete) return Promise.resolve(joined);
  return realpath(target).then((resolved) => ({ real: resolved, complete: true }), () => joined);
}

/**
 * The deepest existing ancestor's real path, so not-yet-produced artifacts are checked too. Folders are resolved
 * first, once each: 10,000 artifacts in a folder not yet produced cost one lookup, not 10,000 failing ones. The
 * ancestors are chained in a loop, not a recursion: a path of thousands of parts costs no stack.
 */
function realPathOfExistingPart(target: string, folders: FolderRealPaths): Promise<ExistingPart> {
  const unresolved: string[] = [];
  let folder = path.dirname(target);
  while (!folders.has(folder) && path.dirname(folder) !== folder) {
    unresolved.push(folder);
    folder = path.dirname(folder);
  }
  let part = folders.get(folder) ?? Promise.resolve<ExistingPart>({ real: folder, complete: true });
  for (const ancestor of unresolved.reverse()) {
    part = part.then((parent) => belowFolder(ancestor, parent));
    folders.set(ancestor, part);
  }
  return part.then((parent) => belowFolder(target, parent));
}

const realRoots = new Map<string, Promise<string>>();

/** The repository's real path, resolved once however many paths a record has (10,000 artifacts is realistic). */
function realRootOf(repoRoot: string): Promise<string> {
  let real = realRoots.get(repoRoot);
  if (!real) {
    real = realpath(repoRoot);
    realRoots.set(repoRoot, real);
  }
  return real;
}

/**
 * Resolves a record path and proves it stays inside the repository: no absolute paths, no `..` escapes,
 * and no symlink (anywhere along the path) that leads outside.
 */
export async function resolveInside(
  recordDir: string,
  repoRoot: string,
  value: string,
  field: string,
  folders: FolderRealPaths = new Map(),
): Promise<ResolvedPath> {
  if (path.isAbsolute(value)) {
    throw new UserError(`"${value}" is an absolute path`, HINT, { field });
  }
  const absolute = path.resolve(recordDir, value);
  if (!isInside(repoRoot, absolute)) {
    throw new UserError(`"${value}" resolves outside the repository (${repoRoot})`, HINT, { field });
  }
  const realRoot = await realRootOf(repoRoot);
  if (!isInside(realRoot, (await realPathOfExistingPart(absolute, folders)).real)) {
    throw new UserError(`"${value}" is a symlink that leads outside the repository`, HINT, { field });
  }
  return { absolute, repoRelative: path.relative(repoRoot, absolute).split(path.sep).join('/') || '.' };
}
