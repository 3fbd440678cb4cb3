import { mkdtemp, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeAttestation } from '../attest/write-attestation.js';
import { ExitCode } from '../constants.js';
import { defaultCacheRoot } from '../environment/index.js';
import { UserError } from '../errors.js';
import { exitCodeFor } from '../pipeline/exit-code.js';
import { recordChangesSince, withRecordChanges } from '../pipeline/loosening.js';
import { verifyRecords } from '../pipeline/verify.js';
import { writeReports } from '../pipeline/write-reports.js';
import { renderTerminal } from '../report/terminal.js';
import { numberFlag, parseCommandLine } from './parse-args.js';
import { checkVerifyRuns } from '../pipeline/verify-record.js';
import { parseVaryList, variation } from '../rerun/variations/variations.js';
import { terminalHooks } from './terminal-hooks.js';
import { USAGE_HINT } from './usage.js';

/** Reruns at once: beyond a few, trainings only fight over the cores. */
const MAX_JOBS = 64;
const FETCH_HINT = 'Fetch it first (`git fetch origin <branch>`; in a shallow clone `git fetch --unshallow`), or name a commit this clone has.';

/** `--at head|recorded`: whether to rerun each record's recorded commit. */
function atRecordedFlag(at: string | undefined, affected: boolean): boolean {
  if (at === undefined || at === 'head') return false;
  if (at !== 'recorded') throw new UserError(`--at ${at} must be head or recorded`, 'head reruns the working tree\'s code (the default); recorded reruns the code of each record\'s code.commit.');
  if (affected) throw new UserError('--at recorded and --affected exclude each other', '--affected decides from what changed since the recorded commit; --at recorded reruns that commit itself, so every record is rerun.');
  return true;
}

export async function runVerifyCommand(args: string[], stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream): Promise<number> {
  const { values, positionals } = parseCommandLine(args, {
    json: { type: 'string' },
    markdown: { type: 'string' },
    python: { type: 'string' },
    'evidence-dir': { type: 'string' },
    'keep-artifacts': { type: 'boolean' },
    baseline: { type: 'string' },
    base: { type: 'string' },
    'fail-on-loosened': { type: 'boolean' },
    runs: { type: 'string' },
    vary: { type: 'string' },
    affected: { type: 'boolean' },
    all: { type: 'boolean' },
    jobs: { type: 'string' },
    at: { type: 'string' },
  });
  if (values.affected && values.all) throw new UserError('--affected and --all exclude each other', '--affected skips records none of whose inputs changed; --all (the default) reruns every record.');
  const runs = numberFlag(values.runs, '--runs');
  const jobs = numberFlag(values.jobs, '--jobs');
  if (jobs !== undefined && (!Number.isSafeInteger(jobs) || jobs < 1 || jobs > MAX_JOBS)) {
    throw new UserError(`--jobs ${values.jobs} must be a whole number from 1 to ${MAX_JOBS}`, 'Example: --jobs 2 reruns two records at once.');
  }
  checkVerifyRuns(runs);
  const atRecorded = atRecordedFlag(values.at, values.affected ?? false);
  const vary = values.vary === undefined ? [] : parseVaryList(values.vary).map((name) => variation(name));
  if (positionals.length === 0) throw new UserError('verify needs at least one run record', USAGE_HINT);
  if (values.base === '') throw new UserError('--base needs a git ref (a branch, tag or commit)', USAGE_HINT);
  if (values['fail-on-loosened'] && values.base === undefined) throw new UserError('--fail-on-loosened needs --base REF to compare the records with', USAGE_HINT);
  // A mistyped folder would silently mean "no baseline": numeric artifacts would drift for want of one.
  if (values.baseline !== undefined && !(await stat(values.baseline).then((info) => info.isDirectory(), () => false))) {
    throw new UserError(`--baseline ${values.baseline} is not a folder`, 'Point it at a folder holding the recorded artifacts at their paths (or unpacked evidence artifacts).');
  }
  // Compared with the base first: a base missing from the clone fails before any training starts.
  const changes = values.base === undefined ? undefined : await recordChangesSince(positionals, { ref: values.base, fetchHint: FETCH_HINT });
  const evidenceDir = values['evidence-dir'] ?? (await mkdtemp(path.join(tmpdir(), 'repro-gate-evidence-')));
  // A record deleted since the base has nothing to rerun: its deletion is the finding.
  const verified = await verifyRecords(positionals.filter((file) => !changes?.deleted.includes(file)), {
    python: values.python ?? 'python3',
    cacheRoot: defaultCacheRoot(),
    evidenceDir,
    keepArtifacts: values['keep-artifacts'] ?? false,
    baselineDir: values.baseline,
    runs,
    vary,
    affectedOnly: values.affected ?? false,
    atRecorded,
    changedRecords: changes ? new Set(changes.changed) : undefined,
    hooks: terminalHooks(stderr),
    jobs,
  });
  const report = changes ? withRecordChanges(verified, changes) : verified;
  await writeReports(report, { json: values.json, markdown: values.markdown });
  const attestation = await writeAttestation(report, { evidenceDir, recordFiles: positionals });
  for (const warning of attestation.warnings) stderr.write(`warning: ${warning}\n`);
  const color = 'isTTY' in stdout && Boolean(stdout.isTTY) && !process.env.NO_COLOR;
  stdout.write(`${renderTerminal(report, { color })}\n`);
  stderr.write(`Logs and evidence: ${evidenceDir}\n`);
  if ('statement' in attestation) stderr.write(`Verification statement: ${attestation.statement} (subjects: ${attestation.checksums})\n`);
  const loosened = values['fail-on-loosened'] === true && (report.loosened?.length ?? 0) > 0;
  return loosened ? Math.max(exitCodeFor(report.verdict), ExitCode.Drift) : exitCodeFor(report.verdict);
}
