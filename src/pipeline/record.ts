import { cp, lstat, mkdir, mkdtemp, readdir, realpath, rm, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Document } from 'yaml';
import { LOG_FILE_NAME, NUMERIC_HELPER_LOG_NAME, RECORD_VERSION } from '../constants.js';
import { prepareEnvironment, type PreparedEnvironment, type VenvCache } from '../environment/index.js';
import { UserError } from '../errors.js';
import { findRepoRoot, hasUncommittedChanges, headCommit, listTrackedFiles } from '../git.js';
import { sha256Path } from '../hashing/sha256.js';
import { readManifest } from '../inputs/manifest.js';
import { recordedPythonVersion } from '../record/measurement.js';
import { setArtifactContents } from '../record/update-document.js';
import { measureNumericArtifact } from './numeric-artifacts.js';
import { type ResolvedPath, resolveInside } from '../record/paths.js';
import { Duration, RecordName, type RunRecord, RunRecordSchema } from '../record/schema.js';
import type { StageTiming } from '../report/schema.js';
import { parseDuration } from '../rerun/index.js';
import { writeFileAtomic } from '../write-file-atomic.js';
import { type CollectedOutputs, collectOutputs } from './collect-outputs.js';
import type { PipelineHooks } from './hooks.js';
import { interpreterThatRan } from './interpreter-that-ran.js';
import { explainFailedRun } from './missing-input.js';
import { inCopy, runInSandbox, type SandboxedRun, type StageRunner } from './sandboxed-run.js';

export interface RecordOptions {
  out: string;
  name?: string;
  command: string;
  artifacts: string[];
  /** Of `artifacts`, those compared tensor by tensor (`--numeric`): their content is fingerprinted into the record. */
  numeric: string[];
  metrics?: string;
  data: Array<{ path: string; manifest?: string }>;
  config: string[];
  requirements?: string;
  /** Record without requirements: the command runs as it is, and the interpreter that ran is frozen. */
  currentEnv: boolean;
  seeds: Record<string, string | number>;
  variables: Record<string, string>;
  /** Host variables the command may see (`--pass-env`); recorded by name, never by value. */
  passEnv: string[];
  timeout?: string;
  python: string;
  cacheRoot: string;
  remoteCache?: VenvCache;
  hooks: PipelineHooks;
}

export interface RecordResult {
  file: string;
  record: RunRecord;
  warnings: string[];
  stages: StageTiming[];
}

type Resolved = ResolvedPath & { recordRelative: string };

/** Record paths are given relative to the shell's folder and stored relative to the record's folder. */
function makeResolver(recordDir: string, repoRoot: string) {
  return async (value: string, flag: string): Promise<Resolved> => {
    const fromCwd = path.resolve(value);
    const resolved = await resolveInside(recordDir, repoRoot, path.relative(recordDir, fromCwd) || '.', flag);
    return { ...resolved, recordRelative: path.relative(recordDir, resolved.absolute).split(path.sep).join('/') || '.' };
  };
}

function defaultName(recordDir: string): string {
  return path.basename(recordDir).toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'run';
}

async function hashEntries<T extends { absolute: string; recordRelative: string }>(entries: T[]) {
  return Promise.all(entries.map(async (entry) => ({ path: entry.recordRelative, sha256: await sha256Path(entry.absolute) })));
}

/** Flags that only shape the record are checked before anything runs, so a typo never costs a training. */
function checkFlags(options: RecordOptions): void {
  if (options.name !== undefined && !RecordName.safeParse(options.name).success) {
    throw new UserError(`--name "${options.name}" must match [a-z0-9._-]+ (at most 100 characters)`, 'Example: --name iris-sgd');
  }
  const timeout = options.timeout === undefined ? undefined : Duration.safeParse(options.timeout);
  if (timeout && !timeout.success) {
    throw new UserError(`--timeout "${options.timeout}" ${timeout.error.issues[0]?.message ?? 'is not a duration'}`, 'Example: --timeout 20m');
  }
  const badName = options.passEnv.find((name) => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name));
  if (badName !== undefined) throw new UserError(`--pass-env "${badName}" is not an environment variable name`, 'Example: --pass-env HF_TOKEN');
  if (options.requirements && options.currentEnv) {
    throw new UserError('--requirements and --current-env exclude each other', 'Pass --requirements to rebuild a pinned venv, or --current-env to record the environment as it is.');
  }
  if (!options.requirements && !options.currentEnv) {
    throw new UserError(
      'record needs --requirements FILE (the run happens in a venv rebuilt from it, as verify will rerun it) or --current-env',
      '--current-env records without requirements; the packages are then frozen from the interpreter that actually ran.',
    );
  }
}

/** Inputs are checked before anything is built or run: a typo in a path never costs a training. */
async function assertInputsExist(inputs: ReadonlyArray<readonly [string, Resolved]>): Promise<void> {
  for (const [flag, input] of inputs) {
    if (!(await lstat(input.absolute).catch(() => undefined))) {
      throw new UserError(`${flag} ${input.recordRelative} does not exist`, 'Check the path (relative to the current folder), or create the file before recording.');
    }
  }
}

/** Regular files under a produced folder that the run wrote: untracked ones (the copy had them cleared) or changed tracked ones. */
async function wroteInto(sandboxRoot: string, repoRoot: string, output: string, tracked: Set<string>): Promise<boolean> {
  const entries = await readdir(path.join(sandboxRoot, output), { recursive: true, withFileTypes: true });
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const relative = path.relative(sandboxRoot, path.join(entry.parentPath, entry.name)).split(path.sep).join('/');
    if (!tracked.has(relative)) return true;
    const [now, before] = await Promise.all([sha256Path(path.join(sandboxRoot, relative)), sha256Path(path.join(repoRoot, relative)).catch(() => '')]);
    if (now !== before) return true;
  }
  return false;
}

async function checkProduced(run: SandboxedRun, repoRoot: string, isGitRepo: boolean, outputs: Resolved[]): Promise<void> {
  const tracked = new Set(isGitRepo ? await listTrackedFiles(repoRoot) : []);
  for (const output of outputs) {
    const stats = await lstat(path.join(run.root, output.repoRelative)).catch(() => undefined);
    const produced = stats?.isFile() || (stats?.isDirectory() && (await wroteInto(run.root, repoRoot, output.repoRelative, tracked)));
    if (!produced) {
      throw new UserError(
        `the command did not produce ${output.recordRelative}${stats?.isDirectory() ? ' (nothing was written into the folder)' : ''}`,
        'Only outputs written by this run can be recorded; check the --artifact and --metrics paths (relative to the current folder).',
      );
    }
  }
}

/** The produced outputs, copied from the sandbox to where the user expects them, ready to commit with the record. */
async function deliverOutputs(run: SandboxedRun, outputs: Resolved[]): Promise<void> {
  for (const output of outputs) {
    await mkdir(path.dirname(output.absolute), { recursive: true });
    await cp(path.join(run.root, output.repoRelative), output.absolute, { recursive: true, force: true });
  }
}

async function environmentFields(environment: PreparedEnvironment, run: SandboxedRun, warnings: string[]) {
  if (environment.python) {
    return { python: recordedPythonVersion(environment.report.python.actual), packages: environment.packages ?? {}, platform: environment.report.platform.actual };
  }
  const ran = await interpreterThatRan(run.trace);
  if (!ran) {
    warnings.push('no Python process ran, so the record pins no Python environment');
    return {};
  }
  warnings.push(...ran.warnings);
  return { python: recordedPythonVersion(ran.version), packages: ran.packages, platform: ran.platform };
}

/**
 * `repro-gate record`: runs the command exactly as `verify` will rerun it (the rebuilt venv, an isolated copy of the
 * working tree, the same variables and seeds, the probe) and writes a complete run record, validated against the
 * schema `verify` uses, atomically. The outputs are copied back to the working tree to be committed with it.
 */
export async function recordRun(options: RecordOptions): Promise<RecordResult> {
  checkFlags(options);
  const out = path.resolve(options.out);
  await mkdir(path.dirname(out), { recursive: true });
  const recordDir = await realpath(path.dirname(out));
  const gitRoot = await findRepoRoot(recordDir);
  const repoRoot = gitRoot ? await realpath(gitRoot) : recordDir;
  const resolve = makeResolver(recordDir, repoRoot);
  const warnings: string[] = [];
  const stages: StageTiming[] = [];
  const stage: StageRunner = async (name, run) => {
    const started = performance.now();
    try {
      return await options.hooks.group(`record: ${name}`, run);
    } finally {
      stages.push({ stage: name, durationMs: Math.round(performance.now() - started) });
    }
  };

  const [workdir, artifacts, metrics, data, config, requirements] = await Promise.all([
    resolve(process.cwd(), 'the current folder'),
    Promise.all(options.artifacts.map((p) => resolve(p, options.numeric.includes(p) ? '--numeric' : '--artifact'))),
    options.metrics ? resolve(options.metrics, '--metrics') : undefined,
    Promise.all(
      options.data.map(async (entry) => ({
        data: await resolve(entry.path, '--data'),
        manifest: entry.manifest ? await resolve(entry.manifest, '--data (manifest)') : undefined,
      })),
    ),
    Promise.all(options.config.map((p) => resolve(p, '--config'))),
    options.requirements ? resolve(options.requirements, '--requirements') : undefined,
  ]);
  const outputs = [...artifacts, ...(metrics ? [metrics] : [])];
  await assertInputsExist([
    ...data.flatMap((entry) => [['--data', entry.data] as const, ...(entry.manifest ? [['--data (manifest)', entry.manifest] as const] : [])]),
    ...config.map((entry) => ['--config', entry] as const),
    ...(requirements ? [['--requirements', requirements] as const] : []),
  ]);

  // Made first, so a venv that fails to build leaves pip's whole output next to where the rerun log would be.
  const logDir = await mkdtemp(path.join(tmpdir(), 'repro-gate-record-'));
  const prepare = (sandboxRoot: string) =>
    stage('environment', async () =>
      prepareEnvironment({
        python: options.python,
        requirementsFile: requirements ? await inCopy(sandboxRoot, requirements) : undefined,
        requirementsDisplayPath: requirements?.recordRelative,
        installDir: sandboxRoot,
        cacheRoot: options.cacheRoot,
        remoteCache: options.remoteCache,
        log: (line) => options.hooks.info(line),
        logDir,
      }),
    );
  const logFile = path.join(logDir, LOG_FILE_NAME);
  const run = await runInSandbox({
    repoRoot,
    isGitRepo: gitRoot !== undefined,
    command: options.command,
    workdir: workdir.repoRelative,
    copyPaths: data.flatMap((entry) => [entry.data, ...(entry.manifest ? [entry.manifest] : [])]).map((p) => p.repoRelative),
    outputs: outputs.map((output) => output.repoRelative),
    prepareEnvironment: prepare,
    variables: options.variables,
    passEnv: options.passEnv,
    seeds: options.seeds,
    timeoutMs: options.timeout ? parseDuration(options.timeout) : Number.POSITIVE_INFINITY,
    logFile,
    stage,
    onOutput: (chunk) => options.hooks.output(chunk),
  }).catch(async (error: unknown) => {
    // Kept only when it holds pip's log: rmdir removes an empty folder and nothing else.
    await rmdir(logDir).catch(() => undefined);
    throw error;
  });
  let record: RunRecord;
  try {
    const failure = await explainFailedRun(run, repoRoot, workdir.repoRelative, logFile);
    if (failure) throw failure;
    record = await stage('compare', async () => {
      // The same checks and hashes as verify's: links, FIFOs and devices are refused by name before anything is read.
      const collected = await collectOutputs(run.root, artifacts, metrics);
      await checkProduced(run, repoRoot, gitRoot !== undefined, outputs);
      return describeRun({ options, run, collected, environment: run.environment, recordDir, repoRoot, gitRoot, workdir, artifacts, metrics, data, config, requirements, warnings, logDir });
    });
    await deliverOutputs(run, outputs);
  } finally {
    await run.dispose();
  }
  const doc = new Document(record);
  setArtifactContents(doc, (record.artifacts ?? []).map((artifact) => artifact.content));
  await writeFileAtomic(out, doc.toString({ lineWidth: 0 }));
  await rm(logDir, { recursive: true, force: true });
  return { file: out, record, warnings, stages };
}

interface RunFacts {
  options: RecordOptions;
  run: SandboxedRun;
  collected: CollectedOutputs;
  environment: PreparedEnvironment;
  recordDir: string;
  repoRoot: string;
  gitRoot: string | undefined;
  workdir: Resolved;
  artifacts: Resolved[];
  metrics: Resolved | undefined;
  data: Array<{ data: Resolved; manifest?: Resolved }>;
  config: Resolved[];
  requirements: Resolved | undefined;
  warnings: string[];
  logDir: string;
}

/** Each artifact's hash; a numeric one also gets its tensor fingerprint, read from the sandbox's copy. */
async function recordedArtifacts(facts: RunFacts): Promise<NonNullable<RunRecord['artifacts']>> {
  const { options, run, collected, artifacts } = facts;
  const numeric = new Set(options.numeric.map((given) => path.resolve(given)));
  const runPython = (args: string[]) => run.runPython(args, path.join(facts.logDir, NUMERIC_HELPER_LOG_NAME));
  const recorded = [];
  for (const artifact of artifacts) {
    const sha256 = collected.artifactHashes.get(artifact.repoRelative)!;
    if (!numeric.has(artifact.absolute)) {
      recorded.push({ path: artifact.recordRelative, sha256 });
      continue;
    }
    const spec = { path: artifact.recordRelative, sha256, compare: 'numeric' as const };
    const { content } = await measureNumericArtifact({ spec, repoRelative: artifact.repoRelative, file: path.join(run.root, artifact.repoRelative), produced: sha256 }, { recordName: '', runPython, hashTensors: true });
    recorded.push({ ...spec, content });
  }
  return recorded;
}

/** Hashes the inputs (in the working tree) and the outputs (in the sandbox) into a validated record. */
async function describeRun(facts: RunFacts): Promise<RunRecord> {
  const { options, run, collected, repoRoot, gitRoot, workdir, metrics, data, config, requirements, warnings } = facts;
  const artifactHashes = await recordedArtifacts(facts);
  const metricValues = collected.metrics ?? undefined;
  const [commit, dataHashes, configHashes, requirementsHash, environment] = await Promise.all([
    gitRoot ? headCommit(repoRoot) : undefined,
    hashEntries(data.map((entry) => entry.data)),
    hashEntries(config),
    requirements ? sha256Path(requirements.absolute) : undefined,
    environmentFields(facts.environment, run, warnings),
  ]);
  for (const [i, entry] of data.entries()) {
    if (!entry.manifest) continue;
    const manifest = await readManifest(entry.manifest.absolute, entry.manifest.recordRelative);
    if (manifest.content_hash !== undefined && manifest.content_hash !== `sha256:${dataHashes[i]!.sha256}`) {
      throw new UserError(
        `data manifest ${entry.manifest.recordRelative} has content_hash ${manifest.content_hash}, but ${entry.data.recordRelative} hashes to sha256:${dataHashes[i]!.sha256}`,
        'Update the manifest (or the data) so they agree before recording.',
      );
    }
  }
  if (gitRoot && (await hasUncommittedChanges(repoRoot))) {
    warnings.push(`the working tree has uncommitted changes, so code.commit (${commit?.slice(0, 12)}) does not fully describe this run; commit them together with the record`);
  }
  warnings.push(...run.warnings, ...run.environmentUse.warnings);
  const record: RunRecord = {
    version: RECORD_VERSION,
    name: options.name ?? defaultName(facts.recordDir),
    command: options.command,
    ...(workdir.recordRelative !== '.' ? { workdir: workdir.recordRelative } : {}),
    ...(options.timeout ? { timeout: options.timeout } : {}),
    ...(commit ? { code: { commit } } : {}),
    environment: {
      ...(environment.python ? { python: environment.python } : {}),
      ...(requirements ? { requirements: requirements.recordRelative, requirements_sha256: requirementsHash } : {}),
      ...(environment.packages ? { packages: environment.packages } : {}),
      ...(environment.platform ? { platform: environment.platform } : {}),
      ...(Object.keys(options.variables).length > 0 ? { variables: options.variables } : {}),
      ...(options.passEnv.length > 0 ? { pass_env: options.passEnv } : {}),
    },
    ...(Object.keys(options.seeds).length > 0 ? { seeds: options.seeds } : {}),
    ...(configHashes.length > 0 ? { config: configHashes } : {}),
    ...(data.length > 0
      ? { data: data.map((entry, i) => ({ ...dataHashes[i]!, ...(entry.manifest ? { manifest: entry.manifest.recordRelative } : {}) })) }
      : {}),
    ...(artifactHashes.length > 0 ? { artifacts: artifactHashes } : {}),
    ...(metrics && metricValues ? { metrics: { path: metrics.recordRelative, values: metricValues } } : {}),
  };
  const validated = RunRecordSchema.safeParse(record);
  if (!validated.success) {
    const issue = validated.error.issues[0];
    throw new UserError(`the recorded run is not a valid record: ${issue?.path.join('.')}: ${issue?.message}`, 'Check the options you passed.');
  }
  return validated.data;
}
