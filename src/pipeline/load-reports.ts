import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../errors.js';
import { formatFieldPath } from '../record/locate.js';
import { type Report, ReportSchema } from '../report/schema.js';

// Reports to merge come from other jobs, possibly from a fork's pull request: untrusted input, capped and validated.

const MAX_REPORT_BYTES = 5 * 1024 * 1024;
const MAX_REPORT_FILES = 200;

async function reportFilesIn(target: string): Promise<string[]> {
  if (!(await stat(target)).isDirectory()) return [target];
  const entries = await readdir(target, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile() && entry.name.endsWith('.json'))
    .map((entry) => path.join(entry.parentPath, entry.name))
    .sort();
}

async function readReport(file: string): Promise<Report> {
  const { size } = await stat(file);
  if (size > MAX_REPORT_BYTES) {
    throw new UserError(`report ${file} is ${size} bytes, over the ${MAX_REPORT_BYTES}-byte limit`, 'Only pass report.json files written by `repro-gate verify --json`.');
  }
  let value: unknown;
  try {
    value = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new UserError(`report ${file} is not valid JSON: ${(error as Error).message}`, 'Only pass report.json files written by `repro-gate verify --json`.');
  }
  const result = ReportSchema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new UserError(
      `report ${file} was rejected: ${formatFieldPath(issue.path) || '(top level)'}: ${issue.message}`,
      'Reports must match the report schema exactly (no unknown or oversized fields); regenerate it with `repro-gate verify --json`.',
    );
  }
  return result.data;
}

/**
 * Reads every report under the given files or folders. Zero reports is an error (nothing was checked) unless
 * the caller knows which records to expect: then each missing one becomes an error record in the merge.
 */
export async function loadReports(targets: string[], options: { allowNone?: boolean } = {}): Promise<Report[]> {
  const files: string[] = [];
  for (const target of targets) {
    try {
      files.push(...(await reportFilesIn(target)));
    } catch {
      if (options.allowNone) continue;
      throw new UserError(`reports path ${target} does not exist`, 'Point it at the folder the report artifacts were downloaded to.');
    }
  }
  if (files.length === 0 && !options.allowNone) throw new UserError(`no report .json files found in ${targets.join(', ')}`, 'Did the reproduce jobs upload their reports?');
  if (files.length > MAX_REPORT_FILES) throw new UserError(`${files.length} report files found; at most ${MAX_REPORT_FILES} are merged`, 'Split the records across workflows.');
  return Promise.all(files.map(readReport));
}
