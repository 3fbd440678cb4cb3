import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { compareArtifacts } from '../compare/artifacts.js';
import type { EnvironmentUse } from '../compare/environment-use.js';
import { compareMetrics } from '../compare/metrics.js';
import { checkThresholds } from '../compare/thresholds.js';
import { decideVerdict } from '../compare/verdict.js';
import { DEFAULT_TIMEOUT, LOG_FILE_NAME, MAX_RECORD_RUNS, NUMERIC_HELPER_LOG_NAME, TOOL_NAME, UPDATED_RECORD_NAME } from '../constants.js';
import { prepareEnvironment, type PreparedEnvironment, type VenvCache } from '../environment/index.js';
import type { ContainerImageRequest } from '../environment/types.js';
import { describeError, UserError } from '../errors.js';
import { likelyCauses } from '../explain/causes.js';
import { headCommit, type RawChange, rawChangesSince } from '../git.js';
import { checkInputs } from '../inputs/check-inputs.js';
import { checkCodeFiles } from '../inputs/affected/code-files.js';
import { decideAffected } from '../inputs/affected/affected.js';
import { watchedChanges } from '../inputs/affected/watched.js';
import { structuralChanges } from '../inputs/affected/structural-changes.js';
import { listingScope } from '../inputs/affected/listing-scope.js';
import { includesOtherFiles, requirementsInstallLocalPaths } from '../environment/local-requirements.js';
import { learnedSet } from '../inputs/affected/learned-inputs.js';
import { configDiff } from '../inputs/config-diff.js';
import { type LoadedRecord, lockfileFiles, loadRecord, type RecordPaths } from '../record/load.js';
import type { Measurement } from '../record/measurement.js';
import { updateRecordText } from '../record/update-document.js';
import { runOwnFiles, uncommittedCode } from '../record/dirty-code.js';
import { exportRecordedCommit, type RecordedCommitTree } from './recorded-commit.js';
import { type CodeReport, type InputCheck, type RecordError, type RecordReport, REPORT_TEXT_MAX, type RunReport, type StageTiming } from '../report/schema.js';
import { unifiedDiff } from '../report/text-diff.js';
import { keepEnds, keepStart } from '../report/truncate.js';
import { parseDuration } from '../rerun/index.js';
import { writeFileAtomic } from '../write-file-atomic.js';
import { codeReport } from './code-report.js';
import { withProgress } from './progress.js';
import type { RerunSlots } from './rerun-slots.js';
import { measureNumericArtifact, measureNumericArtifacts, prefetchBaselines } from './numeric-artifacts.js';
import type { RecordedContent } from '../compare/tensors/judge.js';
import { collectOutputs, hashCheckoutCopies, keepEvidence } from './collect-outputs.js';
import type { PipelineHooks } from './hooks.js';
import { interpreterThatRan } from './interpreter-that-ran.js';
import { createRunSandbox, inCopy, onlyInCopy, outsideWritesError, runInSandbox, type SandboxedRun, type SandboxedRunRequest, type StageRunner } from './sandboxed-run.js';
import { environmentForRepeats, repeatRun, type RunOutcome } from './repeat-run.js';
import { calibrateRuns, type RunsCalibration } from '../compare/calibration/calibrate-runs.js';
import { calibrationEntries } from '../record/calibrated-entries.js';
import { classifyDrift, variationEffects } from '../compare/reruns/compare-runs.js';
import type { Variation } from '../rerun/variations/variations.js';

export interface VerifyOptions {
  /** Interpreter to build venvs from (`--python`, or `python3` on PATH). */
  python: string;
  cacheRoot: string;
  remoteCache?: VenvCache;
  /** Per-record folder for the full log and, with keepArtifacts, the produced files. */
  evidenceDir: string;
  keepArtifacts: boolean;
  hooks: PipelineHooks;
  /** `record --update`: rerun even when the data changed, since the new data is what gets recorded. */
  rerunOnChangedData?: boolean;
  /**
   * A folder holding earlier outputs of the records (`--baseline`, or the base branch's evidence in the action): a
   * numeric artifact found there with the recorded sha256 is compared element by element.
   */
  baselineDir?: string;
  /** `verify --runs N`: a drifting record is rerun up to N−1 more times to tell real drift from nondeterminism. */
  runs?: number;
  /** `record --update --runs N`: N runs in all, and the nondeterministic outputs calibrated. */
  calibrate?: { runs: number; factor: number };
  /** `verify --vary`: one more run per variation, each compared with the first. */
  vary?: Variation[];
  /** `verify --affected`: a record none of whose inputs changed is not rerun (`unaffected`). */
  affectedOnly?: boolean;
  /** The record files (as given) that differ from the pull request's base: always affected. Unknown without a base. */
  changedRecords?: ReadonlySet<string>;
  /** With affectedOnly: stop once the decision is made, building and running nothing (see unaffectedReport). */
  decideOnly?: boolean;
  /**
   * Shared by the records of one verify (given only when there are several): each record's data is hashed in place
   * at once with the others', and its sandbox, environment, rerun and compare stages run in a slot.
   */
  rerunSlots?: RerunSlots;
  /** `verify --at recorded`: the code of the record's `code.commit` runs, with the data as it is now. */
  atRecorded?: boolean;
  /** `record --update --image`: the record's image is replaced by this one (pinned by digest) for the rerun. */
  image?: string;
}

/** The record's container image (or the one `record --update --image` puts in its place), as the environment needs it. */
function imageOf(loaded: LoadedRecord, replacement: string | undefined): ContainerImageRequest | undefined {
  const environment = loaded.record.environment;
  const reference = replacement ?? environment?.image;
  if (reference === undefined) return undefined;
  return { reference, line: loaded.lineOf(['environment', 'image']), network: environment?.network ?? false, gpu: environment?.gpu ?? false };
}

/** A verification, plus what its rerun measured: what `record --update` writes. */
export interface MeasuredVerification {
  report: RecordReport;
  loaded?: LoadedRecord;
  measurement?: Measurement;
  /** The record's text with the measured fields rewritten (set when the rerun completed). */
  updatedText?: string;
  /** Where the rerun's outputs were kept, with keepArtifacts. */
  outputsDir?: string;
  /** With `calibrate`: what the runs showed. */
  calibration?: RunsCalibration;
  /** Hand-written tolerances kept although tighter than calibrated. */
  calibrationWarnings?: string[];
}

type Stage = StageTiming['stage'];

/**
 * A uv project's files that decide its environment without being hashed into the record: every pyproject.toml of
 * the project (its own, its workspace members'), whose change the lock may not follow (a stale lock only a rerun
 * finds), and the Python pin. Watched by `verify --affected`.
 */
function uvProjectFiles(paths: RecordPaths): string[] {
  if (!paths.lockfile) return [];
  const project = path.posix.dirname(paths.lockfile.lock.repoRelative);
  const inProject = (glob: string) => (project === '.' ? glob : `${project}/${glob}`);
  return [inProject('**/pyproject.toml'), inProject('.python-version')];
}

/** Why the record's environment could run code the learned set does not cover; undefined when it cannot. */
async function environmentOutsideRecord(loaded: LoadedRecord): Promise<string | undefined> {
  // A lock's venv holds no local code: the project's own is imported from the sandbox's copy, where the probe sees it read.
  if (loaded.paths.lockfile) return undefined;
  const requirements = loaded.paths.requirements;
  if (!requirements) return 'the record has no requirements: it runs in an environment repro-gate cannot compare with the record';
  if (await requirementsInstallLocalPaths(requirements.absolute)) return 'its requirements install local code, which runs from the venv, not from the files the training read';
  // `-r other.txt` and `-c constraints.txt` pull in files whose hashes the record does not hold.
  if (includesOtherFiles(await readFile(requirements.absolute, 'utf8'))) return 'its requirements include other requirement or constraint files, which the record does not hash';
  return undefined;
}

/** What is not a learned input: the declared inputs (checked on their own), the outputs and the record itself. */
function declaredAndOwn(loaded: LoadedRecord): string[] {
  const { paths } = loaded;
  const declared = [...paths.config, ...(paths.requirements ? [paths.requirements] : []), ...(paths.lockfile ? [paths.lockfile.lock] : [])];
  return [...declared.map((file) => file.repoRelative), ...runOwnFiles(paths, loaded.recordPath)];
}

/** `verify --runs N` (and the action's `runs` input): 1 to MAX_RECORD_RUNS; 2 already tells real drift from nondeterminism. */
export function checkVerifyRuns(runs: number | undefined): void {
  if (runs !== undefined && (!Number.isSafeInteger(runs) || runs < 1 || runs > MAX_RECORD_RUNS)) {
    throw new UserError(`runs ${runs} must be a whole number from 1 to ${MAX_RECORD_RUNS}`, 'Example: --runs 3 reruns a drifting record twice more to tell real drift from nondeterministic training.');
  }
}

/** An input problem that stops the check before anything runs. */
function missingInputError(missing: InputCheck): UserError {
  return new UserError(
    `${missing.kind} ${missing.path} is missing`,
    missing.kind === 'data'
      ? 'Restore the data (e.g. `dvc pull`, or fetch it from its storage_uri) before verifying.'
      : 'Restore the file, or update the run record with `repro-gate record --update`.',
    { field: missing.kind, line: missing.line },
  );
}

function toRecordError(error: unknown): RecordError {
  const { message, hint } = error instanceof UserError ? { message: error.message, hint: error.hint } : describeError(error);
  const location = error instanceof UserError ? error.location : {};
  // Cut at the middle: a message says what failed first and the culprit last (pip's ERROR lines).
  return { message: keepEnds(message, REPORT_TEXT_MAX), hint: hint && keepEnds(hint, REPORT_TEXT_MAX), field: location.field, line: location.line };
}

const MAX_LISTED_PROCESSES = 50;
const MAX_DIFFED_INPUTS = 20;

/** The probe's view of the run, for the report: which interpreters ran, and which changed packages were imported. */
function describeProcesses(run: SandboxedRun, environment: PreparedEnvironment): Pick<RunReport, 'processes' | 'processCount'> {
  const { processes } = run.trace;
  return {
    processCount: processes.length,
    processes: processes.slice(0, MAX_LISTED_PROCESSES).map((process) => ({
      pid: process.pid,
      executable: process.executable,
      version: process.version,
      script: process.script ? path.relative(run.root, process.script) : null,
      inEnvironment: environment.venvDir === null || !run.environmentUse.outsidePids.includes(process.pid),
    })),
  };
}

function markImported(report: RecordReport, use: EnvironmentUse): void {
  const packages = report.environment?.packages;
  if (!packages) return;
  const imported = new Set(use.imported);
  for (const change of [...packages.changed, ...packages.added]) change.imported = imported.has(change.name);
  for (const change of packages.removed) change.imported = false;
}

class RecordVerification {
  readonly report: RecordReport;
  readonly result: MeasuredVerification;
  private readonly started = new Map<Stage, number>();
  private numericContents: Array<RecordedContent | undefined> = [];
  private firstRun?: RunOutcome;
  /** `verify --affected` found nothing the record reads changed: not rerun. */
  private unaffected = false;
  /** `verify --at recorded`: the full hash of the commit whose code ran. */
  private ranAt?: string;

  constructor(
    private readonly recordFile: string,
    private readonly options: VerifyOptions,
  ) {
    const fallbackName = path.basename(path.dirname(path.resolve(recordFile)));
    this.report = { name: fallbackName, recordPath: recordFile, verdict: 'error', inputs: [], artifacts: [], metrics: [], thresholds: [], causes: [], stages: [] };
    this.result = { report: this.report };
  }

  private stage = async <T>(stage: Stage, run: () => Promise<T>): Promise<T> => {
    this.started.set(stage, performance.now());
    try {
      return await this.options.hooks.group(`${this.report.name}: ${stage}`, () => withProgress(stage, this.options.hooks, run));
    } finally {
      // A stage entered twice (the compare stage finishing a drifting record's fingerprints) is reported once, summed.
      const durationMs = Math.round(performance.now() - (this.started.get(stage) ?? 0));
      const earlier = this.report.stages.find((timing) => timing.stage === stage);
      if (earlier) earlier.durationMs += durationMs;
      else this.report.stages.push({ stage, durationMs });
    }
  };

  async run(): Promise<MeasuredVerification> {
    try {
      const loaded = await this.stage('load', () => loadRecord(this.recordFile));
      this.result.loaded = loaded;
      this.report.name = loaded.record.name;
      this.report.recordPath = loaded.recordPath;
      this.report.recordSha256 = loaded.sha256;
      await this.verifyLoaded(loaded);
    } catch (error) {
      this.report.error = toRecordError(error);
    }
    this.report.causes = likelyCauses(this.report);
    this.report.verdict = this.unaffected ? 'unaffected' : decideVerdict(this.report);
    // The proposed record is a convenience: failing to write it must not turn a verdict into a crash.
    if (this.report.verdict === 'drift') await this.proposeUpdate().catch((error: unknown) => (this.report.warnings = [...(this.report.warnings ?? []), `no record update was proposed: ${describeError(error).message}`]));
    return this.result;
  }

  private async verifyLoaded(loaded: LoadedRecord): Promise<void> {
    if (!this.options.atRecorded) return this.verifyCode(loaded);
    const atCommit = async () => {
      const tree = await this.stage('sandbox', () => exportRecordedCommit(loaded));
      this.ranAt = tree.commit;
      try {
        await this.verifyCode(tree.loaded, tree);
      } finally {
        await tree.dispose();
      }
    };
    // The whole check takes the record's turn: its exported code must never sit where another record's command runs.
    await (this.options.rerunSlots ? this.options.rerunSlots.run(atCommit) : atCommit());
  }

  /** The code report at the recorded commit: nothing changed, by construction. */
  private async recordedCodeReport(loaded: LoadedRecord, tree: RecordedCommitTree): Promise<CodeReport> {
    return { recordedCommit: loaded.record.code?.commit, currentCommit: await headCommit(loaded.repoRoot), ranAt: tree.commit, changedFiles: [], changedFilesTotal: 0 };
  }

  /** Verifies the record with its code from the working tree, or from `tree` (the recorded commit's files). */
  private async verifyCode(loaded: LoadedRecord, tree?: RecordedCommitTree): Promise<void> {
    // One `git diff` against the record's commit serves the code report, the watched globs and the new-file check.
    const commit = loaded.record.code?.commit;
    const changes = loaded.isGitRepo && commit && !tree ? rawChangesSince(loaded.repoRoot, commit) : Promise.resolve(undefined);
    const request = this.runRequest(loaded, tree?.root);
    // The data is hashed as it is copied into the sandbox, each file read once, unless the decision whether to rerun
    // at all comes first (--affected), or other records are verified at once: the data is then hashed where it is,
    // and its copy, made when this record's turn to rerun comes, checked against that. A sandbox is never made while
    // another record's command runs, which could reach into it.
    const slots = tree ? undefined : this.options.rerunSlots;
    const hashInPlace = this.options.affectedOnly || this.options.decideOnly || slots !== undefined;
    const staged = hashInPlace ? undefined : await createRunSandbox(request);
    let handedOver = false;
    try {
      const [code, [inputs, codeFiles]] = await Promise.all([
        tree ? this.recordedCodeReport(loaded, tree) : codeReport(loaded, changes),
        this.stage('inputs', () => Promise.all([checkInputs(loaded, staged?.hashes), checkCodeFiles(loaded)])),
      ]);
      this.report.code = code && codeFiles ? { ...code, learnedFiles: codeFiles.total } : code;
      this.report.inputs = [...inputs, ...(codeFiles?.changed ?? [])];
      // A learned file that is gone is a change (the rerun shows whether the training still runs), not a missing input.
      const missing = inputs.find((input) => input.status === 'missing');
      if (missing) throw missingInputError(missing);
      await this.attachConfigDiffs(loaded);
      if (this.options.affectedOnly && !(await this.isAffected(loaded, codeFiles?.total, await changes))) return;
      if (this.options.decideOnly) return;
      // Changed data makes any rerun meaningless, so training is not started (unless it is being re-recorded).
      if (!this.options.rerunOnChangedData && inputs.some((input) => input.kind === 'data' && input.status !== 'match')) return;
      const checked = new Map(inputs.filter((input) => input.kind === 'data' && input.actual !== null).map((input) => [input.path, input.actual!]));
      const checkedRequest = { ...request, expectedHashes: checked };
      handedOver = true;
      const rerun = async () => {
        const run = await runInSandbox(checkedRequest, staged);
        try {
          await this.judgeRun(loaded, run, run.environment, { timeout: loaded.record.timeout ?? DEFAULT_TIMEOUT, logFile: request.logFile, evidenceDir: this.evidenceDirOf(loaded), outputs: request.outputs });
          // Repeats and variations run quietly: their stages are not the first rerun's, and the environment is prepared already.
          const quiet: StageRunner = (_stage, work) => work();
          await this.runMore(loaded, { ...checkedRequest, prepareEnvironment: environmentForRepeats(run, this.prepareWith(loaded, quiet)), stage: quiet }, run, this.evidenceDirOf(loaded));
        } finally {
          await run.dispose();
        }
      };
      await (slots ? slots.run(rerun) : rerun());
    } finally {
      if (!handedOver) await staged?.dispose();
    }
  }

  private evidenceDirOf(loaded: LoadedRecord): string {
    return path.join(this.options.evidenceDir, loaded.record.name);
  }

  /** Prepares the record's environment for a sandbox, timed by `stage`. */
  private prepareWith(loaded: LoadedRecord, stage: StageRunner) {
    const { record, paths } = loaded;
    return async (sandboxRoot: string) => {
      const environment = await stage('environment', async () =>
        prepareEnvironment({
          python: this.options.python,
          requiredPython: record.environment?.python,
          requiredPythonLine: loaded.lineOf(['environment', 'python']),
          requirementsFile: paths.requirements ? await inCopy(sandboxRoot, paths.requirements) : undefined,
          requirementsDisplayPath: paths.requirements?.repoRelative,
          installer: record.environment?.installer,
          lockfile: paths.lockfile
            ? {
                file: await onlyInCopy(sandboxRoot, paths.lockfile.lock),
                displayPath: paths.lockfile.lock.repoRelative,
                groups: record.environment?.uv?.groups ?? [],
                extras: record.environment?.uv?.extras ?? [],
                line: loaded.lineOf(['environment', 'lockfile']),
              }
            : undefined,
          installDir: sandboxRoot,
          image: imageOf(loaded, this.options.image),
          recordedPackages: record.environment?.packages,
          recordedPlatform: record.environment?.platform,
          cacheRoot: this.options.cacheRoot,
          remoteCache: this.options.remoteCache,
          log: (line) => this.options.hooks.info(line),
          logDir: this.evidenceDirOf(loaded),
        }),
      );
      // The report describes the first rerun's environment; repeats reuse the same venv.
      if (stage === this.stage) this.report.environment = environment.report;
      return environment;
    };
  }

  /** How the record's command runs: its sandbox, data, environment, seeds and limits; `codeRoot`: the code's files (at the recorded commit). */
  private runRequest(loaded: LoadedRecord, codeRoot?: string): SandboxedRunRequest {
    const { record, paths } = loaded;
    const outputs = [...paths.artifacts, ...(paths.metrics ? [paths.metrics] : [])].map((p) => p.repoRelative);
    return {
      repoRoot: loaded.repoRoot,
      codeRoot,
      isGitRepo: loaded.isGitRepo,
      command: record.command,
      workdir: paths.workdir.repoRelative,
      workdirLine: loaded.lineOf(['workdir']),
      // At the recorded commit, a uv project's lock is the commit's, like all its code.
      copyPaths: [...paths.data.flatMap((entry) => [entry.data, ...(entry.manifest ? [entry.manifest] : [])]), ...(codeRoot ? [] : lockfileFiles(paths.lockfile))].map((p) => p.repoRelative),
      hashedPaths: paths.data.map((entry) => entry.data.repoRelative),
      outputs,
      prepareEnvironment: this.prepareWith(loaded, this.stage),
      variables: record.environment?.variables ?? {},
      passEnv: record.environment?.pass_env ?? [],
      seeds: record.seeds ?? {},
      seeding: { apply: record.apply_seeds ?? false, strict: record.determinism === 'strict' },
      timeoutMs: parseDuration(record.timeout ?? DEFAULT_TIMEOUT),
      logFile: path.join(this.evidenceDirOf(loaded), LOG_FILE_NAME),
      recordedPackages: record.environment?.packages ? Object.keys(record.environment.packages) : undefined,
      stage: this.stage,
      onOutput: (chunk) => this.options.hooks.output(chunk),
    };
  }

  /** `verify --affected`: decides whether the record must be rerun; one that need not be is `unaffected`. */
  private async isAffected(loaded: LoadedRecord, learnedFiles: number | undefined, changes: readonly RawChange[] | undefined): Promise<boolean> {
    const globs = [...(loaded.record.code?.watch ?? []), ...uvProjectFiles(loaded.paths)];
    const environmentGap = await environmentOutsideRecord(loaded);
    const decision = decideAffected({
      learnedFiles,
      inputs: this.report.inputs,
      watched: globs.length > 0,
      watchedChanges: watchedChanges(changes, globs),
      recordChanged: this.options.changedRecords && this.options.changedRecords.has(this.recordFile),
      structuralChanges: structuralChanges(changes, declaredAndOwn(loaded), await listingScope(loaded, changes)),
      environmentGap,
    });
    this.report.affected = decision;
    this.unaffected = !decision.affected;
    return decision.affected;
  }

  private async attachConfigDiffs(loaded: LoadedRecord): Promise<void> {
    const commit = loaded.record.code?.commit;
    const files = new Map([...loaded.paths.config, ...loaded.paths.codeFiles].map((entry) => [entry.repoRelative, entry]));
    // The first few changed files get a diff (a reformatting pull request changes hundreds): each is a git call and up to 20 KB.
    const diffed = this.report.inputs.filter((input) => (input.kind === 'config' || input.kind === 'code') && input.status === 'mismatch').slice(0, MAX_DIFFED_INPUTS);
    await Promise.all(
      diffed.map(async (input) => {
        if (!loaded.isGitRepo) return;
        const file = files.get(input.path);
        const diff = file ? await configDiff(loaded.repoRoot, commit, file) : undefined;
        if (diff) input.diff = diff.slice(0, 20_000);
      }),
    );
  }

  private async judgeRun(
    loaded: LoadedRecord,
    run: SandboxedRun,
    environment: PreparedEnvironment,
    where: { timeout: string; logFile: string; evidenceDir: string; outputs: string[] },
  ): Promise<void> {
    const { record, paths, lineOf } = loaded;
    const { result } = run;
    this.report.run = {
      command: keepStart(record.command, REPORT_TEXT_MAX),
      workdir: paths.workdir.repoRelative,
      exitCode: result.exitCode,
      signal: result.signal,
      timedOut: result.timedOut,
      durationMs: Math.round(result.durationMs),
      logTail: result.logTail,
      logPath: where.logFile,
      ...describeProcesses(run, environment),
      containment: result.containment,
      killed: result.killed,
      ...(run.seeding ? { seeding: run.seeding } : {}),
    };
    markImported(this.report, run.environmentUse);
    if (this.report.environment) this.report.environment.machine = { ...(record.environment?.machine ? { recorded: record.environment.machine } : {}), actual: run.machine };
    const warnings = [...run.warnings, ...run.environmentUse.warnings];
    if (warnings.length > 0) this.report.warnings = warnings.slice(0, 100);
    if (run.outsideWrites.length > 0) throw outsideWritesError(run.outsideWrites);
    if (result.timedOut) {
      throw new UserError(`the command timed out after ${where.timeout} and was killed with all its child processes`, 'Make the run faster or raise `timeout` in the run record.', {
        field: 'timeout',
        line: lineOf(['timeout']),
      });
    }
    if (result.exitCode !== 0) {
      throw new UserError(
        `the command failed (${result.signal ? `killed by ${result.signal}` : `exit status ${result.exitCode}`})`,
        `See the log tail below; the full log is ${where.logFile}.`,
        { field: 'command', line: lineOf(['command']) },
      );
    }
    if (run.environmentUse.problem) {
      const { message, hint } = run.environmentUse.problem;
      throw new UserError(message, hint, { field: 'command', line: lineOf(['command']) });
    }
    const [collected, committed, numeric] = await this.stage('compare', async () => {
      // The rerun's outputs, the checkout's copies of them and the baselines are hashed together, on every core.
      const baselines = prefetchBaselines(loaded, this.options.baselineDir);
      const [outputsFound, inCheckout] = await Promise.all([
        collectOutputs(run.root, paths.artifacts, paths.metrics),
        hashCheckoutCopies(paths.artifacts),
      ]);
      if (this.options.keepArtifacts) this.result.outputsDir = await keepEvidence(run.root, where.outputs, path.join(where.evidenceDir, 'outputs'));
      const tensors = await measureNumericArtifacts(loaded, run, outputsFound.artifactHashes, {
        recordName: record.name,
        baselineDir: this.options.baselineDir,
        baselines,
        logFile: path.join(where.evidenceDir, NUMERIC_HELPER_LOG_NAME),
      });
      return [outputsFound, inCheckout, tensors] as const;
    });
    this.numericContents = numeric.contents;
    this.firstRun = { index: 1, durationMs: Math.round(result.durationMs), metrics: collected.metrics, artifacts: collected.artifactHashes, numeric: new Map() };
    this.report.reruns = [{ index: 1, durationMs: this.firstRun.durationMs }];
    this.report.artifacts = compareArtifacts(
      (record.artifacts ?? []).map((artifact, i) => ({
        path: paths.artifacts[i]!.repoRelative,
        sha256: artifact.sha256,
        line: lineOf(['artifacts', i, 'sha256']),
        policy: artifact.compare,
      })),
      collected.artifactHashes,
      committed,
      numeric.checks,
    );
    for (const check of this.report.artifacts) if (collected.folders.has(check.path)) check.kind = 'directory';
    this.report.metrics = compareMetrics({
      recorded: record.metrics?.values ?? {},
      rerun: collected.metrics,
      tolerance: record.tolerance,
      lineOf: (name) => lineOf(['metrics', 'values', name]),
    });
    if (paths.metrics && collected.metrics === null) this.report.missingMetricsFile = paths.metrics.repoRelative;
    this.report.thresholds = checkThresholds(record.thresholds ?? {}, collected.metrics, (name) => lineOf(['thresholds', name]));
    // A record is written only on drift (the proposed update) and by `record --update`: only then is every tensor hashed.
    if (this.options.rerunOnChangedData || decideVerdict(this.report) === 'drift') this.numericContents = await this.stage('compare', () => numeric.completeContents());
    this.result.measurement = await this.measure(loaded, environment, collected, run);
  }

  /**
   * After the first rerun: more runs of the same command, each in a fresh sandbox. `record --update --runs` always
   * (calibration), `verify --runs` only on drift (classification), and one per `--vary` variation.
   */
  private async runMore(loaded: LoadedRecord, request: SandboxedRunRequest, first: SandboxedRun, evidenceDir: string): Promise<void> {
    const firstRun = this.firstRun;
    if (!firstRun) return;
    const calibrate = this.options.calibrate;
    const drifting = decideVerdict(this.report) === 'drift';
    const repeats = calibrate ? calibrate.runs - 1 : drifting ? Math.max(0, (this.options.runs ?? 1) - 1) : 0;
    const vary = this.options.vary ?? [];
    if (repeats === 0 && vary.length === 0) return;
    const { record, paths } = loaded;
    const numeric = new Map(calibrate ? (record.artifacts ?? []).flatMap((spec, i) => (spec.compare === 'numeric' ? [[paths.artifacts[i]!.repoRelative, spec] as const] : [])) : []);
    const outputs = { artifacts: paths.artifacts, metrics: paths.metrics, numeric, helperLog: path.join(evidenceDir, NUMERIC_HELPER_LOG_NAME) };
    const reference = { root: first.root, artifacts: firstRun.artifacts };
    const runOnce = (index: number, label: string, variation?: Variation) =>
      this.options.hooks.group(`${record.name}: ${label}`, () =>
        repeatRun({ ...request, variation, logFile: path.join(evidenceDir, `rerun-${index}.log`) }, index, outputs, reference),
      );
    const total = repeats + 1;
    const repeated: RunOutcome[] = [];
    for (let index = 2; index <= total; index++) repeated.push(await runOnce(index, `run ${index} of ${total}`));
    const varied: RunOutcome[] = [];
    for (const [i, each] of vary.entries()) varied.push(await runOnce(total + 1 + i, `variation ${each.name}`, each));
    this.report.reruns = [firstRun, ...repeated, ...varied].map((run) => ({
      index: run.index,
      durationMs: run.durationMs,
      ...(run.variation ? { variation: run.variation } : {}),
      ...(run.failure ? { failure: keepStart(run.failure, REPORT_TEXT_MAX) } : {}),
    }));
    if (calibrate) {
      const policies = new Map((record.artifacts ?? []).map((spec, i) => [paths.artifacts[i]!.repoRelative, spec.compare ?? 'exact'] as const));
      const failed = repeated.find((run) => run.failure);
      if (failed) throw new UserError(`run ${failed.index} of ${total} failed (${failed.failure}) where run 1 succeeded`, 'A training that fails now and then cannot be calibrated: fix what makes it flaky, or use fewer --runs.');
      const calibration = calibrateRuns([firstRun, ...repeated], policies, calibrate.factor);
      this.result.calibration = calibration;
      const measurement = this.result.measurement;
      if (measurement) {
        if (measurement.metrics) measurement.metrics = calibration.metrics.values;
        measurement.calibration = calibrationEntries(calibration, paths.artifacts.map((artifact) => artifact.repoRelative));
        measurement.contents = await this.sampledContents(loaded, first, calibration, measurement.contents ?? [], outputs.helperLog);
      }
    } else if (repeated.length > 0) {
      this.report.drift = classifyDrift([firstRun, ...repeated]);
    }
    if (varied.length > 0) this.report.variations = variationEffects(firstRun, varied);
  }

  /** A newly calibrated artifact is written with `fingerprint: sampled`, so its content is measured again with samples. */
  private async sampledContents(
    loaded: LoadedRecord,
    first: SandboxedRun,
    calibration: RunsCalibration,
    contents: Array<RecordedContent | undefined>,
    helperLog: string,
  ): Promise<Array<RecordedContent | undefined>> {
    const calibrated = new Set(calibration.artifacts.filter((artifact) => artifact.status === 'calibrated').map((artifact) => artifact.path));
    const sampled = [...contents];
    for (const [i, spec] of (loaded.record.artifacts ?? []).entries()) {
      const { repoRelative } = loaded.paths.artifacts[i]!;
      const produced = this.firstRun?.artifacts.get(repoRelative);
      if (!calibrated.has(repoRelative) || spec.fingerprint !== undefined || !produced) continue;
      const artifact = { spec: { ...spec, fingerprint: 'sampled' as const, sha256: produced }, repoRelative, file: path.join(first.root, repoRelative), produced };
      sampled[i] = (await measureNumericArtifact(artifact, { recordName: loaded.record.name, runPython: (args) => first.runPython(args, helperLog), hashTensors: true })).content;
    }
    return sampled;
  }

  private async measure(
    loaded: LoadedRecord,
    environment: PreparedEnvironment,
    collected: Awaited<ReturnType<typeof collectOutputs>>,
    run: SandboxedRun,
  ): Promise<Measurement | undefined> {
    const artifacts = loaded.paths.artifacts.map((artifact) => collected.artifactHashes.get(artifact.repoRelative) ?? null);
    // A missing output cannot be recorded: there is no update to propose.
    if (artifacts.some((hash) => hash === null) || (loaded.paths.metrics && collected.metrics === null)) return undefined;
    const actual = (kind: InputCheck['kind']) => this.report.inputs.filter((input) => input.kind === kind).map((input) => input.actual!);
    const { report } = environment;
    // In the current environment, what gets recorded is the interpreter that actually ran (as `record --current-env` does).
    const ran = environment.python ? undefined : await interpreterThatRan(run.trace).catch(() => undefined);
    return {
      config: actual('config'),
      data: actual('data'),
      requirementsSha256: actual('requirements')[0],
      artifacts: artifacts as string[],
      contents: this.numericContents,
      metrics: collected.metrics ?? undefined,
      packages: environment.packages ?? ran?.packages,
      python: environment.python ? report.python.actual : ran?.version,
      platform: environment.python ? report.platform.actual : ran?.platform,
      machine: run.machine,
      ...(this.options.image ? { image: this.options.image } : {}),
      ...(await this.measuredCommit(loaded)),
      // An incomplete set is not written, and an older one is dropped: the record is then always rerun.
      learned: await learnedSet(loaded.record.command, run.root, run.trace, { repoRoot: loaded.repoRoot, excluded: declaredAndOwn(loaded), uvProject: loaded.paths.lockfile !== undefined }).then((learned) => ('set' in learned ? learned.set : null)),
    };
  }

  /**
   * The commit a re-recording names, and whether the working tree differs from it besides the run's own files. Only a
   * record that may be written needs `dirty` (a git diff of the whole tree): `record --update`, and a drift's proposal.
   */
  private async measuredCommit(loaded: LoadedRecord): Promise<Pick<Measurement, 'commit' | 'dirty'>> {
    // At the recorded commit, that commit's code is what ran.
    if (this.ranAt) return { commit: this.ranAt, dirty: false };
    const commit = loaded.isGitRepo ? await headCommit(loaded.repoRoot) : undefined;
    if (!commit) return {};
    if (!this.options.rerunOnChangedData && !this.options.calibrate && decideVerdict(this.report) !== 'drift') return { commit };
    const uncommitted = await uncommittedCode(loaded.repoRoot, commit, runOwnFiles(loaded.paths, loaded.recordPath));
    return { commit, dirty: uncommitted === undefined ? undefined : uncommitted.length > 0 };
  }

  /** On drift: the record this rerun implies, written to the evidence, and its diff in the report. */
  private async proposeUpdate(): Promise<void> {
    const { loaded, measurement } = this.result;
    if (!loaded || !measurement) return;
    const before = await readFile(loaded.file, 'utf8');
    const after = updateRecordText(before, measurement);
    this.result.updatedText = after;
    await writeFileAtomic(path.join(this.options.evidenceDir, loaded.record.name, UPDATED_RECORD_NAME), after);
    const diff = unifiedDiff(loaded.recordPath, before, after);
    if (diff) this.report.update = { command: `${TOOL_NAME} record --update ${loaded.recordPath}`, diff: diff.slice(0, 20_000) };
  }
}

/** Verifies one record and keeps what its rerun measured (for `record --update`). Never throws. */
export async function verifyAndMeasure(recordFile: string, options: VerifyOptions): Promise<MeasuredVerification> {
  const verification = new RecordVerification(recordFile, options);
  const result = await verification.run();
  result.calibrationWarnings = [];
  if (result.loaded && result.measurement && (!result.updatedText || result.calibration)) {
    result.updatedText = updateRecordText(await readFile(result.loaded.file, 'utf8'), result.measurement, result.calibrationWarnings);
  }
  return result;
}

/**
 * The reusable workflow's discover job: whether the record must be rerun, as a report whose verdict is `unaffected`
 * when none of its inputs changed; `affected` says why (absent when the record does not load: its own job then says
 * why), and the record as loaded. Nothing is built or run.
 */
export async function decideRecord(recordFile: string, options: VerifyOptions): Promise<MeasuredVerification> {
  return new RecordVerification(recordFile, { ...options, affectedOnly: true, decideOnly: true }).run();
}

/** Verifies one record end to end. Never throws: every failure becomes an `error` verdict with one clear message. */
export async function verifyRecord(recordFile: string, options: VerifyOptions): Promise<RecordReport> {
  return (await new RecordVerification(recordFile, options).run()).report;
}
