import { REPORT_SCHEMA_VERSION, TOOL_NAME, TOOL_VERSION } from '../constants.js';
import { worstVerdict } from '../report/verdict-order.js';
import type { RecordReport, Report } from '../report/schema.js';
import { type VerifyOptions, verifyRecord } from './verify-record.js';

/**
 * Verifies records one after another: each rerun is a CPU-bound training that would only slow the others
 * down and interleave their live output; the work inside one record (hashing, venv, sandbox) runs in parallel.
 */
export async function verifyRecords(recordFiles: string[], options: VerifyOptions, now: () => Date = () => new Date()): Promise<Report> {
  const records = [];
  for (const file of recordFiles) records.push(await verifyRecord(file, options));
  return reportOf(records, now());
}

/** The report over these records' reports: their worst verdict is its verdict. */
export function reportOf(records: RecordReport[], createdAt: Date): Report {
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    tool: { name: TOOL_NAME, version: TOOL_VERSION },
    createdAt: createdAt.toISOString(),
    verdict: worstVerdict(records.map((record) => record.verdict)),
    records,
  };
}
