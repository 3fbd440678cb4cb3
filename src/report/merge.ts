import { REPORT_SCHEMA_VERSION, TOOL_NAME, TOOL_VERSION } from '../constants.js';
import type { Loosened, RecordReport, Report, Rerecorded } from './schema.js';
import { worstVerdict } from './verdict-order.js';

const normalize = (recordPath: string) => recordPath.replace(/\\/g, '/').replace(/^(\.\/)+/, '');

/** A record the workflow expected but no report covers: its job died before writing one. That must not read as a pass. */
function missingRecord(recordPath: string): RecordReport {
  return {
    name: recordPath,
    recordPath,
    verdict: 'error',
    error: {
      message: 'no report arrived for this record: its reproduce job failed or was cancelled before writing one',
      hint: "Open that record's reproduce job in this workflow run for the cause.",
    },
    inputs: [],
    artifacts: [],
    metrics: [],
    thresholds: [],
    causes: [],
    stages: [],
  };
}

/**
 * What every job found loosened, once each: jobs checking the same record against the same base agree.
 * Only present when some report compared against a base (a pull request), so a plain merge stays as it was.
 */
function mergeRecordChanges(reports: Report[]): Pick<Report, 'base' | 'loosened' | 'rerecorded'> {
  const compared = reports.filter((report) => report.base !== undefined || report.loosened !== undefined || report.rerecorded !== undefined);
  if (compared.length === 0) return {};
  const unique = <T>(items: T[]) => [...new Map(items.map((item) => [JSON.stringify(item), item])).values()];
  const byRecord = <T extends { recordPath: string }>(items: T[]) => items.sort((a, b) => (a.recordPath < b.recordPath ? -1 : a.recordPath > b.recordPath ? 1 : 0));
  const base = compared.find((report) => report.base)?.base;
  return {
    ...(base ? { base } : {}),
    loosened: byRecord(unique(compared.flatMap((report): Loosened[] => report.loosened ?? []))),
    rerecorded: byRecord(unique(compared.flatMap((report): Rerecorded[] => report.rerecorded ?? []))),
  };
}

/**
 * Pure: one report from many (one per matrix job), records in a stable order, the verdict recomputed.
 * Every expected record path without a report becomes an error record.
 */
export function mergeReports(reports: Report[], createdAt: string, expectedRecords: string[] = []): Report {
  const received = reports.flatMap((report) => report.records);
  const covered = new Set(received.map((record) => normalize(record.recordPath)));
  const missing = [...new Set(expectedRecords.map(normalize))].filter((recordPath) => recordPath && !covered.has(recordPath)).map(missingRecord);
  const records = [...received, ...missing]
    .sort((a, b) => (a.recordPath === b.recordPath ? a.name.localeCompare(b.name) : a.recordPath < b.recordPath ? -1 : 1));
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    tool: { name: TOOL_NAME, version: TOOL_VERSION },
    createdAt,
    verdict: worstVerdict(records.map((record) => record.verdict)),
    ...mergeRecordChanges(reports),
    records,
  };
}
