import path from 'node:path';
import { compareArtifacts } from '../compare/artifacts.js';
import { compareMetrics } from '../compare/metrics.js';
import { checkThresholds } from '../compare/thresholds.js';
import { decideVerdict } from '../compare/verdict.js';
import { DEFAULT_TIMEOUT, LOG_FILE_NAME } from '../constants.js';
import { prepareEnvironment, type VenvCache } from '../environment/index.js';
import { describeError, UserError } from '../errors.js';
import { likelyCauses } from '../explain/causes.js';
import { checkInputs } from '../inputs/check-inputs.js';
import { type LoadedRecord, loadRecord } from '../record/load.js';
import type { InputCheck, RecordError, RecordReport, StageTiming } from '../report/schema.js';
import { createSandbox, parseDuration, rerunEnvironment, runCommand } from '../rerun/index.js';
import { codeReport } from './code-report.js';
import { collectOutputs, keepEvidence } from './collect-outputs.js';
import type { PipelineHooks } from './hooks.js';

export interface VerifyOptions {
  /** Interpreter to build venvs from (`--python`, or `python3` on PATH). */
  python: string;
  cacheRoot: string;
  remoteCache?: VenvCache;
  /** Per-record folder for the full log and, with keepArtifacts, the produced files. */
  evidenceDir: string;
  keepArtifacts: boolean;
  hooks: PipelineHooks;
}

type Stage = StageTiming['stage'];

/** An input problem that stops the check before anything runs. */
function missingInputError(missing: InputCheck): UserError {
  return new UserError(
    `${missing.kind} ${missing.path} is missing`,
    missing.kind === 'data'
      ? 'Restore the data (e.g. `dvc pull`, or fetch it from its storage_uri) before verifying.'
      : 'Restore the file, or update the run record with `repro-gate record`.',
    { field: missing.kind, line: missing.line },
  );
}

function toRecordError(error: unknown): RecordError {
  const { message, hint } = error instanceof UserError ? { message: error.message, hint: error.hint } : describeError(error);
  const location = error instanceof UserError ? error.location : {};
  return { message: message.slice(0, 2_000), hint: hint?.slice(0, 2_000), field: location.field, line: location.line };
}

class RecordVerification {
  readonly report: RecordReport;
  private readonly started = new Map<Stage, number>();

  constructor(
    private readonly recordFile: string,
    private readonly options: VerifyOptions,
  ) {
    const fallbackName = path.basename(path.dirname(path.resolve(recordFile)));
    this.report = { name: fallbackName, recordPath: recordFile, verdict: 'error', inputs: [], artifacts: [], metrics: [], thresholds: [], causes: [], stages: [] };
  }

  private async stage<T>(stage: Stage, run: () => Promise<T>): Promise<T> {
    this.started.set(stage, performance.now());
    try {
      return await this.options.hooks.group(`${this.report.name}: ${stage}`, run);
    } finally {
      this.report.stages.push({ stage, durationMs: Math.round(performance.now() - (this.started.get(stage) ?? 0)) });
    }
  }

  async run(): Promise<RecordReport> {
    try {
      const loaded = await this.stage('load', () => loadRecord(this.recordFile));
      this.report.name = loaded.record.name;
      this.report.recordPath = loaded.recordPath;
      await this.verifyLoaded(loaded);
    } catch (error) {
      this.report.error = toRecordError(error);
    }
    this.report.causes = likelyCauses(this.report);
    this.report.verdict = decideVerdict(this.report);
    return this.report;
  }

  private async verifyLoaded(loaded: LoadedRecord): Promise<void> {
    const [code, inputs] = await Promise.all([codeReport(loaded), this.stage('inputs', () => checkInputs(loaded))]);
    this.report.code = code;
    this.report.inputs = inputs;
    const missing = inputs.find((input) => input.status === 'missing');
    if (missing) throw missingInputError(missing);
    // Changed data makes any rerun meaningless, so training is not started.
    if (inputs.some((input) => input.kind === 'data' && input.status !== 'match')) return;

    const { record, paths } = loaded;
    const environment = await this.stage('environment', () =>
      prepareEnvironment({
        python: this.options.python,
        requiredPython: record.environment?.python,
        requiredPythonLine: loaded.lineOf(['environment', 'python']),
        requirementsFile: paths.requirements?.absolute,
        requirementsDisplayPath: paths.requirements?.repoRelative,
        recordedPackages: record.environment?.packages,
        recordedPlatform: record.environment?.platform,
        cacheRoot: this.options.cacheRoot,
        remoteCache: this.options.remoteCache,
        log: (line) => this.options.hooks.info(line),
      }),
    );
    this.report.environment = environment.report;

    const outputs = [...paths.artifacts, ...(paths.metrics ? [paths.metrics] : [])].map((p) => p.repoRelative);
    const sandbox = await createSandbox({
      repoRoot: loaded.repoRoot,
      isGitRepo: loaded.isGitRepo,
      extraPaths: paths.data.flatMap((entry) => [entry.data, ...(entry.manifest ? [entry.manifest] : [])]).map((p) => p.repoRelative),
      clearPaths: outputs,
    });
    try {
      await this.rerunAndCompare(loaded, sandbox.root, environment, outputs);
    } finally {
      await sandbox.dispose();
    }
  }

  private async rerunAndCompare(
    loaded: LoadedRecord,
    sandboxRoot: string,
    environment: Awaited<ReturnType<typeof prepareEnvironment>>,
    outputs: string[],
  ): Promise<void> {
    const { record, paths, lineOf } = loaded;
    const evidenceDir = path.join(this.options.evidenceDir, record.name);
    const timeout = record.timeout ?? DEFAULT_TIMEOUT;
    const result = await this.stage('rerun', () =>
      runCommand({
        command: record.command,
        cwd: path.join(sandboxRoot, paths.workdir.repoRelative),
        env: rerunEnvironment({
          base: process.env,
          binDir: environment.binDir,
          venvDir: environment.venvDir,
          variables: record.environment?.variables ?? {},
          seeds: record.seeds ?? {},
        }),
        timeoutMs: parseDuration(timeout),
        logFile: path.join(evidenceDir, LOG_FILE_NAME),
        onOutput: (chunk) => this.options.hooks.output(chunk),
      }),
    );
    const logFile = path.join(evidenceDir, LOG_FILE_NAME);
    this.report.run = {
      command: record.command,
      workdir: paths.workdir.repoRelative,
      exitCode: result.exitCode,
      signal: result.signal,
      timedOut: result.timedOut,
      durationMs: Math.round(result.durationMs),
      logTail: result.logTail,
      logPath: logFile,
    };
    if (result.timedOut) {
      throw new UserError(`the command timed out after ${timeout} and was killed with all its child processes`, 'Make the run faster or raise `timeout` in the run record.', {
        field: 'timeout',
        line: lineOf(['timeout']),
      });
    }
    if (result.exitCode !== 0) {
      throw new UserError(
        `the command failed (${result.signal ? `killed by ${result.signal}` : `exit status ${result.exitCode}`})`,
        `See the log tail below; the full log is ${logFile}.`,
        { field: 'command', line: lineOf(['command']) },
      );
    }
    const collected = await this.stage('compare', async () => {
      const outputsFound = await collectOutputs(sandboxRoot, paths.artifacts, paths.metrics);
      if (this.options.keepArtifacts) await keepEvidence(sandboxRoot, outputs, path.join(evidenceDir, 'outputs'));
      return outputsFound;
    });
    this.report.artifacts = compareArtifacts(
      (record.artifacts ?? []).map((artifact, i) => ({
        path: paths.artifacts[i]!.repoRelative,
        sha256: artifact.sha256,
        line: lineOf(['artifacts', i, 'sha256']),
      })),
      collected.artifactHashes,
    );
    this.report.metrics = compareMetrics({
      recorded: record.metrics?.values ?? {},
      rerun: collected.metrics,
      tolerance: record.tolerance,
      lineOf: (name) => lineOf(['metrics', 'values', name]),
    });
    this.report.thresholds = checkThresholds(record.thresholds ?? {}, collected.metrics, (name) => lineOf(['thresholds', name]));
  }
}

/** Verifies one record end to end. Never throws: every failure becomes an `error` verdict with one clear message. */
export function verifyRecord(recordFile: string, options: VerifyOptions): Promise<RecordReport> {
  return new RecordVerification(recordFile, options).run();
}
