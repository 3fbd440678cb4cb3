import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { compareRecordVersions } from '../compare/loosening.js';
import { UserError } from '../errors.js';
import { findRepoRoot, listFilesAtCommit, readFileAtCommit, resolveCommit } from '../git.js';
import { parseSource } from '../record/locate.js';
import { readRecordText } from '../record/read-text.js';
import type { Loosened, Report, Rerecorded } from '../report/schema.js';

// The git edge of the loosening check, shared by `verify --base` and the action on pull requests: each record as
// it is now against its version at the base commit. Only reads: `git show`, `git ls-tree`, `git rev-parse`.

export interface BaseRef {
  /** What git resolves: a branch, a tag or a commit. */
  ref: string;
  /** How the report names the base, when not by `ref` (a pull request's base branch). */
  label?: string;
  /** How to get a base the clone lacks, given with the error. */
  fetchHint: string;
}

export interface RecordChangesSince {
  base: NonNullable<Report['base']>;
  loosened: Loosened[];
  rerecorded: Rerecorded[];
  /** The record files given that exist at the base but no longer now: nothing to verify, their deletion is the finding. */
  deleted: string[];
  /** The record files given whose text differs from the base (or that the base lacks): `rerun: affected` reruns them. */
  changed: string[];
}

const exists = (file: string) => stat(file).then(() => true, () => false);

/** The record's repository and its path there, also for a record (or a folder) that no longer exists. */
async function locateRecordFile(file: string): Promise<{ repoRoot: string; recordPath: string }> {
  const absolute = path.resolve(file);
  let existing = path.dirname(absolute);
  while (!(await exists(existing)) && path.dirname(existing) !== existing) existing = path.dirname(existing);
  const realDir = await realpath(existing);
  const root = await findRepoRoot(realDir);
  if (!root) {
    throw new UserError(`run record ${file} is not inside a git repository, so it has no version at a base to compare with`, 'Run inside the repository, or drop --base.', { file });
  }
  const repoRoot = await realpath(root);
  const recordPath = path.relative(repoRoot, path.join(realDir, path.relative(existing, absolute))).split(path.sep).join('/');
  return { repoRoot, recordPath };
}

/** Parsed YAML; an unreadable or invalid file reads as null (compared leniently, it holds nothing to loosen). */
function parseLeniently(text: string): unknown {
  try {
    const parsed = parseSource(text);
    return 'source' in parsed ? parsed.source.value : null;
  } catch {
    return null;
  }
}

/** The record's text in the checkout; undefined when it is gone. */
async function currentText(file: string): Promise<string | undefined> {
  if (!(await exists(file))) return undefined;
  // Bounded like every record read: a 49 MB record or a FIFO is the same clear error here as in verify.
  return readRecordText(file, file);
}

/** Resolves the base once per repository; a base the clone lacks is an error, since nothing could be compared. */
class BaseCommits {
  private readonly commits = new Map<string, Promise<string>>();

  constructor(private readonly base: BaseRef) {}

  commitIn(repoRoot: string): Promise<string> {
    let commit = this.commits.get(repoRoot);
    if (!commit) {
      commit = resolveCommit(repoRoot, this.base.ref).then((resolved) => {
        if (resolved) return resolved;
        throw new UserError(`the base ${this.base.ref} to compare the run records with is not a commit in this clone`, this.base.fetchHint);
      });
      this.commits.set(repoRoot, commit);
    }
    return commit;
  }

  /** The base as the report names it: resolved in the first repository asked about (the current folder's when none was). */
  async describe(): Promise<NonNullable<Report['base']>> {
    const first = this.commits.values().next().value ?? this.commitIn((await findRepoRoot(process.cwd())) ?? process.cwd());
    return { ref: this.base.label ?? this.base.ref, commit: await first };
  }
}

/** Each record file (relative to the current folder) against its version at the base. */
export async function recordChangesSince(recordFiles: string[], base: BaseRef): Promise<RecordChangesSince> {
  const commits = new BaseCommits(base);
  const loosened: Loosened[] = [];
  const rerecorded: Rerecorded[] = [];
  const deleted: string[] = [];
  const changed: string[] = [];
  for (const file of recordFiles) {
    const { repoRoot, recordPath } = await locateRecordFile(file);
    const commit = await commits.commitIn(repoRoot);
    const baseText = await readFileAtCommit(repoRoot, commit, recordPath);
    const current = await currentText(file);
    if (baseText !== undefined && current === undefined) deleted.push(file);
    if (current !== undefined && baseText !== current) changed.push(file);
    // The same text holds the same values: parsing a record of thousands of learned files twice would cost seconds.
    if (current !== undefined && baseText === current) continue;
    const changes = compareRecordVersions(baseText === undefined ? undefined : parseLeniently(baseText), current === undefined ? undefined : parseLeniently(current), recordPath);
    loosened.push(...changes.loosened.map((finding) => ({ recordPath, ...finding })));
    if (changes.rerecorded.length > 0) rerecorded.push({ recordPath, changes: changes.rerecorded });
  }
  return { base: await commits.describe(), loosened, rerecorded, deleted, changed };
}

const SKIPPED_FOLDERS = new Set(['node_modules', '.git']);

/**
 * Records matching the patterns (paths or globs relative to the current folder, as the action's `records` input)
 * that exist at the base but not in the checkout: a deleted record cannot be found by a glob over the working tree.
 */
export async function deletedRecordsMatching(patterns: string[], base: BaseRef): Promise<string[]> {
  const cwd = await realpath(process.cwd());
  const root = await findRepoRoot(cwd);
  if (!root) return [];
  const repoRoot = await realpath(root);
  const commit = await new BaseCommits(base).commitIn(repoRoot);
  const prefix = path.relative(repoRoot, cwd).split(path.sep).join('/');
  const normalized = patterns.map((pattern) => path.posix.normalize(pattern.replace(/\\/g, '/')));
  const candidates = (await listFilesAtCommit(repoRoot, commit))
    .filter((file) => !prefix || file.startsWith(`${prefix}/`))
    .map((file) => (prefix ? file.slice(prefix.length + 1) : file))
    .filter((file) => !file.split('/').some((part) => SKIPPED_FOLDERS.has(part)))
    // A pattern that names a file literally matches it, glob characters and all (as the records input treats it).
    .filter((file) => normalized.some((pattern) => pattern === file || path.matchesGlob(file, pattern)));
  const gone: string[] = [];
  for (const file of candidates) if (!(await exists(file))) gone.push(file);
  return gone;
}

/** The report with the comparison against the base attached. */
export function withRecordChanges(report: Report, changes: RecordChangesSince): Report {
  return { ...report, base: changes.base, loosened: changes.loosened, rerecorded: changes.rerecorded };
}
