import { mergeReports } from '../report/merge.js';
import type { Report } from '../report/schema.js';
import { loadReports } from './load-reports.js';

/** The merge stage shared by `repro-gate merge` and the action's comment mode: untrusted files in, one validated report out. */
export async function mergeReportFiles(targets: string[], expectedRecords: string[]): Promise<Report> {
  const reports = await loadReports(targets, { allowNone: expectedRecords.length > 0 });
  return mergeReports(reports, new Date().toISOString(), expectedRecords);
}
