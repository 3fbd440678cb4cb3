import { spawnSync } from 'node:child_process';
import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { PROJECT_ROOT } from '../fixture-repo.js';
import { type ActionRun, parseOutputs, runAction } from '../run-action.js';
import { type Context, condition, interpolate, usesAlways } from './expressions.js';

// Runs a job of one of our workflow files the way a runner would, step by step, with the bundled action for
// every repro-gate step. Steps of other actions are emulated by what they contribute here: checkout (the test
// prepares the workspace), setup-python (the python3 on PATH), upload-artifact and download-artifact (a folder
// per artifact), attest (its inputs and the files they name are kept for the test). `run:` steps run in bash with
// GITHUB_OUTPUT. Expressions are evaluated, not pattern-matched.

export interface Step {
  id?: string;
  name?: string;
  uses?: string;
  run?: string;
  if?: string;
  with?: Record<string, unknown>;
  env?: Record<string, unknown>;
}

export interface Job {
  if?: string;
  steps?: Step[];
  outputs?: Record<string, string>;
}

export interface JobOptions {
  /** GITHUB_WORKSPACE: the folder the steps run in. */
  workspace: string;
  /** `inputs`, `matrix`, `needs`, `strategy`, `job`, `github`: the contexts the job's expressions read. */
  context: Context;
  /** Artifacts of the workflow run (or of another run, for download by run-id), by name. */
  artifacts: Map<string, string>;
  eventName: string;
  payload: Record<string, any>;
  /** Extra environment for every bundled-action step (the GitHub stand-in's URLs and tokens). */
  env: NodeJS.ProcessEnv;
  jobId: string;
}

export interface JobResult {
  ran: boolean;
  failed: boolean;
  outputs: Record<string, string>;
  actionRuns: ActionRun[];
  /** What each actions/attest step was given, with the files it names read (the signing itself needs GitHub). */
  attestations: Array<{ inputs: Record<string, string>; checksums: string; predicate: string }>;
}

/** The runner fills every input the step leaves out with action.yml's default, expressions evaluated (`${{ github.token }}`). */
async function withActionDefaults(inputs: Record<string, string>, context: Context): Promise<Record<string, string>> {
  const action = parse(await readFile(path.join(PROJECT_ROOT, 'action.yml'), 'utf8')) as { inputs: Record<string, { default?: string }> };
  const defaults = Object.entries(action.inputs).map(([name, input]) => [name, interpolate(input.default ?? '', context)]);
  return { ...Object.fromEntries(defaults), ...inputs };
}

/** The steps that run the repro-gate action: from the reusable workflow's own checkout, or from the Marketplace. */
const isReproGate = (uses: string) => uses === './repro-gate-action' || uses === './' || uses.startsWith('repro-gate/repro-gate@');

async function runShell(step: Step, env: Record<string, string>, workspace: string): Promise<{ outputs: Record<string, string>; failed: boolean }> {
  const outputFile = path.join(await mkdtemp(path.join(tmpdir(), 'repro-gate-step-')), 'output');
  await writeFile(outputFile, '');
  const result = spawnSync('bash', ['-e', '-c', step.run!], { cwd: workspace, env: { ...process.env, ...env, GITHUB_OUTPUT: outputFile }, encoding: 'utf8' });
  return { outputs: parseOutputs(await readFile(outputFile, 'utf8')), failed: result.status !== 0 };
}

async function uploadArtifact(inputs: Record<string, string>, artifacts: Map<string, string>): Promise<void> {
  const folder = await mkdtemp(path.join(tmpdir(), 'repro-gate-artifact-'));
  // One path per line; the files our workflows upload together share a folder, the artifact's root.
  const paths = inputs.path!.split('\n').map((line) => line.trim()).filter(Boolean);
  for (const each of paths) await cp(each, path.join(folder, path.basename(each)), { recursive: true });
  // upload-artifact v4 refuses a name that exists in the run unless told to overwrite it.
  if (artifacts.has(inputs.name!) && inputs.overwrite !== 'true') throw new Error(`artifact ${inputs.name} already exists in this run`);
  artifacts.set(inputs.name!, folder);
}

async function downloadArtifacts(inputs: Record<string, string>, artifacts: Map<string, string>, workspace: string): Promise<void> {
  const target = path.resolve(workspace, inputs.path ?? '.');
  if (inputs.name) {
    const folder = artifacts.get(inputs.name);
    if (!folder) throw new Error(`artifact ${inputs.name} not found`);
    await cp(folder, target, { recursive: true });
    return;
  }
  const pattern = new RegExp(`^${(inputs.pattern ?? '*').replace(/[.+?^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*')}$`);
  for (const [name, folder] of artifacts) {
    if (pattern.test(name)) await cp(folder, path.join(target, name), { recursive: true });
  }
}

export async function runJob(job: Job, options: JobOptions): Promise<JobResult> {
  const steps: Record<string, { outputs: Record<string, string> }> = {};
  const context = (): Context => ({ ...options.context, steps });
  const result: JobResult = { ran: condition(job.if, context()), failed: false, outputs: {}, actionRuns: [], attestations: [] };
  if (!result.ran) return result;
  for (const step of job.steps ?? []) {
    if (result.failed ? !usesAlways(step.if) || !condition(step.if, context()) : !condition(step.if, context())) continue;
    const inputs = Object.fromEntries(Object.entries(step.with ?? {}).map(([name, value]) => [name, interpolate(value, context())]));
    const env = Object.fromEntries(Object.entries(step.env ?? {}).map(([name, value]) => [name, interpolate(value, context())]));
    let outputs: Record<string, string> = {};
    let failed = false;
    if (step.run !== undefined) {
      ({ outputs, failed } = await runShell({ ...step, run: interpolate(step.run, context()) }, env, options.workspace));
    } else if (isReproGate(step.uses ?? '')) {
      const run = await runAction({
        cwd: options.workspace,
        inputs: await withActionDefaults(inputs, context()),
        eventName: options.eventName,
        payload: options.payload,
        env: { ...options.env, GITHUB_JOB: options.jobId, GITHUB_WORKSPACE: options.workspace },
      });
      result.actionRuns.push(run);
      outputs = run.outputs;
      failed = run.status !== 0;
    } else if (step.uses?.startsWith('actions/setup-python@')) {
      const python = spawnSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).stdout.trim();
      outputs = { 'python-path': python };
    } else if (step.uses?.startsWith('actions/upload-artifact@')) {
      await uploadArtifact(inputs, options.artifacts);
    } else if (step.uses?.startsWith('actions/download-artifact@')) {
      await downloadArtifacts(inputs, options.artifacts, options.workspace);
    } else if (step.uses?.startsWith('actions/attest@')) {
      const read = (input: string) => readFile(path.resolve(options.workspace, inputs[input]!), 'utf8');
      result.attestations.push({ inputs, checksums: await read('subject-checksums'), predicate: await read('predicate-path') });
    } else if (!step.uses?.startsWith('actions/checkout@')) {
      throw new Error(`the workflow runner stand-in cannot run step ${step.name ?? step.uses}`);
    }
    if (step.id) steps[step.id] = { outputs };
    result.failed ||= failed;
  }
  result.outputs = Object.fromEntries(Object.entries(job.outputs ?? {}).map(([name, value]) => [name, interpolate(value, context())]));
  return result;
}
