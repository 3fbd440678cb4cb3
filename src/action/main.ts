import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as core from '@actions/core';
import * as github from '@actions/github';
import { parseVaryList, variation } from '../rerun/variations/variations.js';
import { baseBranchOf, baseCommitOf } from '../baseline/base-branch.js';
import { downloadBaseline } from '../baseline/download-baseline.js';
import { REPORT_JSON_NAME, REPORT_MARKDOWN_NAME } from '../constants.js';
import { writeAttestation } from '../attest/write-attestation.js';
import { defaultCacheRoot } from '../environment/index.js';
import { describeError, UserError } from '../errors.js';
import { discoverRecords } from '../pipeline/discover.js';
import type { PipelineHooks } from '../pipeline/hooks.js';
import { withRecordChanges } from '../pipeline/loosening.js';
import { mergeReportFiles } from '../pipeline/merge.js';
import { reportOf, verifyRecords } from '../pipeline/verify.js';
import type { VerifyOptions } from '../pipeline/verify-record.js';
import { writeReports } from '../pipeline/write-reports.js';
import { ActionsVenvCache } from '../publish/venv-cache.js';
import type { Report } from '../report/schema.js';
import { actionsHooks } from './actions-hooks.js';
import { findRecords } from './find-records.js';
import { type ActionInputs, readActionInputs } from './inputs.js';
import { recordsWithChanges } from './loosening.js';
import { publishReport } from './publish.js';
import { runRegistryGate } from './registry-gate.js';

/** On pull requests, the base branch's evidence, for element-by-element comparison of numeric artifacts. */
async function preparedBaseline(inputs: ActionInputs, hooks: PipelineHooks): Promise<string | undefined> {
  const branch = baseBranchOf(github.context.eventName, github.context.payload);
  if (inputs.baseline === 'none' || branch === undefined) return undefined;
  return hooks.group(`baseline from ${branch}`, () =>
    downloadBaseline({
      token: inputs['github-token'],
      repository: github.context.repo,
      runId: github.context.runId,
      branch,
      baseCommit: baseCommitOf(github.context.eventName, github.context.payload),
      tempRoot: process.env.RUNNER_TEMP || tmpdir(),
      log: core,
    }),
  );
}

/** The verify options the inputs ask for; `changedRecords`: on a pull request, the records it edited (always rerun). */
function verifyOptions(inputs: ActionInputs, evidenceDir: string, hooks: PipelineHooks, changedRecords: ReadonlySet<string> | undefined): VerifyOptions {
  return {
    python: inputs.python,
    cacheRoot: defaultCacheRoot(),
    remoteCache: inputs.cache ? new ActionsVenvCache() : undefined,
    evidenceDir,
    keepArtifacts: inputs['upload-evidence'],
    hooks,
    runs: inputs.runs,
    vary: inputs.vary ? parseVaryList(inputs.vary).map((name) => variation(name)) : [],
    affectedOnly: inputs.rerun === 'affected',
    atRecorded: inputs.at === 'recorded',
    // A record the PR edited is always rerun: its learned hashes could have been edited too.
    changedRecords,
  };
}

interface Verified {
  report: Report;
  /** The record files verified; none when reports were merged. */
  records: string[];
}

async function verifiedReport(inputs: ActionInputs, evidenceDir: string): Promise<Verified> {
  // Compared with the base first: a base missing from the clone fails before any training starts.
  const { records, changes } = await recordsWithChanges(inputs.records, github.context.eventName, github.context.payload);
  const hooks = actionsHooks();
  const baselineDir = await preparedBaseline(inputs, hooks);
  const report = await verifyRecords(records, { ...verifyOptions(inputs, evidenceDir, hooks, changes && new Set(changes.changed)), baselineDir });
  return { report: changes ? withRecordChanges(report, changes) : report, records };
}

/**
 * `mode: audit`: every record at its recorded commit, in environments rebuilt from scratch: environments drift
 * without any commit (a yanked package, an index change), and a cached venv would hide exactly that.
 */
async function auditedReport(inputs: ActionInputs, evidenceDir: string): Promise<Verified> {
  const records = await findRecords(inputs.records);
  const freshCache = await mkdtemp(path.join(process.env.RUNNER_TEMP || tmpdir(), 'repro-gate-audit-venvs-'));
  const options = { ...verifyOptions(inputs, evidenceDir, actionsHooks(), undefined), cacheRoot: freshCache, remoteCache: undefined, atRecorded: true };
  return { report: await verifyRecords(records, options), records };
}

async function mergedReport(inputs: ActionInputs): Promise<Verified> {
  return { report: await mergeReportFiles([inputs.reports], inputs['expect-records']), records: [] };
}

/** The verification statement beside the reports (not for merged reports: each verifying job wrote its own). */
async function attestationOf(verified: Verified, evidenceDir: string): Promise<{ statement: string; predicate: string; checksums: string } | undefined> {
  if (verified.records.length === 0) return undefined;
  const written = await writeAttestation(verified.report, { evidenceDir, recordFiles: verified.records });
  for (const warning of written.warnings) core.warning(warning);
  return 'statement' in written ? written : undefined;
}

/**
 * `mode: discover`: the reusable workflow's matrix, one entry per record to rerun. With `rerun: affected`, the
 * records none of whose inputs changed get no entry; their `unaffected` report goes to `unaffected-report`.
 */
async function publishMatrix(inputs: ActionInputs, evidenceDir: string): Promise<void> {
  const hooks = actionsHooks();
  const affectedOnly = inputs.rerun === 'affected';
  const { records, changes } = affectedOnly ? await recordsWithChanges(inputs.records, github.context.eventName, github.context.payload) : { records: await findRecords(inputs.records), changes: undefined };
  const decide = affectedOnly ? verifyOptions(inputs, evidenceDir, hooks, changes && new Set(changes.changed)) : undefined;
  const { include, unaffected, problems } = await discoverRecords(records, decide);
  for (const problem of problems) core.warning(problem);
  core.info(`Found ${records.length} run record${records.length === 1 ? '' : 's'}: ${records.join(', ')}`);
  core.setOutput('matrix', JSON.stringify({ include }));
  core.setOutput('reruns', String(include.length));
  core.setOutput('records', records.join('\n'));
  if (unaffected.length > 0) {
    const file = path.join(evidenceDir, REPORT_JSON_NAME);
    await writeReports(reportOf(unaffected, new Date()), { json: file, markdown: path.join(evidenceDir, REPORT_MARKDOWN_NAME) });
    core.setOutput('unaffected-report', file);
  }
}

function enterWorkingDirectory(directory: string): void {
  try {
    process.chdir(directory);
  } catch {
    throw new UserError(`input "working-directory" ${directory} does not exist`, 'Point it at a folder of the checked-out repository.');
  }
}

/** The action's face over the core pipeline: verify (or merge) → write reports → publish. */
export async function run(): Promise<void> {
  try {
    const inputs = readActionInputs();
    enterWorkingDirectory(inputs['working-directory']);
    const evidenceDir = await mkdtemp(path.join(process.env.RUNNER_TEMP || tmpdir(), 'repro-gate-'));
    if (inputs.mode === 'discover') {
      await publishMatrix(inputs, evidenceDir);
      return;
    }
    if (inputs.mode === 'registry') {
      await runRegistryGate(inputs, verifyOptions(inputs, evidenceDir, actionsHooks(), undefined));
      return;
    }
    const verified = inputs.mode === 'comment' ? await mergedReport(inputs) : inputs.mode === 'audit' ? await auditedReport(inputs, evidenceDir) : await verifiedReport(inputs, evidenceDir);
    const files = { json: path.join(evidenceDir, REPORT_JSON_NAME), markdown: path.join(evidenceDir, REPORT_MARKDOWN_NAME) };
    await writeReports(verified.report, files);
    await publishReport(verified.report, inputs, { evidenceDir, ...files, attestation: await attestationOf(verified, evidenceDir) });
  } catch (error) {
    const { message, hint } = describeError(error);
    core.setOutput('verdict', 'error');
    core.setFailed(hint ? `${message}\n${hint}` : message);
  }
}
