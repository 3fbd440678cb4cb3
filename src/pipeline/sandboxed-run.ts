import { realpath, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { type EnvironmentUse, judgeEnvironmentUse } from '../compare/environment-use.js';
import type { PreparedEnvironment } from '../environment/index.js';
import { withoutSecrets } from '../child-env.js';
import { discardChangedFolders, fingerprintFolder } from '../environment/cache/index.js';
import { changedVenvFiles, fingerprintVenv } from '../environment/venv-integrity.js';
import { UserError } from '../errors.js';
import { CONTAINER_SANDBOX_DIR, HELPER_TIMEOUT_MS } from '../constants.js';
import type { ResolvedPath } from '../record/paths.js';
import { type CommandResult, createSandbox, rerunEnvironment, runCommand, type Sandbox } from '../rerun/index.js';
import { type InstalledProbe, installProbe } from '../rerun/probe/install-probe.js';
import { containerLauncher, pathInContainer, pathOnHost } from '../rerun/container-launcher.js';
import type { ContainerMount } from '../environment/container/run-arguments.js';
import { type ProbeTrace, readTrace } from '../rerun/probe/read-trace.js';
import { changedPaths, fingerprintWorkingTree } from '../rerun/working-tree-guard.js';
import { shellQuote } from '../rerun/shell-quote.js';
import { seedPlan } from '../rerun/seeding/seed-plan.js';
import { collectHostFingerprint } from '../environment/machine/host.js';
import { runFingerprint } from '../environment/machine/run-fingerprint.js';
import type { MachineFingerprint } from '../environment/machine/schema.js';
import { describeSeeding } from '../rerun/seeding/seeding-report.js';
import type { SeedingReport, StageTiming } from '../report/schema.js';

// The one way a command runs, for `record` and for `verify` alike: in an isolated copy of the working tree,
// in the prepared environment, with the probe watching every Python process.

export type StageRunner = <T>(stage: StageTiming['stage'], run: () => Promise<T>) => Promise<T>;

export interface SandboxedRunRequest {
  repoRoot: string;
  /** `verify --at recorded`: the recorded commit's files, the copy's code (the data still comes from `repoRoot`). */
  codeRoot?: string;
  isGitRepo: boolean;
  command: string;
  /** Repo-relative folder the command runs in, and the record's line for it (errors point there). */
  workdir: string;
  workdirLine?: number;
  /** Repo-relative data (and manifests), copied even when git ignores them. */
  copyPaths: string[];
  /** The data among them, hashed as it is copied (each file read once). */
  hashedPaths: string[];
  /**
   * The data's digests the inputs stage saw, when it hashed the data itself: a copy that differs (data changed while
   * repro-gate ran) fails the run, so a rerun never trains on other data than was checked.
   */
  expectedHashes?: ReadonlyMap<string, string>;
  /** Repo-relative outputs, cleared in the copy before the command runs. */
  outputs: string[];
  /** Prepares the environment once the copy exists: pip installs from the copy, never from the checkout. */
  prepareEnvironment: (sandboxRoot: string) => Promise<PreparedEnvironment>;
  variables: Record<string, string>;
  /** Host variables the record passes through (`environment.pass_env`). */
  passEnv: string[];
  seeds: Record<string, string | number>;
  /** `apply_seeds` and `determinism: strict` of the record. */
  seeding: { apply: boolean; strict: boolean };
  timeoutMs: number;
  logFile: string;
  /**
   * Package names the record pins: a process outside the environment that imports one did the training's work.
   * Default: the packages of the prepared environment (when recording).
   */
  recordedPackages?: string[];
  stage: StageRunner;
  onOutput: (chunk: Buffer) => void;
  /** A deliberate change to how the command runs (`verify --vary`): its environment, or the sandbox's path depth. */
  variation?: RunVariation;
}

export interface RunVariation {
  name: string;
  extraDepth?: number;
  /** Pure: the command's environment under the variation. */
  environment?: (env: NodeJS.ProcessEnv) => NodeJS.ProcessEnv;
}

export interface SandboxedRun {
  root: string;
  /** The variation it ran under (`verify --vary`), if any. */
  variation?: string;
  result: CommandResult;
  trace: ProbeTrace;
  /** The hardware and native libraries the run had (host CPU and GPUs, the BLAS its Python loaded). */
  machine: MachineFingerprint;
  /** What the probe did with the seeds; absent when the record only exports them. */
  seeding?: SeedingReport;
  environment: PreparedEnvironment;
  environmentUse: EnvironmentUse;
  /** The digest of each hashed input as copied into the sandbox: what the command read. */
  inputHashes: Map<string, string>;
  /** What the reader should know about how the run was set up (e.g. links left out of the copy). */
  warnings: string[];
  /** Paths of the user's repository that changed while the command ran: it wrote outside its sandbox. */
  outsideWrites: string[];
  /**
   * Runs the environment's python with `args` the way the command ran (sandbox, environment, containment, timeout),
   * for helpers that must execute the project's code, such as unpickling a model. A write outside the sandbox fails it.
   */
  runPython: (args: string[], logFile: string) => Promise<{ exitCode: number | null; stderr: string }>;
  dispose(): Promise<void>;
}

/** The host does not change while repro-gate runs: read once (nvidia-smi takes a moment). */
let hostFingerprintOnce: ReturnType<typeof collectHostFingerprint> | undefined;
function hostFingerprint(): ReturnType<typeof collectHostFingerprint> {
  hostFingerprintOnce ??= collectHostFingerprint();
  return hostFingerprintOnce;
}

function listed(items: string[]): string {
  return `${items.slice(0, 5).join(', ')}${items.length > 5 ? ` and ${items.length - 5} more` : ''}`;
}

/** A container's mounts: the sandbox's folder read-write, and over it the probe's module (installed there) read-only. */
function containerMounts(base: string, probeModule: string): ContainerMount[] {
  const sandbox = { host: base, container: CONTAINER_SANDBOX_DIR };
  return [sandbox, { host: probeModule, container: pathInContainer([sandbox], probeModule)!, readOnly: true }];
}

/**
 * Paths a helper is given outside the sandbox (a baseline's model, the helper's own output folder): each mounted at
 * its own path from where it really is (no link followed at mount time), files read-only.
 */
async function helperMounts(mounts: ContainerMount[], args: string[]): Promise<ContainerMount[]> {
  const outside = args.filter((arg) => path.isAbsolute(arg) && pathInContainer(mounts, arg) === undefined);
  const found = await Promise.all(outside.map(async (arg) => ({ arg, real: await realpath(arg).catch(() => undefined), info: await stat(arg).catch(() => undefined) })));
  return found.flatMap(({ arg, real, info }) => (real && info ? [{ host: real, container: arg, readOnly: !info.isDirectory() }] : []));
}

/** The values of the host variables a record passes through (`environment.pass_env`); the job's tokens never. */
function passedFromHost(names: string[]): NodeJS.ProcessEnv {
  return withoutSecrets(Object.fromEntries(names.filter((name) => process.env[name] !== undefined).map((name) => [name, process.env[name]])));
}

/** The one message for a command that wrote into the user's repository; nothing is undone. */
export function outsideWritesError(paths: string[]): UserError {
  const shown = paths.slice(0, 10).join(', ');
  return new UserError(
    `the command wrote outside its sandbox: ${shown}${paths.length > 10 ? ` and ${paths.length - 10} more` : ''} changed in the repository while it ran (repro-gate did not undo this)`,
    'Write outputs relative to the working folder; never into the repository by absolute path, through $GITHUB_WORKSPACE or with `cd ..`. Check those files in your working tree.',
    { field: 'command' },
  );
}

/** A file of the repository as the sandbox's copy has it (pip resolves `-e .` next to it), or where it is when not copied. */
export async function inCopy(sandboxRoot: string, file: ResolvedPath): Promise<string> {
  const copy = path.join(sandboxRoot, file.repoRelative);
  return (await stat(copy).then((info) => info.isFile(), () => false)) ? copy : file.absolute;
}

/** A file of the repository in the sandbox's copy only (a uv project's lock, which uv works beside): never the checkout's. */
export async function onlyInCopy(sandboxRoot: string, file: ResolvedPath): Promise<string> {
  const copy = path.join(sandboxRoot, file.repoRelative);
  if (await stat(copy).then((info) => info.isFile(), () => false)) return copy;
  throw new UserError(`${file.repoRelative} is not in the copy of the repository the command runs in`, 'Make sure git does not ignore it, and that it is a regular file (not a link out of the repository).');
}

/** The sandbox a run of `request` needs: the working tree and its data, the data hashed as it is copied. */
export function createRunSandbox(request: SandboxedRunRequest): Promise<Sandbox> {
  return request.stage('sandbox', () =>
    createSandbox({
      repoRoot: request.repoRoot,
      codeRoot: request.codeRoot,
      isGitRepo: request.isGitRepo,
      extraPaths: request.copyPaths,
      clearPaths: request.outputs,
      extraDepth: request.variation?.extraDepth,
      hashedPaths: request.hashedPaths,
    }),
  );
}

/** Data whose copy hashes otherwise than the inputs stage saw it: it changed while repro-gate ran. */
function checkCopiedData(sandbox: Sandbox, expected: ReadonlyMap<string, string> | undefined): void {
  for (const [relative, digest] of expected ?? []) {
    const copied = sandbox.hashes.get(relative);
    if (copied === digest) continue;
    const now = copied === undefined ? 'is gone' : `hashes to ${copied.slice(0, 12)}`;
    throw new UserError(
      `data ${relative} changed while repro-gate was verifying it: its copy for the rerun ${now}, not ${digest.slice(0, 12)} as checked`,
      'Make sure nothing writes to the data while repro-gate runs, then verify again.',
      { field: 'data' },
    );
  }
}

/** Runs the request in `prepared` (a sandbox made for it, then owned by the run) or in a new sandbox. */
export async function runInSandbox(request: SandboxedRunRequest, prepared?: Sandbox): Promise<SandboxedRun> {
  // Read before the command runs: nvidia-smi is found on PATH, which the command could otherwise have changed.
  const host = hostFingerprint();
  const sandbox = prepared ?? (await createRunSandbox(request));
  let environment: PreparedEnvironment | undefined;
  let probe: InstalledProbe | undefined;
  const disposeAll = async () => {
    await Promise.all([sandbox.dispose(), environment?.dispose?.()]);
  };
  try {
    checkCopiedData(sandbox, request.expectedHashes);
    environment = await request.prepareEnvironment(sandbox.root);
    const { container } = environment;
    // In a container, the one mount is the sandbox's folder; the probe goes there too, and every path the command
    // is given is the container's. On the host, the probe stays outside the sandbox.
    probe = await installProbe(container ? sandbox.base : undefined);
    const mounts = container ? containerMounts(sandbox.base, probe.moduleDir) : [];
    const visible = (hostPath: string) => pathInContainer(mounts, hostPath) ?? hostPath;
    const { variables } = request;
    const cwd = path.join(sandbox.root, request.workdir);
    if (!(await stat(cwd).then((info) => info.isDirectory(), () => false))) {
      throw new UserError(
        `workdir ${request.workdir} is not a folder in the copy of the repository the command runs in`,
        'The working folder must be a folder that git tracks files in (an ignored or empty folder is not copied); check `workdir` in the record.',
        { field: 'workdir', line: request.workdirLine },
      );
    }
    const seedingPolicy = { seeds: request.seeds, ...request.seeding, variables };
    const plan = seedPlan(seedingPolicy);
    // A uv project's own code comes from this sandbox's copy, ahead of the record's own PYTHONPATH (if any).
    const importPaths = (environment.importPaths ?? []).map((folder) => visible(path.join(sandbox.root, folder)));
    const pythonPath = [...importPaths, ...(variables.PYTHONPATH === undefined ? [] : [variables.PYTHONPATH])].join(path.delimiter) || undefined;
    const probeVariables = { ...probe.environment(visible(sandbox.root), pythonPath, request.copyPaths, visible), ...plan.probe };
    // Helpers run without the probe: the project's own PYTHONPATH (if any) is what they need to import its classes.
    const restoredPythonPath = pythonPath === undefined ? {} : { PYTHONPATH: pythonPath };
    const unvaried = {
      ...rerunEnvironment({
        // In a container nothing of the host's environment is passed: PATH is the image's, plus what pass_env names.
        base: container ? { ...passedFromHost(request.passEnv), PATH: container.path } : withoutSecrets(process.env),
        binDir: environment.binDir,
        venvDir: environment.venvDir,
        toolBinDir: environment.toolBinDir,
        // The environment's own variables win: a record cannot make `uv run` sync into, or read past, the rebuilt venv.
        variables: { ...plan.environment, ...variables, ...environment.variables },
        seeds: request.seeds,
        passEnv: request.passEnv,
        sandbox: { root: visible(sandbox.root), home: visible(sandbox.home), tmp: visible(sandbox.tmp) },
        cwd: visible(cwd),
      }),
      ...probeVariables,
    };
    const env = request.variation?.environment?.(unvaried) ?? unvaried;
    const launcher = container ? containerLauncher(container, mounts, request.passEnv) : undefined;
    // A venv inside a container is the image's: the runtime keeps it unchanged, and the host has no such path.
    const venvDir = container ? null : environment.venvDir;
    const cache = environment.protectedCache ?? { root: '', folders: [] };
    const [before, venvBefore, venvRealPath, cacheBefore] = await Promise.all([
      fingerprintWorkingTree(request.repoRoot, request.isGitRepo),
      venvDir ? fingerprintVenv(venvDir) : undefined,
      venvDir ? realpath(venvDir) : null,
      Promise.all(cache.folders.map((folder) => fingerprintFolder(folder))),
    ]);
    const result = await request.stage('rerun', () =>
      runCommand({
        command: request.command,
        cwd,
        env,
        timeoutMs: request.timeoutMs,
        logFile: request.logFile,
        onOutput: request.onOutput,
        launcher,
      }),
    );
    const outsideWrites = changedPaths(before, await fingerprintWorkingTree(request.repoRoot, request.isGitRepo, before));
    const venvChanges = venvDir && venvBefore ? changedVenvFiles(venvBefore, await fingerprintVenv(venvDir)) : [];
    if (venvChanges.length > 0 && venvDir) await rm(venvDir, { recursive: true, force: true });
    else await environment.saveToRemoteCache?.();
    const tampered = await discardChangedFolders(cache, cacheBefore);
    // The probe reports real paths: mapped back onto the sandbox's real path, they compare with everything else.
    const realMounts = container ? [{ host: await realpath(sandbox.base), container: CONTAINER_SANDBOX_DIR }] : [];
    const trace = await readTrace(probe.traceFile, container ? (seen) => pathOnHost(realMounts, seen) : undefined);
    const environmentUse = judgeEnvironmentUse({
      processes: trace.processes,
      venvDir: container ? environment.venvDir : venvRealPath,
      sandboxRoot: await realpath(sandbox.root),
      recordedPackages: request.recordedPackages ?? Object.keys(environment.packages ?? {}),
    });
    const seeding = describeSeeding(seedingPolicy, plan, trace);
    const warnings = [
      ...seeding.warnings,
      ...(sandbox.omittedLinks.length > 0 ? [`left out of the sandbox, as links that lead outside the repository: ${listed(sandbox.omittedLinks)}`] : []),
      ...(venvChanges.length > 0 ? [`the command changed the cached venv (${listed(venvChanges)}): it was discarded, not reused or saved to the cache`] : []),
      ...tampered.map((folder) => `the command changed ${folder}, which later venv builds read: it was removed (its downloads are fetched again)`),
    ];
    const helperEnvironment = Object.fromEntries(Object.entries(env).filter(([name]) => !Object.hasOwn(probeVariables, name)));
    // The interpreter the command ran with: the venv's, or in the current environment the first one the probe saw.
    const python = environment.python ?? trace.processes[0]?.executable ?? 'python3';
    const runPython = async (args: string[], logFile: string) => {
      // In a container, the helper's files are given as it sees them: in the sandbox's mount, or mounted on their own.
      const helperMountList = container ? [...mounts, ...(await helperMounts(mounts, args))] : [];
      const seenArgs = args.map((arg) => (container && path.isAbsolute(arg) ? (pathInContainer(helperMountList, arg) ?? arg) : arg));
      const helper = await runCommand({
        command: ['exec', python, ...seenArgs].map(shellQuote).join(' '),
        cwd,
        env: { ...helperEnvironment, ...restoredPythonPath },
        timeoutMs: Math.min(request.timeoutMs, HELPER_TIMEOUT_MS),
        logFile,
        launcher: container ? containerLauncher(container, helperMountList, request.passEnv) : undefined,
      });
      const written = changedPaths(before, await fingerprintWorkingTree(request.repoRoot, request.isGitRepo, before));
      if (written.length > 0) throw outsideWritesError(written);
      // The helper runs the project's code after the venv was checked (and maybe saved to a cache): checked again.
      const venvChanged = venvDir && venvBefore ? changedVenvFiles(venvBefore, await fingerprintVenv(venvDir)) : [];
      if (venvChanged.length > 0 && venvDir) {
        await rm(venvDir, { recursive: true, force: true });
        throw new UserError(
          `reading the model changed the cached venv (${listed(venvChanged)}); it was discarded`,
          'Unpickling ran code that writes into the environment: compare this artifact with `compare: exact`, or save its arrays in a format that runs no code (safetensors, .npy).',
        );
      }
      if (helper.timedOut) return { exitCode: null, stderr: `timed out after ${Math.round(Math.min(request.timeoutMs, HELPER_TIMEOUT_MS) / 1000)} s` };
      return { exitCode: helper.exitCode, stderr: helper.logTail };
    };
    const machine = runFingerprint(await host, trace.processes);
    return { root: sandbox.root, variation: request.variation?.name, result, trace, machine, seeding: seeding.report, environment, environmentUse, inputHashes: sandbox.hashes, warnings, outsideWrites, runPython, dispose: disposeAll };
  } catch (error) {
    await disposeAll();
    throw error;
  } finally {
    await probe?.dispose();
  }
}
