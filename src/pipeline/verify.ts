import { REPORT_SCHEMA_VERSION, TOOL_NAME, TOOL_VERSION } from '../constants.js';
import { worstVerdict } from '../report/verdict-order.js';
import type { RecordReport, Report } from '../report/schema.js';
import { RerunSlots } from './rerun-slots.js';
import { type VerifyOptions, verifyRecord } from './verify-record.js';

/**
 * Verifies records together: each is loaded and its data copied and hashed at once with the others', and their
 * reruns take turns (`options.jobs` at a time, one by default). The report lists them in the order given.
 */
export async function verifyRecords(recordFiles: string[], options: VerifyOptions & { jobs?: number }, now: () => Date = () => new Date()): Promise<Report> {
  // One record has nothing to share its turn with: its data is then copied and hashed in one pass.
  const rerunSlots = recordFiles.length > 1 ? new RerunSlots(options.jobs ?? 1) : undefined;
  const records = await Promise.all(recordFiles.map((file) => verifyRecord(file, { ...options, rerunSlots })));
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
