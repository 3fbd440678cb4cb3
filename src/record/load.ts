import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import type { z } from 'zod';
import { PYPROJECT_NAME } from '../constants.js';
import { UserError } from '../errors.js';
import { mapConcurrently } from '../map-concurrently.js';
import { findRepoRoot } from '../git.js';
import { type FieldPath, formatFieldPath, type ParsedSource, parseSource } from './locate.js';
import { type FolderRealPaths, type ResolvedPath, resolveInside } from './paths.js';
import { readRecordFile } from './read-text.js';
import { type RunRecord, RunRecordSchema } from './schema.js';

export interface LoadedRecord {
  record: RunRecord;
  /** Absolute path of the record file. */
  file: string;
  /** The record's folder: every path in it is relative to this. */
  dir: string;
  /** Git top level, or the record's folder outside git. */
  repoRoot: string;
  isGitRepo: boolean;
  /** The record file relative to the repository root, with `/` (how reports and annotations name it). */
  recordPath: string;
  /** The sha256 of the record file's bytes. */
  sha256: string;
  paths: RecordPaths;
  lineOf(path: FieldPath): number | undefined;
}

export interface LockfilePaths<P extends ResolvedPath = ResolvedPath> {
  lock: P;
  pyproject: P;
}

/** A uv project's lock and pyproject.toml: copied into the sandbox even when git does not track them, since uv syncs from there. */
export function lockfileFiles<P extends ResolvedPath>(lockfile: LockfilePaths<P> | undefined): P[] {
  return lockfile ? [lockfile.lock, lockfile.pyproject] : [];
}

export interface RecordPaths {
  workdir: ResolvedPath;
  requirements?: ResolvedPath;
  /** A uv project's lock (`environment.lockfile`), and the pyproject.toml beside it. */
  lockfile?: LockfilePaths;
  config: ResolvedPath[];
  data: Array<{ data: ResolvedPath; manifest?: ResolvedPath }>;
  artifacts: ResolvedPath[];
  metrics?: ResolvedPath;
  /** `code.files`, which are relative to the repository root (not to the record). */
  codeFiles: ResolvedPath[];
}

const MAX_LISTED_PROBLEMS = 20;
const SCHEMA_HINT = 'See the run record format in the README, or point your editor at schema/run-record.v1.json.';

function describeIssue(issue: z.core.$ZodIssue): { path: FieldPath; message: string } {
  if (issue.code === 'unrecognized_keys') {
    const [first] = issue.keys;
    return {
      path: [...issue.path, first ?? ''],
      message: `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')} (typo?)`,
    };
  }
  if (issue.code === 'invalid_type' && issue.path.length === 0 && (issue.input === undefined || issue.input === null)) {
    return { path: [], message: 'the run record is empty: it must be a mapping with at least version, name and command' };
  }
  // A field that is there but wrong (`.nan` for a number) gets the schema's own message, not "is required".
  if (issue.code === 'invalid_type' && (issue.input === undefined || issue.input === null)) {
    return { path: issue.path, message: `is required (${issue.expected})` };
  }
  return { path: issue.path, message: issue.message };
}

function validate(source: ParsedSource, file: string): RunRecord {
  const result = RunRecordSchema.safeParse(source.value, { reportInput: true });
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const { path: fieldPath, message } = describeIssue(issue);
    const line = source.lineOf(fieldPath);
    const field = formatFieldPath(fieldPath) || '(top level)';
    return { line, field, message, text: `${file}${line ? `:${line}` : ''} ${field}: ${message}` };
  });
  const [first] = problems;
  // A record with thousands of bad values names the first ones and counts the rest: the message stays readable and bounded.
  const listed = problems.slice(0, MAX_LISTED_PROBLEMS).map((p) => `  ${p.text}`);
  if (problems.length > listed.length) listed.push(`  … and ${problems.length - listed.length} more`);
  const detail = problems.length > 1 ? `\n${listed.join('\n')}` : '';
  throw new UserError(
    problems.length > 1 ? `invalid run record (${problems.length} problems):${detail}` : `${first?.message}`,
    SCHEMA_HINT,
    problems.length > 1 ? { file } : { file, field: first?.field, line: first?.line },
  );
}

async function resolvePaths(
  record: RunRecord,
  dir: string,
  repoRoot: string,
  where: (fieldPath: FieldPath) => { file: string; line?: number },
): Promise<RecordPaths> {
  const folders: FolderRealPaths = new Map();
  const resolve = async (value: string, fieldPath: FieldPath, from = dir) => {
    const field = formatFieldPath(fieldPath);
    try {
      return await resolveInside(from, repoRoot, value, field, folders);
    } catch (error) {
      if (!(error instanceof UserError)) throw error;
      const { file, line } = where(fieldPath);
      throw new UserError(error.message, error.hint, { file, field, line });
    }
  };
  const lockfile = record.environment?.lockfile;
  const [workdir, requirements, lock, pyproject, config, data, artifacts, metrics, codeFiles] = await Promise.all([
    resolve(record.workdir ?? '.', ['workdir']),
    record.environment?.requirements ? resolve(record.environment.requirements, ['environment', 'requirements']) : undefined,
    lockfile ? resolve(lockfile, ['environment', 'lockfile']) : undefined,
    lockfile ? resolve(path.posix.join(path.posix.dirname(lockfile), PYPROJECT_NAME), ['environment', 'lockfile']) : undefined,
    mapConcurrently(record.config ?? [], (entry, i) => resolve(entry.path, ['config', i, 'path'])),
    mapConcurrently(record.data ?? [], async (entry, i) => ({
      data: await resolve(entry.path, ['data', i, 'path']),
      manifest: entry.manifest ? await resolve(entry.manifest, ['data', i, 'manifest']) : undefined,
    })),
    mapConcurrently(record.artifacts ?? [], (entry, i) => resolve(entry.path, ['artifacts', i, 'path'])),
    record.metrics ? resolve(record.metrics.path, ['metrics', 'path']) : undefined,
    mapConcurrently(record.code?.files ?? [], (entry, i) => resolve(entry.path, ['code', 'files', i, 'path'], repoRoot)),
  ]);
  const workdirStats = await stat(workdir.absolute).catch(() => undefined);
  if (workdirStats && !workdirStats.isDirectory()) {
    const { file, line } = where(['workdir']);
    throw new UserError(`workdir ${workdir.repoRelative} is a file, not a folder`, 'Point `workdir` at the folder the command runs in.', { file, field: 'workdir', line });
  }
  if (pyproject && !(await stat(pyproject.absolute).then((info) => info.isFile(), () => false))) {
    const { file, line } = where(['environment', 'lockfile']);
    throw new UserError(`${pyproject.repoRelative} is missing: a uv lockfile is synced with the pyproject.toml beside it`, 'Commit the project\'s pyproject.toml next to uv.lock, or point environment.lockfile at the uv.lock that has one.', { file, field: 'environment.lockfile', line });
  }
  return { workdir, requirements, ...(lock && pyproject ? { lockfile: { lock, pyproject } } : {}), config, data, artifacts, metrics, codeFiles };
}

/** Reads, validates and resolves a run record. Every problem is a UserError naming the field and line. */
export async function loadRecord(recordFile: string): Promise<LoadedRecord> {
  const file = path.resolve(recordFile);
  const { text, sha256 } = await readRecordFile(file, recordFile);
  const parsed = parseSource(text);
  if ('problem' in parsed) {
    throw new UserError(parsed.problem.message, parsed.problem.hint, { file: recordFile, line: parsed.problem.line });
  }
  const record = validate(parsed.source, recordFile);
  const dir = await realpath(path.dirname(file));
  const gitRoot = await findRepoRoot(dir);
  const repoRoot = gitRoot ? await realpath(gitRoot) : dir;
  const paths = await resolvePaths(record, dir, repoRoot, (fieldPath) => ({
    file: recordFile,
    line: parsed.source.lineOf(fieldPath),
  }));
  return {
    record,
    file: path.join(dir, path.basename(file)),
    dir,
    repoRoot,
    isGitRepo: gitRoot !== undefined,
    recordPath: path.relative(repoRoot, path.join(dir, path.basename(file))).split(path.sep).join('/'),
    sha256,
    paths,
    lineOf: parsed.source.lineOf,
  };
}
