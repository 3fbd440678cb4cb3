import { stat } from 'node:fs/promises';
import path from 'node:path';
import { changesSinceSealed } from '../environment/venv-integrity.js';
import type { ResolvedPath } from '../record/paths.js';
import type { ArtifactSpec } from '../record/schema.js';
import type { NumericCheck } from '../report/schema.js';
import { collectOutputs } from './collect-outputs.js';
import { measureNumericArtifact } from './numeric-artifacts.js';
import { outsideWritesError, runInSandbox, type SandboxedRun, type SandboxedRunRequest } from './sandboxed-run.js';

// One more run of a command, for calibration (`record --runs`), classification (`verify --runs`) and diagnosis
// (`verify --vary`): its outputs, and how its numeric artifacts compare with the first run's, element by element.

export interface RunOutcome {
  /** 1 for the first run. */
  index: number;
  variation?: string;
  durationMs: number;
  /** Why the run has no outputs to compare (it failed or timed out). */
  failure?: string;
  metrics: Record<string, number> | null;
  artifacts: Map<string, string | null>;
  /** Numeric artifacts whose bytes differ from the first run's, compared with its files tensor by tensor. */
  numeric: Map<string, NumericCheck>;
}

export interface RunOutputs {
  artifacts: ResolvedPath[];
  metrics?: ResolvedPath;
  /** The record's policy for each numeric artifact, by repo-relative path. */
  numeric: ReadonlyMap<string, ArtifactSpec>;
  /** Where the pickle reader's log goes. */
  helperLog: string;
}

/** What a finished run failed of, in one line; undefined when it completed. */
export function runFailure(run: SandboxedRun): string | undefined {
  const { result } = run;
  if (result.timedOut) return 'timed out';
  if (result.exitCode !== 0) return result.signal ? `killed by ${result.signal}` : `exit status ${result.exitCode}`;
  return run.environmentUse.problem?.message;
}

/** The outcome of a run that completed (or not): hashes and metrics of its outputs. */
export async function outcomeOf(run: SandboxedRun, index: number, outputs: RunOutputs, reference?: { root: string; artifacts: ReadonlyMap<string, string | null> }): Promise<RunOutcome> {
  if (run.outsideWrites.length > 0) throw outsideWritesError(run.outsideWrites);
  const base = { index, durationMs: Math.round(run.result.durationMs), ...(run.variation ? { variation: run.variation } : {}) };
  const failure = runFailure(run);
  if (failure) return { ...base, failure, metrics: null, artifacts: new Map(), numeric: new Map() };
  const collected = await collectOutputs(run.root, outputs.artifacts, outputs.metrics);
  const numeric = new Map<string, NumericCheck>();
  for (const [repoRelative, spec] of outputs.numeric) {
    const produced = collected.artifactHashes.get(repoRelative);
    const expected = reference?.artifacts.get(repoRelative);
    if (!reference || !produced || !expected || produced === expected) continue;
    const asFirstRun = { ...spec, sha256: expected, content: undefined };
    const { check } = await measureNumericArtifact(
      { spec: asFirstRun, repoRelative, file: path.join(run.root, repoRelative), produced },
      { recordName: '', baselineDir: reference.root, runPython: (args) => run.runPython(args, outputs.helperLog), hashTensors: false },
    );
    if (check) numeric.set(repoRelative, check);
  }
  return { ...base, metrics: collected.metrics, artifacts: collected.artifactHashes, numeric };
}

/** Runs the command once more in a fresh sandbox and measures it against the first run; the sandbox is gone after. */
export async function repeatRun(
  request: SandboxedRunRequest,
  index: number,
  outputs: RunOutputs,
  reference: { root: string; artifacts: ReadonlyMap<string, string | null> },
): Promise<RunOutcome> {
  const run = await runInSandbox(request);
  try {
    return await outcomeOf(run, index, outputs, reference);
  } finally {
    await run.dispose();
  }
}

/**
 * Repeats reuse the first run's cached venv instead of preparing it again (it is fingerprinted around every run
 * anyway); a venv built for one run only, or discarded because the first run changed it, is prepared again.
 */
export function environmentForRepeats(first: SandboxedRun, prepareAgain: SandboxedRunRequest['prepareEnvironment']): SandboxedRunRequest['prepareEnvironment'] {
  return async (sandboxRoot) => {
    const { environment } = first;
    const { venvDir } = environment;
    // Still there, and still as sealed: a process that outlived an earlier run must not have changed it in between.
    const intact = venvDir === null || ((await stat(path.join(venvDir, 'bin')).then(() => true, () => false)) && (await changesSinceSealed(venvDir)).length === 0);
    return !environment.dispose && intact ? { ...environment, saveToRemoteCache: undefined } : prepareAgain(sandboxRoot);
  };
}
