import { UserError } from '../errors.js';
import { readFileWithin } from '../read-bounded.js';
import { type Report, ReportSchema, type Verdict } from '../report/schema.js';
import { VERSION_MANIFEST_FILE, VERSION_RECORD_FILE } from './names.js';
import type { Promotion } from './promotion-log.js';
import { sourceRecord } from './source-record.js';
import type { ModelState } from './state.js';

// How a promoted version is verified: a verify report of its exact run.yaml (promote --report), a rerun of the record
// it was published from, or, for a rollback whose record is gone from the checkout, its earlier promotion.

export type Verification = { verdict: Verdict } | { rollbackOf: Promotion };

export interface VerificationRequest {
  registryDir: string;
  model: ModelState;
  version: string;
  alias: string;
  /** Earlier promotions whose verification stands (in a pull request, the base's). */
  trusted: readonly Promotion[];
  /** A `verify --json` report; without one, `rerun` verifies the record. */
  reportFile?: string;
  rerun: (recordFile: string) => Promise<Verdict>;
}

const MAX_REPORT_BYTES = 64 * 1024 * 1024;

async function verdictFromReport(reportFile: string, recordSha256: string, version: string): Promise<Verdict> {
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
  return verified.verdict;
}

export async function verifyVersion(request: VerificationRequest): Promise<Verification> {
  const { model, version, alias } = request;
  const state = model.versions.get(version)!;
  const recordSha256 = state.files.get(VERSION_RECORD_FILE)!;
  if (request.reportFile !== undefined) return { verdict: await verdictFromReport(request.reportFile, recordSha256, version) };
  let recordFile: string;
  try {
    recordFile = await sourceRecord(request.registryDir, model, version, recordSha256);
  } catch (error) {
    const rollbackOf = request.trusted.findLast((promotion) => promotion.alias === alias && promotion.to === version && promotion.version_sha256 === state.checksumSha256);
    if (error instanceof UserError && rollbackOf) return { rollbackOf };
    throw error;
  }
  return { verdict: await request.rerun(recordFile) };
}
