import { cp, lstat, mkdir, mkdtemp, readdir, realpath, rm, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Document } from 'yaml';
import { LOG_FILE_NAME, MAX_RECORD_RUNS, NUMERIC_HELPER_LOG_NAME, PYPROJECT_NAME, RECORD_VERSION, UV_LOCKFILE_NAME } from '../constants.js';
import { DEFAULT_CALIBRATION_FACTOR, MIN_CALIBRATION_RUNS } from '../compare/calibration/calibrate-metrics.js';
import { prepareEnvironment, type PreparedEnvironment, type VenvCache } from '../environment/index.js';
import { resolveImageDigest } from '../environment/container/image.js';
import type { ContainerImageRequest } from '../environment/types.js';
import { UserError } from '../errors.js';
import { findRepoRoot, headCommit, listTrackedFiles } from '../git.js';
import { runOwnFiles, uncommittedCode } from '../record/dirty-code.js';
import { sha256Path } from '../hashing/sha256.js';
import { withProgress } from './progress.js';
import { readManifest } from '../inputs/manifest.js';
import { learnedSet } from '../inputs/affected/learned-inputs.js';
import { recordedPythonVersion } from '../record/measurement.js';
import { setArtifactContents, setLearnedSet, setMachine } from '../record/update-document.js';
import { type LockfilePaths, lockfileFiles } from '../record/load.js';
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
import { inCopy, onlyInCopy, runInSandbox, type SandboxedRun, type SandboxedRunRequest, type StageRunner } from './sandboxed-run.js';
import { environmentForRepeats, repeatRun } from './repeat-run.js';
import { calibrateRuns, determinismSummary, type RunResults, type RunsCalibration } from '../compare/calibration/calibrate-runs.js';
import { calibrationEntries, writeCalibration } from '../record/calibrated-entries.js';

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
  /** `--installer uv`: the requirements are installed with `uv pip install` (written into the record). */
  installer?: 'pip' | 'uv';
  /** `--lockfile uv.lock`: a uv project, synced from its lock. */
  lockfile?: string;
  /** `--group`, `--extra`: the uv project's dependency groups and extras to sync. */
  groups?: string[];
  extras?: string[];
  /** Record without requirements: the command runs as it is, and the interpreter that ran is frozen. */
  currentEnv: boolean;
  /** `--image NAME[:TAG]`: the command runs in a container of this local image, pinned in the record by its digest. */
  image?: string;
  /** `--network`, `--gpu`: the container may reach the network; it gets the host's GPUs (with --image only). */
  network?: boolean;
  gpu?: boolean;
  seeds: Record<string, string | number>;
  /** `--determinism strict`: deterministic algorithms and one BLAS thread, written into the record. */
  strict?: boolean;
  /** `--runs N`: the command runs N times, each in a fresh sandbox, and nondeterministic outputs are calibrated. */
  runs?: number;
  /** k in tolerance = k × spread (`--calibrate-factor`). */
  calibrateFactor?: number;
  variables: Record<string, string>;
  /** `--watch GLOB`: inputs the probe cannot see (read by a C extension or another tool), relative to the repository root. */
  watch?: string[];
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
  /** With --runs: what the runs showed, a few lines for the terminal. */
  determinism?: string[];
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

/** The data's digests as the sandbox's copy was hashed: exactly what the training read. */
async function hashedData(entries: Resolved[], run: SandboxedRun) {
  return Promise.all(entries.map(async (entry) => ({ path: entry.recordRelative, sha256: run.inputHashes.get(entry.repoRelative) ?? (await sha256Path(entry.absolute)) })));
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
  checkRunsFlags(options.runs, options.calibrateFactor);
  checkEnvironmentFlags(options);
}

/** Exactly one way to provide the environment, and the flags that refine it only with it. */
function checkEnvironmentFlags(options: RecordOptions): void {
  const given = [options.requirements && '--requirements', options.lockfile && '--lockfile', options.currentEnv && '--current-env'].filter(Boolean);
  if (given.length > 1) {
    throw new UserError(`${given.join(' and ')} exclude each other`, 'Pass --requirements to rebuild a pinned venv, --lockfile uv.lock to sync a uv project, or --current-env to record the environment as it is.');
  }
  if (options.image !== undefined) {
    checkImageFlags(options);
    return;
  }
  const imageOnly = options.network ? '--network' : options.gpu ? '--gpu' : undefined;
  if (imageOnly) throw new UserError(`${imageOnly} applies to --image only`, 'Pass --image NAME:TAG to run the command in a container of that image.');
  if (given.length === 0) {
    throw new UserError(
      'record needs --requirements FILE or --lockfile uv.lock (the run happens in a venv rebuilt from it, as verify will rerun it), or --current-env',
      '--current-env records without requirements; the packages are then frozen from the interpreter that actually ran.',
    );
  }
  if (options.installer !== undefined && !options.requirements) throw new UserError('--installer applies to --requirements only', 'A --lockfile is always installed with uv.');
  const { groups = [], extras = [] } = options;
  if ((groups.length > 0 || extras.length > 0) && !options.lockfile) throw new UserError(`${groups.length > 0 ? '--group' : '--extra'} applies to --lockfile only`, 'Pass --lockfile uv.lock with the groups and extras to sync.');
  const badName = [...groups, ...extras].find((name) => !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name));
  if (badName !== undefined) throw new UserError(`"${badName}" is not a dependency group or extra name`, 'Names are letters, digits, ., _ and -, as in pyproject.toml, e.g. --group train --extra cpu.');
  const uvVariable = options.lockfile ? [...Object.keys(options.variables), ...options.passEnv].find((name) => name.startsWith('UV_')) : undefined;
  if (uvVariable) throw new UserError(`${uvVariable} cannot be set or passed for a uv project's run: UV_* variables are repro-gate's own there`, '`uv run` in the command uses the rebuilt venv as it is; leave uv\'s settings to pyproject.toml.');
  if (options.lockfile && path.basename(options.lockfile) !== UV_LOCKFILE_NAME) {
    throw new UserError(`--lockfile ${options.lockfile} is not a uv lockfile: uv names it ${UV_LOCKFILE_NAME}`, 'Run `uv lock` in the project (beside its pyproject.toml) and pass the uv.lock it writes.');
  }
}

/** With --image, the image is the environment: requirements are installed into it with its pip, nothing else. */
function checkImageFlags(options: RecordOptions): void {
  const conflicting = options.lockfile ? '--lockfile' : options.currentEnv ? '--current-env' : options.installer === 'uv' ? '--installer uv' : undefined;
  if (conflicting) {
    throw new UserError(`${conflicting} does not apply with --image`, 'Inside an image, the environment is the image itself, plus --requirements FILE installed into a venv in it with the image\'s pip.');
  }
}

/** `--runs` and `--calibrate-factor`, for `record` and `record --update` alike. */
export function checkRunsFlags(runs: number | undefined, factor: number | undefined): void {
  if (runs !== undefined && (!Number.isSafeInteger(runs) || runs < 1 || runs > MAX_RECORD_RUNS)) {
    throw new UserError(`--runs ${runs} must be a whole number from 1 to ${MAX_RECORD_RUNS}`, 'Example: --runs 5 (calibration needs at least 3 runs; 5 is recommended).');
  }
  if (runs !== undefined && runs > 1 && runs < MIN_CALIBRATION_RUNS) {
    throw new UserError(`--runs ${runs} is too few to calibrate: ${MIN_CALIBRATION_RUNS} runs are the least that show a spread worth trusting`, 'Use --runs 5 (recommended), or --runs 1 to record a single run.');
  }
  if (factor !== undefined && !(Number.isFinite(factor) && factor >= 1)) {
    throw new UserError(`--calibrate-factor ${factor} must be a number ≥ 1`, 'The tolerance is factor × the spread of the runs; 3 (the default) keeps clean reruns inside it.');
  }
  if (factor !== undefined && (runs ?? 1) < MIN_CALIBRATION_RUNS) throw new UserError('--calibrate-factor only applies with --runs N (N ≥ 3)', 'Example: --runs 5 --calibrate-factor 4');
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
      return await options.hooks.group(`record: ${name}`, () => withProgress(name, options.hooks, run));
    } finally {
      // A stage entered twice (compare: collecting the outputs, then describing them) is reported once, summed.
      const durationMs = Math.round(performance.now() - started);
      const earlier = stages.find((timing) => timing.stage === name);
      if (earlier) earlier.durationMs += durationMs;
      else stages.push({ stage: name, durationMs });
    }
  };

  const [workdir, artifacts, metrics, data, config, requirements, lockfile] = await Promise.all([
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
    options.lockfile ? resolveLockfile(resolve, options.lockfile) : undefined,
  ]);
  const outputs = [...artifacts, ...(metrics ? [metrics] : [])];
  await assertInputsExist([
    ...data.flatMap((entry) => [['--data', entry.data] as const, ...(entry.manifest ? [['--data (manifest)', entry.manifest] as const] : [])]),
    ...config.map((entry) => ['--config', entry] as const),
    ...(requirements ? [['--requirements', requirements] as const] : []),
    ...(lockfile ? [['--lockfile', lockfile.lock] as const, ['--lockfile (its pyproject.toml)', lockfile.pyproject] as const] : []),
  ]);

  const image = options.image === undefined ? undefined : { reference: await resolveImageDigest(options.image), network: options.network ?? false, gpu: options.gpu ?? false };
  // Made first, so a venv that fails to build leaves pip's whole output next to where the rerun log would be.
  const logDir = await mkdtemp(path.join(tmpdir(), 'repro-gate-record-'));
  const prepareWith = (stageRunner: StageRunner) => (sandboxRoot: string) =>
    stageRunner('environment', async () =>
      prepareEnvironment({
        python: options.python,
        requirementsFile: requirements ? await inCopy(sandboxRoot, requirements) : undefined,
        requirementsDisplayPath: requirements?.recordRelative,
        installer: options.installer,
        lockfile: lockfile ? { file: await onlyInCopy(sandboxRoot, lockfile.lock), displayPath: lockfile.lock.repoRelative, groups: options.groups ?? [], extras: options.extras ?? [] } : undefined,
        installDir: sandboxRoot,
        image,
        cacheRoot: options.cacheRoot,
        remoteCache: options.remoteCache,
        log: (line) => options.hooks.info(line),
        logDir,
      }),
    );
  const logFile = path.join(logDir, LOG_FILE_NAME);
  const request: SandboxedRunRequest = {
    repoRoot,
    isGitRepo: gitRoot !== undefined,
    command: options.command,
    workdir: workdir.repoRelative,
    copyPaths: [...data.flatMap((entry) => [entry.data, ...(entry.manifest ? [entry.manifest] : [])]), ...lockfileFiles(lockfile)].map((p) => p.repoRelative),
    hashedPaths: data.map((entry) => entry.data.repoRelative),
    outputs: outputs.map((output) => output.repoRelative),
    prepareEnvironment: prepareWith(stage),
    variables: options.variables,
    passEnv: options.passEnv,
    seeds: options.seeds,
    // What `record` writes into the record (apply_seeds: true, determinism) is what this run applies.
    seeding: { apply: true, strict: options.strict ?? false },
    timeoutMs: options.timeout ? parseDuration(options.timeout) : Number.POSITIVE_INFINITY,
    logFile,
    stage,
    onOutput: (chunk) => options.hooks.output(chunk),
  };
  const run = await runInSandbox(request).catch(async (error: unknown) => {
    // Kept only when it holds pip's log: rmdir removes an empty folder and nothing else.
    await rmdir(logDir).catch(() => undefined);
    throw error;
  });
  let record: RunRecord;
  let calibration: RunsCalibration | undefined;
  try {
    const failure = await explainFailedRun(run, repoRoot, workdir.repoRelative, logFile, outputs.map((output) => output.repoRelative));
    if (failure) throw failure;
    const collected = await stage('compare', async () => {
      // The same checks and hashes as verify's: links, FIFOs and devices are refused by name before anything is read.
      const found = await collectOutputs(run.root, artifacts, metrics);
      await checkProduced(run, repoRoot, gitRoot !== undefined, outputs);
      return found;
    });
    calibration = (options.runs ?? 1) > 1 ? await calibrateByRerunning(options, request, run, collected, { artifacts, metrics, logDir, prepareQuietly: environmentForRepeats(run, prepareWith((_stage, work) => work())) }) : undefined;
    record = await stage('compare', () =>
      describeRun({ options, run, collected, calibration, environment: run.environment, image, recordDir, repoRoot, gitRoot, workdir, artifacts, metrics, data, config, requirements, lockfile, warnings, logDir }),
    );
    await deliverOutputs(run, outputs);
  } finally {
    await run.dispose();
  }
  const doc = new Document(record);
  setArtifactContents(doc, (record.artifacts ?? []).map((artifact) => artifact.content));
  if (record.environment?.machine) setMachine(doc, record.environment.machine);
  if (record.code?.files) setLearnedSet(doc, { files: record.code.files, listed: record.code.listed });
  if (calibration) warnings.push(...writeCalibration(doc, calibrationEntries(calibration, artifacts.map((artifact) => artifact.repoRelative)), calibration.metrics.values));
  await writeFileAtomic(out, doc.toString({ lineWidth: 0 }));
  await rm(logDir, { recursive: true, force: true });
  return { file: out, record, warnings, stages, ...(calibration ? { determinism: determinismSummary(calibration) } : {}) };
}

interface RunFacts {
  options: RecordOptions;
  run: SandboxedRun;
  collected: CollectedOutputs;
  calibration: RunsCalibration | undefined;
  environment: PreparedEnvironment;
  /** `--image`, resolved to its digest. */
  image: ContainerImageRequest | undefined;
  recordDir: string;
  repoRoot: string;
  gitRoot: string | undefined;
  workdir: Resolved;
  artifacts: Resolved[];
  metrics: Resolved | undefined;
  data: Array<{ data: Resolved; manifest?: Resolved }>;
  config: Resolved[];
  requirements: Resolved | undefined;
  lockfile: LockfilePaths<Resolved> | undefined;
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
    // A calibrated artifact keeps a sample of its elements: verify judges a moved tensor on it when there is no baseline.
    const calibrated = facts.calibration?.artifacts.some((entry) => entry.path === artifact.repoRelative && entry.status === 'calibrated');
    const spec = { path: artifact.recordRelative, sha256, compare: 'numeric' as const };
    // The record gets `fingerprint: sampled` from the calibration, written with its origin (src/record/calibrated-entries.ts).
    const measuredAs = calibrated ? { ...spec, fingerprint: 'sampled' as const } : spec;
    const { content } = await measureNumericArtifact({ spec: measuredAs, repoRelative: artifact.repoRelative, file: path.join(run.root, artifact.repoRelative), produced: sha256 }, { recordName: '', runPython, hashTensors: true });
    recorded.push({ ...spec, content });
  }
  return recorded;
}

/** The groups and extras synced, when there are any: a record without them syncs the project's dependencies alone. */
function uvSelection(options: RecordOptions): { uv?: { groups?: string[]; extras?: string[] } } {
  const { groups = [], extras = [] } = options;
  if (groups.length === 0 && extras.length === 0) return {};
  return { uv: { ...(groups.length > 0 ? { groups } : {}), ...(extras.length > 0 ? { extras } : {}) } };
}

/** The lockfile and the pyproject.toml beside it, both inside the repository. */
async function resolveLockfile(resolve: ReturnType<typeof makeResolver>, given: string): Promise<LockfilePaths<Resolved>> {
  const lock = await resolve(given, '--lockfile');
  return { lock, pyproject: await resolve(path.join(path.dirname(given), PYPROJECT_NAME), '--lockfile (its pyproject.toml)') };
}

/** Hashes the inputs (in the working tree) and the outputs (in the sandbox) into a validated record. */
async function describeRun(facts: RunFacts): Promise<RunRecord> {
  const { options, run, collected, repoRoot, gitRoot, workdir, metrics, data, config, requirements, lockfile, warnings } = facts;
  const artifactHashes = await recordedArtifacts(facts);
  const metricValues = facts.calibration?.metrics.values ?? collected.metrics ?? undefined;
  if (facts.calibration) warnings.push(...facts.calibration.warnings);
  const recordPath = path.relative(repoRoot, path.join(facts.recordDir, path.basename(options.out))).split(path.sep).join('/');
  const declared = [...data.flatMap((entry) => [entry.data, ...(entry.manifest ? [entry.manifest] : [])]), ...config, ...(requirements ? [requirements] : []), ...(lockfile ? [lockfile.lock] : [])];
  const excluded = [...facts.artifacts, ...(metrics ? [metrics] : []), ...declared].map((entry) => entry.repoRelative).concat(recordPath);
  const [commit, dataHashes, configHashes, requirementsHash, lockfileHash, environment, learned] = await Promise.all([
    gitRoot ? headCommit(repoRoot) : undefined,
    hashedData(data.map((entry) => entry.data), run),
    hashEntries(config),
    requirements ? sha256Path(requirements.absolute) : undefined,
    lockfile ? sha256Path(lockfile.lock.absolute) : undefined,
    environmentFields(facts.environment, run, warnings),
    learnedSet(options.command, run.root, run.trace, { repoRoot, excluded, uvProject: lockfile !== undefined }),
  ]);
  if ('gap' in learned) warnings.push(`no input set (code.files) was learned, so verify --affected always reruns this record: ${learned.gap}`);
  const codeFiles = 'set' in learned ? learned.set : undefined;
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
  const uncommitted = gitRoot && commit ? await uncommittedCode(repoRoot, commit, runOwnFiles({ data, artifacts: facts.artifacts, metrics }, recordPath)) : undefined;
  if (uncommitted && uncommitted.length > 0) {
    const shown = uncommitted.slice(0, 5).join(', ') + (uncommitted.length > 5 ? ` and ${uncommitted.length - 5} more` : '');
    warnings.push(`the working tree has uncommitted changes (${shown}), so code.commit (${commit?.slice(0, 12)}) does not hold the code that ran: the record is marked code.dirty, and verify --at recorded (scheduled audits) will refuse it. Commit the code first, then record`);
  }
  warnings.push(...run.warnings, ...run.environmentUse.warnings);
  const record: RunRecord = {
    version: RECORD_VERSION,
    name: options.name ?? defaultName(facts.recordDir),
    command: options.command,
    ...(workdir.recordRelative !== '.' ? { workdir: workdir.recordRelative } : {}),
    ...(options.timeout ? { timeout: options.timeout } : {}),
    ...(commit || codeFiles || options.watch?.length
      ? { code: { ...(commit ? { commit } : {}), ...(uncommitted?.length ? { dirty: true } : {}), ...(codeFiles ?? {}), ...(options.watch?.length ? { watch: options.watch } : {}) } }
      : {}),
    environment: {
      ...(facts.image ? { image: facts.image.reference, ...(facts.image.network ? { network: true } : {}), ...(facts.image.gpu ? { gpu: true } : {}) } : {}),
      ...(environment.python ? { python: environment.python } : {}),
      ...(requirements ? { requirements: requirements.recordRelative, requirements_sha256: requirementsHash, ...(options.installer ? { installer: options.installer } : {}) } : {}),
      ...(lockfile ? { lockfile: lockfile.lock.recordRelative, lockfile_sha256: lockfileHash, ...uvSelection(options) } : {}),
      ...(environment.packages ? { packages: environment.packages } : {}),
      ...(environment.platform ? { platform: environment.platform } : {}),
      machine: run.machine,
      ...(Object.keys(options.variables).length > 0 ? { variables: options.variables } : {}),
      ...(options.passEnv.length > 0 ? { pass_env: options.passEnv } : {}),
    },
    ...(Object.keys(options.seeds).length > 0 ? { seeds: options.seeds } : {}),
    apply_seeds: true,
    ...((options.strict ?? false) ? { determinism: 'strict' as const } : {}),
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

/**
 * `record --runs N`: runs 2..N, each in a fresh sandbox, measured against the first run (which stays the one
 * delivered and recorded, with its metrics at the median of all runs when they vary).
 */
async function calibrateByRerunning(
  options: RecordOptions,
  request: SandboxedRunRequest,
  first: SandboxedRun,
  collected: CollectedOutputs,
  where: { artifacts: Resolved[]; metrics: Resolved | undefined; logDir: string; prepareQuietly: SandboxedRunRequest['prepareEnvironment'] },
): Promise<RunsCalibration> {
  const quiet: StageRunner = (_stage, work) => work();
  const numeric = new Map(
    where.artifacts.filter((artifact) => options.numeric.some((given) => path.resolve(given) === artifact.absolute)).map((artifact) => [artifact.repoRelative, { path: artifact.recordRelative, sha256: '', compare: 'numeric' as const }]),
  );
  const outputs = { artifacts: where.artifacts, metrics: where.metrics, numeric, helperLog: path.join(where.logDir, NUMERIC_HELPER_LOG_NAME) };
  const reference = { root: first.root, artifacts: collected.artifactHashes };
  const runs: RunResults[] = [{ metrics: collected.metrics, artifacts: collected.artifactHashes, numeric: new Map() }];
  const total = options.runs ?? 1;
  for (let index = 2; index <= total; index++) {
    const outcome = await options.hooks.group(`record: run ${index} of ${total}`, () =>
      repeatRun({ ...request, expectedHashes: first.inputHashes, logFile: path.join(where.logDir, `run-${index}.log`), prepareEnvironment: where.prepareQuietly, stage: quiet }, index, outputs, reference),
    );
    if (outcome.failure) {
      throw new UserError(
        `run ${index} of ${total} failed (${outcome.failure}) where run 1 succeeded`,
        'A training that fails now and then cannot be recorded: fix what makes it flaky, or record with fewer --runs.',
      );
    }
    runs.push(outcome);
  }
  const policies = new Map(where.artifacts.map((artifact) => [artifact.repoRelative, numeric.has(artifact.repoRelative) ? ('numeric' as const) : ('exact' as const)]));
  return calibrateRuns(runs, policies, options.calibrateFactor ?? DEFAULT_CALIBRATION_FACTOR);
}
