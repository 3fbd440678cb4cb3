import { TOOL_NAME, TOOL_VERSION } from '../constants.js';
import { worstVerdict } from '../report/verdict-order.js';
import type { ArtifactCheck, RecordReport, Report, Verdict } from '../report/schema.js';
import { PROVENANCE_EXTENSION, STATEMENT_TYPE, VERIFIER_ID, VSA_PREDICATE_TYPE } from './names.js';

// Pure: a verify's report as an in-toto Statement v1 whose predicate is a SLSA Verification Summary (VSA v1).
// Only records that were rerun are verified: an `unaffected` record (not rerun) is never a subject, and a statement
// over none is not made at all.

export type DigestSet = { sha256: string } | { dirHash1: string };

export interface Subject {
  name: string;
  digest: DigestSet;
}

/** A ResourceDescriptor naming what the subjects were verified against: the run record (or the list of them). */
export interface PolicyDescriptor {
  uri: string;
  digest: { sha256: string };
}

export interface StatementContext {
  /** The repository and commit whose code ran, e.g. `git+https://github.com/acme/models@<sha>`. */
  resourceUri: string;
  policy: PolicyDescriptor;
}

export interface VerificationStatement {
  statement: Record<string, unknown>;
  predicate: Record<string, unknown>;
  subjects: Subject[];
}

const PASSING: ReadonlySet<Verdict> = new Set(['reproduced', 'within-tolerance']);

/** The records a statement speaks for: every one that was rerun or failed trying (an `error` is a FAILED verification). */
export function verifiedRecords(report: Report): RecordReport[] {
  return report.records.filter((record) => record.verdict !== 'unaffected');
}

/** A `within` artifact is attested as the bytes the rerun produced; any other as the bytes the record names. */
export function attestedDigest(artifact: ArtifactCheck): string {
  return artifact.status === 'within' && artifact.actual !== null ? artifact.actual : artifact.recorded;
}

function artifactSubject(artifact: ArtifactCheck): Subject {
  const hex = attestedDigest(artifact);
  return { name: artifact.path, digest: artifact.kind === 'directory' ? { dirHash1: hex } : { sha256: hex } };
}

/**
 * What the verification speaks for: an artifact that gates (a `report` one is shown, never checked) and that the rerun
 * produced (a missing one's digest could not even say whether it is a folder).
 */
export const isAttested = (artifact: ArtifactCheck) => artifact.policy !== 'report' && artifact.status !== 'missing';

/** One subject per attested artifact; a record without any (metrics only, or one that failed early) is named by its record file. */
export function subjectsOf(records: readonly RecordReport[]): Subject[] {
  const subjects = new Map<string, Subject>();
  for (const record of records) {
    const attested = record.artifacts.filter(isAttested);
    const own = attested.length > 0 ? attested.map(artifactSubject) : record.recordSha256 ? [{ name: record.recordPath, digest: { sha256: record.recordSha256 } }] : [];
    for (const subject of own) subjects.set(`${subject.name}\0${JSON.stringify(subject.digest)}`, subject);
  }
  return [...subjects.values()];
}

/** What repro-gate found, per record: the evidence behind the VSA's one-word result (documented in docs/provenance.md). */
function recordEvidence(record: RecordReport): Record<string, unknown> {
  const environment = record.environment;
  const packages = environment?.packages;
  return {
    name: record.name,
    recordPath: record.recordPath,
    ...(record.recordSha256 ? { recordSha256: record.recordSha256 } : {}),
    verdict: record.verdict,
    ...(record.error ? { error: record.error.message } : {}),
    ...(record.code?.recordedCommit ? { recordedCommit: record.code.recordedCommit } : {}),
    ...(record.code?.currentCommit && !record.code.ranAt ? { headCommit: record.code.currentCommit } : {}),
    ...(record.code?.ranAt ? { ranAt: record.code.ranAt } : {}),
    inputs: record.inputs.filter((input) => input.kind !== 'code').map((input) => ({ kind: input.kind, path: input.path, sha256: input.recorded, actual: input.actual, status: input.status })),
    artifacts: record.artifacts.map((artifact) => ({
      path: artifact.path,
      ...(artifact.kind ? { kind: artifact.kind } : {}),
      policy: artifact.policy ?? 'exact',
      recorded: artifact.recorded,
      rerun: artifact.actual,
      status: artifact.status,
    })),
    metrics: record.metrics.map((metric) => ({ name: metric.name, recorded: metric.recorded, rerun: metric.rerun, tolerance: metric.tolerance, status: metric.status })),
    thresholds: record.thresholds.map(({ metric, min, max, value, status }) => ({ metric, min, max, value, status })),
    ...(environment
      ? {
          environment: {
            python: environment.python.actual,
            platform: environment.platform.actual,
            ...(environment.venv ? { venv: environment.venv.key, installer: environment.venv.installer ?? 'pip' } : {}),
            ...(packages ? { packagesChanged: packages.changed.length + packages.added.length + packages.removed.length, packagesUnchanged: packages.unchanged } : {}),
          },
        }
      : {}),
  };
}

/** The statement and its predicate (what `actions/attest` takes as `predicate-path`); undefined when nothing was verified. */
export function verificationStatement(report: Report, context: StatementContext): VerificationStatement | undefined {
  const records = verifiedRecords(report);
  const subjects = subjectsOf(records);
  if (records.length === 0 || subjects.length === 0) return undefined;
  const verdict = worstVerdict(records.map((record) => record.verdict));
  const passed = PASSING.has(verdict);
  const predicate = {
    verifier: { id: VERIFIER_ID, version: { [TOOL_NAME]: TOOL_VERSION } },
    timeVerified: report.createdAt,
    resourceUri: context.resourceUri,
    policy: context.policy,
    verificationResult: passed ? 'PASSED' : 'FAILED',
    // Custom levels (the spec forbids the SLSA_ prefix for them): repro-gate checks reproducibility, not a build track.
    verifiedLevels: passed ? [verdict === 'reproduced' ? 'REPRO_GATE_REPRODUCED' : 'REPRO_GATE_WITHIN_TOLERANCE'] : ['FAILED'],
    [PROVENANCE_EXTENSION]: { verdict, records: records.map(recordEvidence) },
  };
  const statement = { _type: STATEMENT_TYPE, subject: subjects, predicateType: VSA_PREDICATE_TYPE, predicate };
  return { statement, predicate, subjects };
}
