import { execFileSync, spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { sharedVenvPython } from './shared-venv.js';
import { runSharedFolder } from './temp/run-shared.js';

export const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = path.join(PROJECT_ROOT, 'dist', 'cli', 'index.js');
const LINEAR = path.join(PROJECT_ROOT, 'test', 'fixtures', 'linear');

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
  durationMs: number;
}

/** Runs the bundled CLI exactly as users do, with Node 24 (the test runner's node). */
export function runCli(args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<CliResult> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: options.cwd, env: { ...process.env, NO_COLOR: '1', ...options.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr, durationMs: performance.now() - started }));
  });
}

export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.email=test@example.com', '-c', 'user.name=test', ...args], { cwd, encoding: 'utf8' });
}

/** A venv with these pins (one per line), standing in for the environment an ML engineer records from; shared, never to be changed. */
export async function createRecordingVenv(requirements: string): Promise<{ python: string; bin: string }> {
  const python = await sharedVenvPython(requirements.split('\n').filter((line) => line.trim() !== ''));
  return { python, bin: path.dirname(python) };
}

export const NUMPY_PIN = 'numpy==2.2.6\n';

export interface FixtureRepo {
  root: string;
  /** Environment for the CLI: a private venv cache, so tests never share or pollute the user's. */
  env: NodeJS.ProcessEnv;
  write(relative: string, content: string): Promise<void>;
  read(relative: string): Promise<string>;
  verify(args?: string[]): Promise<CliResult>;
}

/** Rewrites the fixture's run.yaml through a plain-object edit. */
export async function editRecord(repo: FixtureRepo, edit: (record: Record<string, any>) => void): Promise<void> {
  const record = parse(await repo.read('run.yaml'));
  edit(record);
  await repo.write('run.yaml', stringify(record));
}

/**
 * One venv cache for every recording in the test run, apart from the caches the verifies under test start from. The
 * cache's own locks make parallel test files share it safely; nothing changes a venv in it.
 */
export async function recordingCacheRoot(): Promise<string> {
  return runSharedFolder('recording-cache');
}

/**
 * A real git repository with a seeded numpy training, data with a manifest, a config and pinned requirements,
 * recorded with `repro-gate record` (which rebuilds the pinned venv, as verify will), and committed.
 * `cacheRoot` is the venv cache `verify` then uses.
 */
export async function createRecordedRepo(options: { cacheRoot: string }): Promise<FixtureRepo> {
  const root = await mkdtemp(path.join(tmpdir(), 'repro-gate-repo-'));
  await mkdir(path.join(root, 'data'));
  await cp(path.join(LINEAR, 'train.py'), path.join(root, 'train.py'));
  await cp(path.join(LINEAR, 'config.json'), path.join(root, 'config.json'));
  await cp(path.join(LINEAR, 'points.csv'), path.join(root, 'data', 'points.csv'));
  const dataHash = execFileSync('sha256sum', ['data/points.csv'], { cwd: root, encoding: 'utf8' }).split(' ')[0];
  await writeFile(
    path.join(root, 'data', 'manifest.json'),
    JSON.stringify({ dataset_name: 'points', storage_uri: 's3://bucket/points.csv', record_count: 200, content_hash: `sha256:${dataHash}`, created_at: '2026-11-01T00:00:00Z' }),
  );
  await writeFile(path.join(root, 'requirements.txt'), NUMPY_PIN);
  await writeFile(path.join(root, '.gitignore'), 'out/\n');
  git(root, 'init', '-q');
  git(root, 'add', '.');
  git(root, 'commit', '-qm', 'training');

  const env = { REPRO_GATE_CACHE_DIR: options.cacheRoot, PIP_RETRIES: '0' };
  const recorded = await runCli(
    [
      'record', '--name', 'linear',
      '--artifact', 'out/model.json', '--metrics', 'out/metrics.json',
      '--data', 'data/points.csv=data/manifest.json', '--config', 'config.json', '--requirements', 'requirements.txt',
      '--seed', 'numpy=3', '--var', 'PYTHONHASHSEED=0',
      '--', 'python', 'train.py', 'config.json',
    ],
    { cwd: root, env: { ...env, REPRO_GATE_CACHE_DIR: await recordingCacheRoot() } },
  );
  if (recorded.status !== 0) throw new Error(`record failed (${recorded.status}):\n${recorded.stderr}`);
  git(root, 'add', 'run.yaml');
  git(root, 'commit', '-qm', 'record');

  return fixtureRepo(root, env);
}

/** A FixtureRepo over a repository already on disk, verified with `env`. */
export function fixtureRepo(root: string, env: NodeJS.ProcessEnv): FixtureRepo {
  return {
    root,
    env,
    write: (relative, content) => writeFile(path.join(root, relative), content),
    read: (relative) => readFile(path.join(root, relative), 'utf8'),
    verify: (args = []) => runCli(['verify', 'run.yaml', ...args], { cwd: root, env }),
  };
}

/**
 * One of examples/ as a user's repository: its files (those named, or all but out/), plus `extra` ones, committed
 * in a fresh git repository, verified with the shared recording cache.
 */
export async function exampleRepo(example: string, options: { only?: string[]; extra?: Record<string, string> } = {}): Promise<FixtureRepo> {
  const root = await mkdtemp(path.join(tmpdir(), `repro-gate-${example}-`));
  const source = path.join(PROJECT_ROOT, 'examples', example);
  if (options.only) for (const entry of options.only) await cp(path.join(source, entry), path.join(root, entry), { recursive: true });
  else await cp(source, root, { recursive: true, filter: (file) => path.relative(source, file).split(path.sep)[0] !== 'out' });
  for (const [relative, content] of Object.entries(options.extra ?? {})) await writeFile(path.join(root, relative), content);
  git(root, 'init', '-q');
  git(root, 'add', '.');
  git(root, 'commit', '-qm', example);
  return fixtureRepo(root, { REPRO_GATE_CACHE_DIR: await recordingCacheRoot(), PIP_RETRIES: '0' });
}
