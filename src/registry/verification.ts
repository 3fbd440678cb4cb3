import { UserError } from '../errors.js';
import { readFileWithin } from '../read-bounded.js';
import { fromReportNumber, type RecordReport, type Report, ReportSchema } from '../report/schema.js';
import { VERSION_MANIFEST_FILE, VERSION_RECORD_FILE } from './names.js';
import type { Promotion } from './promotion-log.js';
import { sourceRecord } from './source-record.js';
import type { ModelState } from './state.js';

// How a promoted version is verified: a verify report of its exact run.yaml (promote --report), a rerun of the record
// it was published from, or, for a rollback whose record is gone from the checkout, its earlier promotion (which the
// policy accepts only where it asks no more than within-tolerance: the log does not say which verdict it had).

/** A verify verdict with the metrics the rerun measured (thresholds are judged on those), or a rollback's earlier promotion. */
export type Verification = { verdict: RecordReport['verdict']; metrics: Record<string, number> } | { rollbackOf: Promotion };

/** Verifies a record file of the checkout; its record's report. */
export type Rerun = (recordFile: string) => Promise<RecordReport>;

export interface VerificationRequest {
  registryDir: string;
  model: ModelState;
  version: string;
  alias: string;
  /** Earlier promotions whose verification stands (in a pull request, the base's). */
  trusted: readonly Promotion[];
  /** A `verify --json` report; without one, `rerun` verifies the record. */
  reportFile?: string;
  rerun: Rerun;
}

const MAX_REPORT_BYTES = 64 * 1024 * 1024;

async function recordFromReport(reportFile: string, recordSha256: string, version: string): Promise<RecordReport> {
  let report: Report;
  try {
    report = ReportSchema.parse(JSON.parse((await readFileWithin(reportFile, MAX_REPORT_BYTES)).toString('utf8')));
  } catch (error) {
    throw new UserError(`--report ${reportFile} is not a repro-gate report (${(error as Error).message.split('\n')[0]})`, 'Pass the report.json that `repro-gate verify --json FILE` wrote.');
  }
  const verified = report.records.find((record) => record.recordSha256 === recordSha256);
  if (verified === undefined) {
    throw new UserError(`--report ${reportFile} does not verify ${version}'s ${VERSION_RECORD_FILE} (sha256 ${recordSha256.slice(0, 12)}…)`, `Verify the record this version was published from (its path is in ${VERSION_MANIFEST_FILE}), or leave out --report to rerun it here.`);
  }
  return verified;
}

/** The verdict, and the metrics as the rerun measured them: a record's own tolerances must not lift a threshold. */
function verificationOf(record: RecordReport): Verification {
  const metrics: Record<string, number> = {};
  for (const metric of record.metrics) if (metric.rerun !== null && metric.status !== 'new') metrics[metric.name] = fromReportNumber(metric.rerun);
  return { verdict: record.verdict, metrics };
}

export async function verifyVersion(request: VerificationRequest): Promise<Verification> {
  const { model, version, alias } = request;
  const state = model.versions.get(version)!;
  const recordSha256 = state.files.get(VERSION_RECORD_FILE)!;
  if (request.reportFile !== undefined) return verificationOf(await recordFromReport(request.reportFile, recordSha256, version));
  let recordFile: string;
  try {
    recordFile = await sourceRecord(request.registryDir, model, version);
  } catch (error) {
    const rollbackOf = request.trusted.findLast((promotion) => promotion.alias === alias && promotion.to === version && promotion.version_sha256 === state.checksumSha256);
    if (error instanceof UserError && rollbackOf) return { rollbackOf };
    throw error;
  }
  return verificationOf(await request.rerun(recordFile));
}
