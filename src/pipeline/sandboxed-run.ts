import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { type EnvironmentUse, judgeEnvironmentUse } from '../compare/environment-use.js';
import type { PreparedEnvironment } from '../environment/index.js';
import type { StageTiming } from '../report/schema.js';
import { type CommandResult, createSandbox, rerunEnvironment, runCommand } from '../rerun/index.js';
import { installProbe } from '../rerun/probe/install-probe.js';
import { type ProbeTrace, readTrace } from '../rerun/probe/read-trace.js';

// The one way a command runs, for `record` and for `verify` alike: in an isolated copy of the working tree,
// in the prepared environment, with the probe watching every Python process.

export type StageRunner = <T>(stage: StageTiming['stage'], run: () => Promise<T>) => Promise<T>;

export interface SandboxedRunRequest {
  repoRoot: string;
  isGitRepo: boolean;
  command: string;
  /** Repo-relative folder the command runs in. */
  workdir: string;
  /** Repo-relative data (and manifests), copied even when git ignores them. */
  copyPaths: string[];
  /** Repo-relative outputs, cleared in the copy before the command runs. */
  outputs: string[];
  environment: PreparedEnvironment;
  variables: Record<string, string>;
  seeds: Record<string, string | number>;
  timeoutMs: number;
  logFile: string;
  /** Package names the record pins: a process outside the environment that imports one did the training's work. */
  recordedPackages: string[];
  stage: StageRunner;
  onOutput: (chunk: Buffer) => void;
}

export interface SandboxedRun {
  root: string;
  result: CommandResult;
  trace: ProbeTrace;
  environmentUse: EnvironmentUse;
  dispose(): Promise<void>;
}

export async function runInSandbox(request: SandboxedRunRequest): Promise<SandboxedRun> {
  const sandbox = await request.stage('sandbox', () =>
    createSandbox({ repoRoot: request.repoRoot, isGitRepo: request.isGitRepo, extraPaths: request.copyPaths, clearPaths: request.outputs }),
  );
  const probe = await installProbe().catch(async (error: unknown) => {
    await sandbox.dispose();
    throw error;
  });
  try {
    const { environment, variables } = request;
    const env = {
      ...rerunEnvironment({ base: process.env, binDir: environment.binDir, venvDir: environment.venvDir, variables, seeds: request.seeds }),
      ...probe.environment(sandbox.root, variables.PYTHONPATH),
    };
    const result = await request.stage('rerun', () =>
      runCommand({
        command: request.command,
        cwd: path.join(sandbox.root, request.workdir),
        env,
        timeoutMs: request.timeoutMs,
        logFile: request.logFile,
        onOutput: request.onOutput,
      }),
    );
    const trace = await readTrace(probe.traceFile);
    const environmentUse = judgeEnvironmentUse({
      processes: trace.processes,
      venvDir: environment.venvDir ? await realpath(environment.venvDir) : null,
      sandboxRoot: await realpath(sandbox.root),
      recordedPackages: request.recordedPackages,
    });
    return { root: sandbox.root, result, trace, environmentUse, dispose: sandbox.dispose };
  } catch (error) {
    await sandbox.dispose();
    throw error;
  } finally {
    await probe.dispose();
  }
}
