import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../errors.js';
import { FileTooLargeError, NotARegularFileError, readFileWithin } from '../read-bounded.js';
import { formatFieldPath } from '../record/locate.js';
import { type Report, ReportSchema } from '../report/schema.js';

// Reports to merge come from other jobs, possibly from a fork's pull request: untrusted input, capped and validated.

// A report keeps every metric's verdict: one with 10k metrics is about 2.5 MB as verify writes it, so 64 MiB holds
// some 250k. The total bounds the memory a merge of many reports (possibly from a fork) may take.
const MAX_REPORT_BYTES = 64 * 1024 * 1024;
const MAX_TOTAL_REPORT_BYTES = 256 * 1024 * 1024;
const MAX_REPORT_FILES = 200;

async function reportFilesIn(target: string): Promise<string[]> {
  if (!(await stat(target)).isDirectory()) return [target];
  const entries = await readdir(target, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile() && entry.name.endsWith('.json'))
    .map((entry) => path.join(entry.parentPath, entry.name))
    .sort();
}

/** The report's bytes: a FIFO or a link to a device (a fork can upload either) is refused, never waited on or read forever. */
async function readReportBytes(file: string): Promise<Buffer> {
  try {
    return await readFileWithin(file, MAX_REPORT_BYTES);
  } catch (error) {
    if (error instanceof FileTooLargeError) {
      throw new UserError(
        `report ${file} is ${error.size} bytes, over the ${MAX_REPORT_BYTES}-byte limit`,
        'Only pass report.json files written by `repro-gate verify --json`; one this large holds hundreds of thousands of metrics, so record fewer per model.',
      );
    }
    if (error instanceof NotARegularFileError) throw new UserError(`report ${file} is not a regular file`, 'Only pass report.json files written by `repro-gate verify --json`.');
    throw new UserError(`report ${file} could not be read: ${(error as Error).message}`, 'Only pass report.json files written by `repro-gate verify --json`.');
  }
}

async function readReport(file: string): Promise<Report> {
  const bytes = await readReportBytes(file);
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
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
  const sizes = await Promise.all(files.map(async (file) => (await stat(file)).size));
  const total = sizes.reduce((sum, size) => sum + size, 0);
  if (total > MAX_TOTAL_REPORT_BYTES) {
    throw new UserError(`the ${files.length} reports hold ${total} bytes in all, over the ${MAX_TOTAL_REPORT_BYTES}-byte limit of one merge`, 'Split the records across workflows, or record fewer metrics per model.');
  }
  return Promise.all(files.map(readReport));
}
