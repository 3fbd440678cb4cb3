import { REPORT_SCHEMA_VERSION, TOOL_NAME, TOOL_VERSION } from '../constants.js';
import type { Report } from './schema.js';
import { worstVerdict } from './verdict-order.js';

/** Pure: one report from many (one per matrix job), records in a stable order, the verdict recomputed. */
export function mergeReports(reports: Report[], createdAt: string): Report {
  const records = reports
    .flatMap((report) => report.records)
    .sort((a, b) => (a.recordPath === b.recordPath ? a.name.localeCompare(b.name) : a.recordPath < b.recordPath ? -1 : 1));
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    tool: { name: TOOL_NAME, version: TOOL_VERSION },
    createdAt,
    verdict: worstVerdict(records.map((record) => record.verdict)),
    records,
  };
}
