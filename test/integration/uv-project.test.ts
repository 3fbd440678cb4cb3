import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { UV_PINNED_VERSION } from '../../src/constants.js';
import { editRecord, exampleRepo, fixtureRepo, type FixtureRepo, git, PROJECT_ROOT, recordingCacheRoot, runCli } from '../support/fixture-repo.js';
import { uvOnPath } from '../support/uv-tool.js';
import { verifyUntouched } from '../support/verify-untouched.js';

// uv projects with the real uv: a committed uv.lock is recorded, then rebuilt with `uv sync --frozen` into the venv
// cache, and the project's own code always runs from the checkout. Never a torch here: uv would fetch a CUDA build.

const FIXTURES = path.join(PROJECT_ROOT, 'test', 'fixtures');
const RECORD_ARGS = ['--artifact', 'out/model.json', '--metrics', 'out/metrics.json', '--config', 'config.json', '--data', 'data/points.csv', '--seed', 'numpy=3'];
// `uv run` as most uv projects call their training: it must use the rebuilt venv as it is.
const COMMAND = 'uv run python -m linear_uv.train config.json';

let pathWithUv: string;
let recorded: string;

const sha256 = async (file: string) => createHash('sha256').update(await readFile(file)).digest('hex');
const commitAll = (root: string, message: string) => {
  git(root, 'add', '-A');
  git(root, 'commit', '-qm', message);
};

/** PATH without any folder that holds a uv: what a runner without astral-sh/setup-uv has. */
function pathWithoutUv(): string {
  return (process.env.PATH ?? '').split(path.delimiter).filter((folder) => folder && !existsSync(path.join(folder, 'uv'))).join(path.delimiter);
}

/** A fresh clone of the recorded project, verified with `env`. */
async function cloneOfRecorded(env: NodeJS.ProcessEnv): Promise<FixtureRepo> {
  const root = await mkdtemp(path.join(tmpdir(), 'repro-gate-uv-'));
  git(root, 'clone', '-q', recorded, '.');
  return fixtureRepo(root, env);
}

const withUv = async () => ({ PATH: pathWithUv, REPRO_GATE_CACHE_DIR: await recordingCacheRoot() });

beforeAll(async () => {
  pathWithUv = await uvOnPath();
  recorded = await mkdtemp(path.join(tmpdir(), 'repro-gate-uv-recorded-'));
  await cp(path.join(FIXTURES, 'uv-project'), recorded, { recursive: true });
  await mkdir(path.join(recorded, 'data'));
  await cp(path.join(FIXTURES, 'linear', 'points.csv'), path.join(recorded, 'data', 'points.csv'));
  // The linear training, as the package's module (run as `python -m linear_uv.train`).
  await cp(path.join(FIXTURES, 'linear', 'train.py'), path.join(recorded, 'src', 'linear_uv', 'train.py'));
  await cp(path.join(FIXTURES, 'linear', 'config.json'), path.join(recorded, 'config.json'));
  git(recorded, 'init', '-q');
  await writeFile(path.join(recorded, '.gitignore'), 'out/\n');
  commitAll(recorded, 'a uv project');
  const result = await runCli(['record', '--name', 'linear-uv', '--lockfile', 'uv.lock', ...RECORD_ARGS, '--', COMMAND], { cwd: recorded, env: await withUv() });
  if (result.status !== 0) throw new Error(`record failed (${result.status}):\n${result.stderr}`);
  commitAll(recorded, 'record');
});

describe('a uv project, rebuilt from its lock', () => {
  it('records the lock and only the project\'s locked dependencies, and reproduces from a fresh cache with a uv it installs itself', async () => {
    const record = parse(await readFile(path.join(recorded, 'run.yaml'), 'utf8'));
    expect(record.environment).toMatchObject({ python: '3.11', lockfile: 'uv.lock', lockfile_sha256: await sha256(path.join(recorded, 'uv.lock')) });
    expect(record.environment.requirements).toBeUndefined();
    // The dev group (six) is not synced unless the record names it, and the project itself is never installed.
    expect(record.environment.packages).toEqual({ numpy: '2.2.6' });

    const cacheRoot = await mkdtemp(path.join(tmpdir(), 'repro-gate-uv-cache-'));
    const repo = await cloneOfRecorded({ PATH: pathWithoutUv(), REPRO_GATE_CACHE_DIR: cacheRoot });
    const first = await verifyUntouched(repo);
    expect(first.stderr).not.toMatch(/\n\s+at /);
    expect(first.status, first.stderr).toBe(0);
    expect(first.stderr).toContain(`no uv on PATH: installing uv ${UV_PINNED_VERSION} with pip into ${path.join(cacheRoot, 'tools')}`);
    expect(first.record).toMatchObject({ verdict: 'reproduced', environment: { venv: { installer: 'uv-sync', uvVersion: UV_PINNED_VERSION, source: 'built' } } });
    expect(first.record?.environment?.packages).toMatchObject({ changed: [], added: [], removed: [], unchanged: 1 });

    const second = await verifyUntouched(repo);
    expect(second.status, second.stderr).toBe(0);
    expect(second.stderr).not.toMatch(/installing uv/);
    expect(second.record).toMatchObject({ verdict: 'reproduced', environment: { venv: { source: 'local-cache', key: first.record?.environment?.venv?.key } } });
    // uv wrote nothing into the checkout: no .venv, no build files (verifyUntouched compared the whole tree too).
    expect(existsSync(path.join(repo.root, '.venv'))).toBe(false);
  });

  it('syncs a dependency group named at record time, writes it into the record, and keys the venv by it', async () => {
    const repo = await cloneOfRecorded(await withUv());
    const recordedWithDev = await runCli(['record', '--name', 'linear-uv', '--lockfile', 'uv.lock', '--group', 'dev', ...RECORD_ARGS, '--', COMMAND], { cwd: repo.root, env: repo.env });
    expect(recordedWithDev.status, recordedWithDev.stderr).toBe(0);
    const record = parse(await repo.read('run.yaml'));
    expect(record.environment.uv).toEqual({ groups: ['dev'] });
    expect(record.environment.packages).toEqual({ numpy: '2.2.6', six: '1.17.0' });
    commitAll(repo.root, 'with the dev group');
    const withDev = await verifyUntouched(repo);
    expect(withDev.record?.verdict).toBe('reproduced');
    const without = await verifyUntouched(await cloneOfRecorded(await withUv()));
    expect(withDev.record?.environment?.venv?.key).not.toBe(without.record?.environment?.venv?.key);
  });

  it('drifts when a lock bumps a package, naming it with both versions; record --update refreshes the lock\'s hash and the packages', async () => {
    const repo = await cloneOfRecorded(await withUv());
    for (const file of ['pyproject.toml', 'uv.lock']) await cp(path.join(FIXTURES, 'uv-project-bumped', file), path.join(repo.root, file));
    commitAll(repo.root, 'numpy 2.4.6');
    const drifted = await verifyUntouched(repo);
    expect(drifted.status, drifted.stderr).toBe(1);
    expect(drifted.record?.verdict).toBe('drift');
    expect(drifted.record?.inputs).toContainEqual(expect.objectContaining({ kind: 'requirements', path: 'uv.lock', status: 'mismatch' }));
    expect(drifted.record?.environment?.packages?.changed).toEqual([{ name: 'numpy', recorded: '2.2.6', actual: '2.4.6', imported: true }]);
    expect(drifted.stdout).toMatch(/numpy 2\.2\.6 → 2\.4\.6/);

    const updated = await runCli(['record', '--update', 'run.yaml'], { cwd: repo.root, env: repo.env });
    expect(updated.status, updated.stderr).toBe(0);
    const record = parse(await repo.read('run.yaml'));
    expect(record.environment.lockfile_sha256).toBe(await sha256(path.join(repo.root, 'uv.lock')));
    expect(record.environment.packages).toEqual({ numpy: '2.4.6' });
    const after = await verifyUntouched(repo);
    expect(after.status, after.stderr).toBe(0);
    expect(after.record?.verdict).toBe('reproduced');
  });

  it('is an error, with the `uv lock` hint, when the lock no longer matches pyproject.toml', async () => {
    const repo = await cloneOfRecorded(await withUv());
    await repo.write('pyproject.toml', (await repo.read('pyproject.toml')).replace('dependencies = ["numpy==2.2.6"]', 'dependencies = ["numpy==2.2.6", "six==1.17.0"]'));
    commitAll(repo.root, 'a dependency without a new lock');
    const result = await verifyUntouched(repo);
    expect(result.status).toBe(2);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.record?.verdict).toBe('error');
    expect(result.record?.error?.message).toMatch(/uv\.lock no longer matches pyproject\.toml: the lock is out of date/);
    expect(result.record?.error?.hint).toMatch(/Run `uv lock`, commit the new uv\.lock/);
  });

  it('builds what the lock says, whatever a uv.toml above the repository or the host\'s UV_* variables ask for', async () => {
    // The CLI's temporary folder, where the sandbox's copy is made: settings and a workspace above the copy.
    const temporary = await mkdtemp(path.join(tmpdir(), 'repro-gate-uv-tmp-'));
    const repo = await cloneOfRecorded({ PATH: pathWithUv, TMPDIR: temporary, REPRO_GATE_CACHE_DIR: await mkdtemp(path.join(tmpdir(), 'repro-gate-uv-cache-')) });
    // Honoured, these would fetch from a dead index, build numpy from source, make the copy a member of an outer
    // workspace (whose lock uv would then sync), or sync another folder's project.
    await writeFile(path.join(temporary, 'uv.toml'), 'index-url = "http://127.0.0.1:9/simple"\nno-binary = true\n');
    await writeFile(path.join(temporary, 'pyproject.toml'), '[tool.uv.workspace]\nmembers = ["*/work"]\n');
    Object.assign(repo.env, { UV_PROJECT: tmpdir(), UV_NO_BINARY: '1' });
    const result = await verifyUntouched(repo);
    expect(result.status, result.stderr).toBe(0);
    expect(result.record).toMatchObject({ verdict: 'reproduced', environment: { venv: { source: 'built' } } });
  });

  it('reads the project\'s own uv settings, as uv lock did: a uv.toml whose exclude-newer the lock was not made with makes it stale', async () => {
    const repo = await cloneOfRecorded(await withUv());
    await repo.write('uv.toml', 'exclude-newer = "2026-11-01T00:00:00Z"\n');
    commitAll(repo.root, 'settings the lock was not made with');
    const result = await verifyUntouched(repo);
    expect(result.status).toBe(2);
    expect(result.record?.error?.message).toMatch(/uv\.lock no longer matches pyproject\.toml: the lock is out of date/);
  });

  it('never runs cached project code: with the same lock, a change to src/ is rerun from the checkout', async () => {
    const repo = await cloneOfRecorded(await withUv());
    const first = await verifyUntouched(repo);
    expect(first.record?.verdict).toBe('reproduced');
    const train = 'src/linear_uv/train.py';
    await repo.write(train, (await repo.read(train)).replace('range(config["epochs"])', 'range(config["epochs"] + 1)'));
    commitAll(repo.root, 'one more epoch');
    const changed = await verifyUntouched(repo);
    expect(changed.status, changed.stderr).toBe(1);
    expect(changed.record?.verdict).toBe('drift');
    // The same venv served both runs: only the checkout's code can have changed the model.
    expect(changed.record?.environment?.venv).toMatchObject({ source: 'local-cache', key: first.record?.environment?.venv?.key });
    expect(changed.record?.artifacts[0]?.status).toBe('differs');
  });
});

describe('verify --affected on a uv project', () => {
  it('learns the project\'s code through `uv run`, skips an unrelated change, and reruns when pyproject.toml changes', async () => {
    const record = parse(await readFile(path.join(recorded, 'run.yaml'), 'utf8'));
    expect(record.code.files.map((file: { path: string }) => file.path)).toEqual(expect.arrayContaining(['src/linear_uv/__init__.py', 'src/linear_uv/train.py']));
    const repo = await cloneOfRecorded(await withUv());
    // An existing file the training never read (a new one at the root could shadow a module: that would rerun).
    await repo.write('README.md', '# linear-uv, documented\n');
    commitAll(repo.root, 'docs');
    const unrelated = await verifyUntouched(repo, ['--affected', '--base', 'HEAD~1']);
    expect(unrelated.status, unrelated.stderr).toBe(0);
    expect(unrelated.record?.verdict).toBe('unaffected');
    // Not a dependency change, but only a rerun can tell whether the lock still matches: it is rerun.
    await repo.write('pyproject.toml', (await repo.read('pyproject.toml')).replace('version = "0.1.0"', 'version = "0.1.1"'));
    commitAll(repo.root, 'version');
    const bumped = await verifyUntouched(repo, ['--affected', '--base', 'HEAD~2']);
    expect(bumped.record?.affected).toMatchObject({ affected: true, reason: 'rerun: watched files changed since code.commit (pyproject.toml)' });
    expect(bumped.record?.verdict).toBe('error');
    expect(bumped.record?.error?.message).toMatch(/the lock is out of date/);
  });
});

describe('installer: uv for a requirements file', () => {
  it('gives the iris example the same packages and the same verdict as pip', async () => {
    const repo = await exampleRepo('iris', { only: ['train.py', 'configs', 'data'], extra: { 'requirements.txt': 'scikit-learn==1.6.1\nnumpy==2.2.6\n', '.gitignore': 'out/\n' } });
    repo.env.PATH = pathWithUv;
    const recordedWithPip = await runCli(
      ['record', '--name', 'iris', '--artifact', 'out/model.pkl', '--metrics', 'out/metrics.json', '--config', 'configs/train.json', '--data', 'data/iris.csv', '--requirements', 'requirements.txt', '--seed', 'numpy=7', '--var', 'OMP_NUM_THREADS=1', '--', 'python', 'train.py', 'configs/train.json'],
      { cwd: repo.root, env: repo.env },
    );
    expect(recordedWithPip.status, recordedWithPip.stderr).toBe(0);
    commitAll(repo.root, 'record');
    const pip = await verifyUntouched(repo);
    await editRecord(repo, (record) => {
      record.environment.installer = 'uv';
    });
    const uv = await verifyUntouched(repo);
    expect(uv.status, uv.stderr).toBe(0);
    expect(uv.record?.environment?.venv).toMatchObject({ installer: 'uv-pip', uvVersion: UV_PINNED_VERSION });
    expect(pip.record?.environment?.venv).toMatchObject({ installer: 'pip' });
    // The installer keys the venv: uv's is its own, never pip's reused.
    expect(uv.record?.environment?.venv?.key).not.toBe(pip.record?.environment?.venv?.key);
    expect(uv.record?.environment?.packages).toEqual(pip.record?.environment?.packages);
    expect(uv.record?.environment?.packages).toMatchObject({ changed: [], added: [], removed: [] });
    expect(uv.record?.verdict).toBe(pip.record?.verdict);
    expect(uv.record?.verdict).toBe('reproduced');
  });
});
