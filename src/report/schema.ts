import { z } from 'zod';
import { MachineFingerprintSchema } from '../environment/machine/schema.js';
import { KILLED_COMMAND_MAX_CHARS, KILLED_LISTED_MAX, MAX_METRICS, REPORT_SCHEMA_VERSION } from '../constants.js';

// The report is what `verify --json` writes and what the action and the workflow merge.
// Reports from other jobs (or forks) are untrusted, so every object is strict and every size is capped.

const MAX_TEXT = 2_000;
/** What a free-text field holds at most; longer text (a long command) is cut to it when the report is made, not refused. */
export const REPORT_TEXT_MAX = MAX_TEXT;
const MAX_LOG = 16_000;
// Generous per list: every verdict is kept, a model can log hundreds of thousands of metrics. What bounds a
// report from another job is the size cap on its file (src/pipeline/load-reports.ts), checked before it is parsed.
const MAX_ITEMS = 1_000_000;
/** Every recorded metric and every new one, each side capped at MAX_METRICS by the record schema and the metrics reader. */
const MAX_METRIC_CHECKS = 2 * MAX_METRICS;
const MAX_DIFF = 20_000;

const Text = z.string().max(MAX_TEXT);
const Hash = z.string().regex(/^[0-9a-f]{64}$/);
// A 16 MiB record can have more than 16 million lines.
const Line = z.number().int().positive().max(100_000_000);
const Duration = z.number().nonnegative().max(1e10);

/** JSON cannot hold NaN or ±Infinity, so those travel as strings. */
export const ReportNumber = z.union([z.number(), z.enum(['NaN', 'Infinity', '-Infinity'])]);
export type ReportNumber = z.infer<typeof ReportNumber>;

export function toReportNumber(value: number): ReportNumber {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return 'Infinity';
  if (value === -Infinity) return '-Infinity';
  return value;
}

export function fromReportNumber(value: ReportNumber): number {
  return typeof value === 'number' ? value : Number(value);
}

/** unaffected: not rerun (`verify --affected`), since none of the record's inputs changed since it was recorded. */
export const VerdictSchema = z.enum(['reproduced', 'within-tolerance', 'drift', 'error', 'unaffected']);
export type Verdict = z.infer<typeof VerdictSchema>;

export const ManifestCheckSchema = z
  .object({
    path: Text,
    datasetName: Text.optional(),
    storageUri: Text.optional(),
    contentHash: Text.optional(),
    contentHashMatches: z.boolean().optional(),
    recordCount: z.number().int().nonnegative().optional(),
    actualRecordCount: z.number().int().nonnegative().optional(),
  })
  .strict();

export const InputCheckSchema = z
  .object({
    /** code: a file of the record's learned input set (`code.files`) that changed; unchanged ones are only counted. */
    kind: z.enum(['data', 'config', 'requirements', 'code']),
    path: Text,
    recorded: Hash,
    actual: Hash.nullable(),
    /** `manifest-mismatch`: the data hash matches the record but not its manifest (hash or record count). */
    status: z.enum(['match', 'mismatch', 'missing', 'manifest-mismatch']),
    line: Line.optional(),
    manifest: ManifestCheckSchema.optional(),
    /** A changed text config: unified diff against its version at the recorded commit. */
    diff: z.string().max(MAX_DIFF).optional(),
  })
  .strict();

export const PackageChangeSchema = z
  .object({
    name: Text,
    recorded: Text.nullable(),
    actual: Text.nullable(),
    /** Whether any process of the rerun imported it (from the probe); absent when unknown. */
    imported: z.boolean().optional(),
  })
  .strict();

export const EnvironmentReportSchema = z
  .object({
    python: z.object({ required: Text.optional(), actual: Text }).strict(),
    platform: z.object({ recorded: Text.optional(), actual: Text }).strict(),
    /** The hardware and native libraries of the record and of the rerun (see src/environment/machine). */
    machine: z.object({ recorded: MachineFingerprintSchema.optional(), actual: MachineFingerprintSchema }).strict().optional(),
    /** null: the record has no requirements and the command ran in the current environment. */
    venv: z
      .object({
        key: Text,
        source: z.enum(['built', 'local-cache', 'remote-cache']),
        durationMs: Duration,
        /** What built it: pip, `uv pip install`, or `uv sync` of a lock (absent in reports of earlier releases: pip). */
        installer: z.enum(['pip', 'uv-pip', 'uv-sync']).optional(),
        /** The uv that built it. */
        uvVersion: Text.optional(),
      })
      .strict()
      .nullable(),
    /** The container image the command ran in (`environment.image`), and the runtime that ran it. */
    image: z.object({ reference: Text, id: Text, runtime: z.enum(['docker', 'podman']) }).strict().optional(),
    /** pip freeze of the rerun environment against `environment.packages`; null when none were recorded. */
    packages: z
      .object({
        added: z.array(PackageChangeSchema).max(MAX_ITEMS),
        removed: z.array(PackageChangeSchema).max(MAX_ITEMS),
        changed: z.array(PackageChangeSchema).max(MAX_ITEMS),
        unchanged: z.number().int().nonnegative(),
      })
      .strict()
      .nullable(),
  })
  .strict();

/** What the probe did with the record's seeds (`apply_seeds`, `determinism: strict`), aggregated over the run's processes. */
export const SeedingReportSchema = z
  .object({
    mode: z.enum(['applied', 'exported']),
    strict: z.boolean(),
    applied: z.array(z.object({ module: Text, calls: z.array(Text).max(10), processes: z.number().int().nonnegative() }).strict()).max(10),
    failed: z.array(z.object({ module: Text, error: Text }).strict()).max(10).optional(),
  })
  .strict();

export const RunReportSchema = z
  .object({
    command: Text,
    workdir: Text,
    exitCode: z.number().int().nullable(),
    signal: Text.nullable(),
    timedOut: z.boolean(),
    durationMs: Duration,
    logTail: z.string().max(MAX_LOG),
    /** Full log on the machine that ran it; not meaningful elsewhere. */
    logPath: Text.nullable(),
    /** The Python processes the probe saw (the first ones), and how many there were in all. */
    processes: z
      .array(
        z
          .object({
            pid: z.number().int(),
            executable: Text,
            version: Text,
            script: Text.nullable(),
            inEnvironment: z.boolean(),
          })
          .strict(),
      )
      .max(50)
      .optional(),
    processCount: z.number().int().nonnegative().optional(),
    /** How the rerun's processes were tracked: a cgroup cannot be left; an environment marker can (`env -u`). */
    containment: z.enum(['cgroup', 'marker']).optional(),
    /** Command lines of processes still running when the command ended or timed out, killed then (the first ones). */
    killed: z.array(z.string().max(KILLED_COMMAND_MAX_CHARS)).max(KILLED_LISTED_MAX).optional(),
    seeding: SeedingReportSchema.optional(),
  })
  .strict();

const TensorStatisticsSchema = z
  .object({ nonfinite: z.number().int().nonnegative(), min: ReportNumber.nullable(), max: ReportNumber.nullable(), mean: ReportNumber.nullable(), l2: ReportNumber })
  .strict();

/** One tensor of a numeric artifact that is not bit-identical to the record (identical ones are only counted). */
export const TensorCheckSchema = z
  .object({
    name: Text,
    dtype: Text,
    shape: z.array(z.number().int().nonnegative()).max(64),
    /**
     * within/beyond: judged against the tolerance (on every element with a baseline, else on the recorded sample);
     * differs: its bytes changed and there is nothing to compare elementwise with; added/removed/changed: the
     * artifact's structure changed (`change` says how); retyped: a scalar of another type with the same value (listed, not gating).
     */
    status: z.enum(['within', 'beyond', 'differs', 'added', 'removed', 'changed', 'retyped']),
    change: Text.optional(),
    basis: z.enum(['baseline', 'sample']).optional(),
    total: z.number().int().nonnegative().optional(),
    mismatched: z.number().int().nonnegative().optional(),
    maxAbs: ReportNumber.optional(),
    maxRel: ReportNumber.optional(),
    /** Index of the first element beyond tolerance, one number per dimension. */
    firstMismatch: z.array(z.number().int().nonnegative()).max(64).optional(),
    tolerance: z.object({ abs: z.number(), rel: z.number() }).strict().optional(),
    recorded: TensorStatisticsSchema.optional(),
    rerun: TensorStatisticsSchema.optional(),
  })
  .strict();

/** How a `compare: numeric` artifact whose bytes changed compares tensor by tensor. */
export const NumericCheckSchema = z
  .object({
    format: Text,
    /**
     * content-identical: every tensor bit-identical (serialization changed); within-tolerance / beyond-tolerance;
     * structure-changed: tensors added, removed, or of another dtype or shape; no-baseline: tensors differ and neither
     * a baseline nor a recorded sample can show them close; unrecorded: the record holds no fingerprint to compare with.
     */
    outcome: z.enum(['content-identical', 'within-tolerance', 'beyond-tolerance', 'structure-changed', 'no-baseline', 'unrecorded']),
    /** Where the elementwise comparison came from, when there was one. */
    basis: z.enum(['baseline', 'sample']).optional(),
    /** The baseline file compared with (for the reader), when one was found. */
    baseline: Text.optional(),
    tensorCount: z.number().int().nonnegative(),
    identicalCount: z.number().int().nonnegative(),
    /** The tensors that are not identical, largest deviation first, cut to the first few hundred. */
    tensors: z.array(TensorCheckSchema).max(500),
    /** Constructor parameters (pickled estimators) that appeared, disappeared or changed: listed, never gating. */
    parameters: z.object({ added: z.array(Text).max(200), removed: z.array(Text).max(200), changed: z.array(Text).max(200) }).strict().optional(),
  })
  .strict();

export const ArtifactCheckSchema = z
  .object({
    path: Text,
    recorded: Hash,
    actual: Hash.nullable(),
    /** within: the bytes differ, but every tensor is within its tolerance or bit-identical (`numeric` says which). */
    status: z.enum(['identical', 'within', 'differs', 'missing']),
    /** `report`: the record shows this artifact's changes but never gates on them (a plot, a log). `numeric`: compared tensor by tensor. */
    policy: z.enum(['exact', 'numeric', 'report']).optional(),
    /** `directory`: the rerun produced a folder, hashed like `sha256sum` over its sorted files (in-toto's dirHash1). */
    kind: z.literal('directory').optional(),
    numeric: NumericCheckSchema.optional(),
    line: Line.optional(),
    /** The same path in the checkout (committed, or restored from LFS or DVC) against the recorded sha256. */
    committed: z.object({ actual: Hash, status: z.enum(['match', 'differs']) }).strict().optional(),
  })
  .strict();

export const MetricCheckSchema = z
  .object({
    name: Text,
    recorded: ReportNumber.nullable(),
    rerun: ReportNumber.nullable(),
    delta: ReportNumber.nullable(),
    tolerance: z.object({ abs: z.number(), rel: z.number() }).strict(),
    /** `new`: present in the rerun's metrics file but not recorded (informational). */
    status: z.enum(['equal', 'within', 'beyond', 'missing', 'new']),
    line: Line.optional(),
  })
  .strict();

export const ThresholdCheckSchema = z
  .object({
    metric: Text,
    min: z.number().optional(),
    max: z.number().optional(),
    value: ReportNumber.nullable(),
    status: z.enum(['pass', 'fail', 'missing']),
    line: Line.optional(),
  })
  .strict();

export const CodeReportSchema = z
  .object({
    recordedCommit: Text.optional(),
    currentCommit: Text.optional(),
    /** `verify --at recorded`: the commit whose code ran (the recorded one), instead of the working tree. */
    ranAt: Text.optional(),
    /** Files changed between the recorded commit and the working tree; null when the recorded commit is not available (shallow clone). */
    /** The record's working folder, repo-relative; files changed under it are listed first. */
    scope: Text.optional(),
    changedFiles: z.array(Text).max(MAX_ITEMS).nullable(),
    changedFilesTotal: z.number().int().nonnegative().optional(),
    changedInScope: z.number().int().nonnegative().optional(),
    /** How many files the record's learned input set holds: when set, only those count as changed code. */
    learnedFiles: z.number().int().nonnegative().optional(),
  })
  .strict();

/** A likely cause of a difference, listed in the report to explain drift. */
export const CauseSchema = z
  .object({
    kind: z.enum([
      'config-changed',
      'requirements-changed',
      'packages-changed',
      'python-changed',
      'platform-changed',
      'code-changed',
      'data-changed',
      'machine-changed',
    ]),
    subject: Text,
    line: Line.optional(),
    /** A changed package that no process of the rerun imported: listed, but an unlikely cause. */
    unlikely: z.boolean().optional(),
  })
  .strict();

export const StageTimingSchema = z
  .object({ stage: z.enum(['load', 'inputs', 'environment', 'sandbox', 'rerun', 'compare']), durationMs: Duration })
  .strict();

/** An output that is not the same in every run, with each run's value (a short sha256 for artifacts; null: not produced). */
export const VaryingOutputSchema = z
  .object({ output: Text, kind: z.enum(['metric', 'artifact']), values: z.array(z.union([ReportNumber, z.string().max(64)]).nullable()).max(60) })
  .strict();

/** A drifting record rerun N times (`verify --runs`): a real change, or training that differs run to run. */
export const DriftReportSchema = z
  .object({ kind: z.enum(['deterministic', 'nondeterministic']), runs: z.number().int().positive().max(60), varying: z.array(VaryingOutputSchema).max(100) })
  .strict();

/** One `verify --vary` variation against the unvaried run: which outputs it changed. */
export const VariationReportSchema = z
  .object({ variation: Text, failure: Text.optional(), changed: z.array(VaryingOutputSchema).max(100) })
  .strict();

/** One run of the command: the first rerun, a repeat (`--runs`), or a variation (`--vary`). */
export const RerunTimingSchema = z
  .object({ index: z.number().int().positive().max(100), durationMs: Duration, variation: Text.optional(), failure: Text.optional() })
  .strict();

export const RecordErrorSchema = z
  .object({ message: Text, hint: Text.optional(), field: Text.optional(), line: Line.optional() })
  .strict();

export const RecordReportSchema = z
  .object({
    name: Text,
    /** The record file, relative to the repository root. */
    recordPath: Text,
    /** The sha256 of the record file as verified (absent when it could not be read). */
    recordSha256: Hash.optional(),
    verdict: VerdictSchema,
    error: RecordErrorSchema.optional(),
    code: CodeReportSchema.optional(),
    inputs: z.array(InputCheckSchema).max(MAX_ITEMS),
    environment: EnvironmentReportSchema.optional(),
    run: RunReportSchema.optional(),
    artifacts: z.array(ArtifactCheckSchema).max(MAX_ITEMS),
    metrics: z.array(MetricCheckSchema).max(MAX_METRIC_CHECKS),
    thresholds: z.array(ThresholdCheckSchema).max(MAX_ITEMS),
    causes: z.array(CauseSchema).max(MAX_ITEMS),
    stages: z.array(StageTimingSchema).max(10),
    /** Things a reader should know that do not change the verdict. */
    warnings: z.array(Text).max(100).optional(),
    /** The record's metrics file, when the rerun did not write it (every recorded metric is then missing). */
    missingMetricsFile: Text.optional(),
    /** `verify --affected`: whether the record had to be rerun, and why (one sentence). */
    affected: z.object({ affected: z.boolean(), reason: Text, inputs: z.number().int().nonnegative() }).strict().optional(),
    /** Every run of the command, with the time it took (the first rerun, repeats, variations). */
    reruns: z.array(RerunTimingSchema).max(100).optional(),
    /** On drift with `--runs N`: whether the reruns agreed with each other. */
    drift: DriftReportSchema.optional(),
    /** With `--vary`: which variation changed which output. */
    variations: z.array(VariationReportSchema).max(10).optional(),
    /** On drift: how to accept the change, with the run.yaml diff this rerun implies. */
    update: z.object({ command: Text, diff: z.string().max(MAX_DIFF) }).strict().optional(),
  })
  .strict();

/** A change to a run record, against the pull request's base, that lets more results pass: the check itself was relaxed. */
export const LoosenedSchema = z
  .object({
    /** The record file, relative to the repository root. */
    recordPath: Text,
    kind: z.enum([
      'tolerance-widened',
      'threshold-relaxed',
      'threshold-removed',
      'metric-removed',
      'artifact-removed',
      'artifact-weakened',
      'record-deleted',
      'network-allowed',
      'host-variable-passed',
    ]),
    /** The metric, artifact path, (record-deleted) record path, field or (host-variable-passed) variable name. */
    subject: Text,
    /** At the base and now, as shown to readers (`exact`, `±0.01`, `≥ 0.9`); null when there is none. */
    before: Text.nullable(),
    after: Text.nullable(),
  })
  .strict();

/** What a record re-recorded against the base (new hashes and values): shown for information, never a loosening. */
export const RerecordedSchema = z
  .object({
    recordPath: Text,
    changes: z
      .array(
        z
          .object({
            kind: z.enum(['artifact-hash', 'metric-value', 'config-hash', 'data-hash', 'requirements-hash', 'package', 'python', 'platform', 'code-commit', 'image']),
            count: z.number().int().positive().max(1_000_000),
          })
          .strict(),
      )
      .max(20),
  })
  .strict();

export const ReportSchema = z
  .object({
    schemaVersion: z.literal(REPORT_SCHEMA_VERSION),
    tool: z.object({ name: Text, version: Text }).strict(),
    createdAt: z.iso.datetime(),
    verdict: VerdictSchema,
    /** The commit the records were compared against for loosening (`verify --base`, a pull request's base). */
    base: z.object({ ref: Text, commit: z.string().regex(/^[0-9a-f]{40,64}$/) }).strict().optional(),
    loosened: z.array(LoosenedSchema).max(MAX_ITEMS).optional(),
    rerecorded: z.array(RerecordedSchema).max(200).optional(),
    records: z.array(RecordReportSchema).max(200),
  })
  .strict();

export type Report = z.infer<typeof ReportSchema>;
export type RecordReport = z.infer<typeof RecordReportSchema>;
export type InputCheck = z.infer<typeof InputCheckSchema>;
export type ManifestCheck = z.infer<typeof ManifestCheckSchema>;
export type EnvironmentReport = z.infer<typeof EnvironmentReportSchema>;
export type PackageChange = z.infer<typeof PackageChangeSchema>;
export type RunReport = z.infer<typeof RunReportSchema>;
export type SeedingReport = z.infer<typeof SeedingReportSchema>;
export type ArtifactCheck = z.infer<typeof ArtifactCheckSchema>;
export type NumericCheck = z.infer<typeof NumericCheckSchema>;
export type TensorCheck = z.infer<typeof TensorCheckSchema>;
export type MetricCheck = z.infer<typeof MetricCheckSchema>;
export type ThresholdCheck = z.infer<typeof ThresholdCheckSchema>;
export type CodeReport = z.infer<typeof CodeReportSchema>;
export type Cause = z.infer<typeof CauseSchema>;
export type StageTiming = z.infer<typeof StageTimingSchema>;
export type RecordError = z.infer<typeof RecordErrorSchema>;
export type VaryingOutput = z.infer<typeof VaryingOutputSchema>;
export type DriftReport = z.infer<typeof DriftReportSchema>;
export type VariationReport = z.infer<typeof VariationReportSchema>;
export type RerunTiming = z.infer<typeof RerunTimingSchema>;
export type Loosened = z.infer<typeof LoosenedSchema>;
export type Rerecorded = z.infer<typeof RerecordedSchema>;
