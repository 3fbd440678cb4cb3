import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fingerprintFolder, folderChanged } from '../../src/environment/cache/protected-folders.js';
import { venvCacheKey } from '../../src/environment/venv-cache.js';
import { lockBuildsLocalCode } from '../../src/environment/uv/local-build.js';
import { uvEnvironment } from '../../src/environment/uv/uv-commands.js';
import { UserError } from '../../src/errors.js';
import { loadRecord } from '../../src/record/load.js';
import { RunRecordSchema } from '../../src/record/schema.js';
import { renderMarkdown } from '../../src/report/markdown.js';
import { rerunEnvironment } from '../../src/rerun/rerun-environment.js';
import { inputSetGap } from '../../src/inputs/affected/learned-inputs.js';
import { CLI, PROJECT_ROOT, runCli } from '../support/fixture-repo.js';

const HASH = 'a'.repeat(64);
const base = { version: 1, name: 'uv', command: 'python train.py', artifacts: [{ path: 'out/m.bin', sha256: HASH }] };
const issuesOf = (environment: Record<string, unknown>) => {
  const result = RunRecordSchema.safeParse({ ...base, environment });
  return result.success ? [] : result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
};

describe('the record\'s uv fields', () => {
  it('accepts a lockfile with its hash, groups and extras, and installer: uv for requirements', () => {
    expect(issuesOf({ python: '3.11', lockfile: 'uv.lock', lockfile_sha256: HASH, uv: { groups: ['train'], extras: ['cpu'] } })).toEqual([]);
    expect(issuesOf({ python: '3.11', requirements: 'requirements.txt', requirements_sha256: HASH, installer: 'uv' })).toEqual([]);
  });

  it('keeps UV_* variables of a uv project\'s rerun its own', () => {
    expect(issuesOf({ python: '3.11', lockfile: 'uv.lock', lockfile_sha256: HASH, variables: { UV_CONFIG_FILE: 'x.toml' }, pass_env: ['UV_ENV_FILE'] })).toEqual([
      "environment.variables.UV_CONFIG_FILE: UV_* variables are repro-gate's own in a uv project's rerun (`uv run` uses the rebuilt venv as it is): use another name",
      "environment.pass_env.0: UV_* variables are repro-gate's own in a uv project's rerun: they cannot be passed from the host",
    ]);
  });

  it('names each misuse by field', () => {
    expect(issuesOf({ python: '3.11', lockfile: 'uv.lock', lockfile_sha256: HASH, requirements: 'r.txt', requirements_sha256: HASH })).toContain('environment.lockfile: and requirements exclude each other: a uv project\'s environment is its lock (remove requirements)');
    expect(issuesOf({ lockfile: 'uv.lock', lockfile_sha256: HASH })).toContain('environment.python: is required when lockfile is set');
    expect(issuesOf({ python: '3.11', lockfile: 'uv.lock' })).toContain('environment.lockfile_sha256: is required when lockfile is set');
    expect(issuesOf({ python: '3.11', lockfile: 'poetry.lock', lockfile_sha256: HASH })[0]).toMatch(/^environment\.lockfile: must be a uv lockfile, named uv\.lock/);
    expect(issuesOf({ python: '3.11', uv: { groups: ['dev'] } })).toContain('environment.uv: applies to a uv project only: set lockfile (uv.lock)');
    expect(issuesOf({ python: '3.11', installer: 'uv' })).toContain('environment.installer: applies to a requirements file only (a lockfile is always installed with uv)');
    expect(issuesOf({ python: '3.11', requirements: 'r.txt', requirements_sha256: HASH, installer: 'conda' })[0]).toMatch(/^environment\.installer: /);
    expect(issuesOf({ python: '3.11', lockfile: 'uv.lock', lockfile_sha256: HASH, uv: { groups: ['a b'] } })[0]).toMatch(/^environment\.uv\.groups\.0: must be a dependency group or extra name/);
  });

  it('refuses a lockfile without a pyproject.toml beside it, naming the field and line', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'repro-gate-uv-load-'));
    await mkdir(path.join(dir, 'proj'));
    await writeFile(path.join(dir, 'proj', 'uv.lock'), 'version = 1\n');
    await writeFile(path.join(dir, 'run.yaml'), `version: 1\nname: uv\ncommand: python train.py\nenvironment:\n  python: "3.11"\n  lockfile: proj/uv.lock\n  lockfile_sha256: ${HASH}\nartifacts:\n  - { path: out/m.bin, sha256: ${HASH} }\n`);
    const error = await loadRecord(path.join(dir, 'run.yaml')).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(UserError);
    expect(error).toMatchObject({ message: 'proj/pyproject.toml is missing: a uv lockfile is synced with the pyproject.toml beside it', location: { line: 6, field: 'environment.lockfile' } });
    await writeFile(path.join(dir, 'proj', 'pyproject.toml'), '[project]\nname = "p"\n');
    const loaded = await loadRecord(path.join(dir, 'run.yaml'));
    expect(loaded.paths.lockfile?.pyproject.repoRelative).toBe('proj/pyproject.toml');
  });
});

describe('the uv venv cache key', () => {
  const parts = { requirementsSha256: HASH, pythonVersion: '3.11.7', platform: 'linux-x86_64' };
  const sync = (inputs: string[], version = '0.13.9') => venvCacheKey({ ...parts, installer: { name: 'uv-sync', version, inputs } });

  it('keeps the pip key of earlier releases, and separates every installer, uv version, pyproject, group and extra', () => {
    expect(venvCacheKey(parts)).toBe(`repro-gate-venv-v1-linux-x86_64-py3.11.7-${HASH}`);
    const keys = [
      venvCacheKey(parts),
      venvCacheKey({ ...parts, installer: { name: 'uv-pip', version: '0.13.9', inputs: [] } }),
      sync(['pyproject:1', 'groups:', 'extras:']),
      sync(['pyproject:1', 'groups:', 'extras:'], '0.13.8'),
      sync(['pyproject:2', 'groups:', 'extras:']),
      sync(['pyproject:1', 'groups:train', 'extras:']),
      sync(['pyproject:1', 'groups:', 'extras:cpu']),
    ];
    expect(new Set(keys).size).toBe(keys.length);
    expect(sync(['pyproject:1', 'groups:', 'extras:'])).toMatch(/^repro-gate-venv-v1-linux-x86_64-py3\.11\.7-uv-sync0\.13\.9-[0-9a-f]{64}$/);
    // GitHub's cache keys hold at most 512 characters.
    expect(Math.max(...keys.map((key) => key.length))).toBeLessThan(512);
  });
});

describe('how uv runs', () => {
  it('keeps its downloads in repro-gate\'s cache unless UV_CACHE_DIR is set, copies out of it, never downloads a Python, and sees no token', () => {
    const env = uvEnvironment('/cache', { PATH: '/bin', GITHUB_TOKEN: 'secret', INPUT_TOKEN: 'x' });
    expect(env).toMatchObject({ UV_CACHE_DIR: path.join('/cache', 'uv'), UV_LINK_MODE: 'copy', UV_PYTHON_DOWNLOADS: 'never', PATH: '/bin' });
    expect(env.GITHUB_TOKEN).toBeUndefined();
    expect(env.INPUT_TOKEN).toBeUndefined();
    expect(uvEnvironment('/cache', { UV_CACHE_DIR: '/shared/uv' }).UV_CACHE_DIR).toBe('/shared/uv');
    // Where packages come from passes, as PIP_INDEX_URL does; what could point uv elsewhere or change a venv under its key does not.
    const host = uvEnvironment('/cache', { UV_INDEX_URL: 'https://mirror/simple', UV_PROJECT: '/checkout', UV_WORKING_DIR: '/checkout', UV_CONFIG_FILE: '/x.toml', UV_NO_BINARY: '1', UV_LINK_MODE: 'hardlink' });
    expect(host).toMatchObject({ UV_INDEX_URL: 'https://mirror/simple', UV_LINK_MODE: 'copy' });
    for (const name of ['UV_PROJECT', 'UV_WORKING_DIR', 'UV_CONFIG_FILE', 'UV_NO_BINARY']) expect(host[name]).toBeUndefined();
  });

  it('puts a uv that repro-gate installed last on the rerun\'s PATH, after the venv and the host\'s', () => {
    const env = rerunEnvironment({ base: { PATH: '/usr/bin' }, binDir: '/venv/bin', venvDir: '/venv', toolBinDir: '/cache/tools/uv/bin', variables: {}, seeds: {}, passEnv: [], sandbox: { root: '/s', home: '/h', tmp: '/t' }, cwd: '/s' });
    expect(env.PATH).toBe(['/venv/bin', '/usr/bin', '/cache/tools/uv/bin'].join(path.delimiter));
  });
});

describe('record\'s uv flags', () => {
  it('refuses combinations that cannot mean anything, before anything runs', async () => {
    const cwd = await mkdtemp(path.join(tmpdir(), 'repro-gate-uv-flags-'));
    const cases: Array<[string[], RegExp]> = [
      [['--lockfile', 'uv.lock', '--requirements', 'r.txt'], /--requirements and --lockfile exclude each other/],
      [['--group', 'dev', '--requirements', 'r.txt'], /--group applies to --lockfile only/],
      [['--installer', 'uv', '--lockfile', 'uv.lock'], /--installer applies to --requirements only/],
      [['--installer', 'conda', '--requirements', 'r.txt'], /--installer "conda" is not an installer/],
      [['--lockfile', 'poetry.lock'], /--lockfile poetry\.lock is not a uv lockfile: uv names it uv\.lock/],
      [['--lockfile', 'uv.lock', '--group=-x'], /"-x" is not a dependency group or extra name/],
      [['--update', 'run.yaml', '--lockfile', 'uv.lock'], /--lockfile does not apply with --update/],
      [['--lockfile', 'uv.lock', '--var', 'UV_CONFIG_FILE=x.toml'], /UV_CONFIG_FILE cannot be set or passed for a uv project's run/],
    ];
    for (const [flags, message] of cases) {
      const result = await runCli(['record', '--artifact', 'out/x', ...flags, '--', 'true'], { cwd });
      expect(result.status, CLI).toBe(2);
      expect(result.stderr).toMatch(message);
      expect(result.stderr).not.toMatch(/\n\s+at /);
    }
  });
});

describe('the report says how the venv was built', () => {
  it('names uv and its version, and nothing for pip', () => {
    const environment = (venv: Record<string, unknown>) => ({ python: { actual: '3.11.7' }, platform: { actual: 'linux-x86_64' }, venv: { key: 'k', source: 'built', durationMs: 1200, ...venv }, packages: null });
    const render = (venv: Record<string, unknown>) =>
      renderMarkdown({ version: 1, verdict: 'reproduced', records: [{ name: 'r', recordPath: 'run.yaml', verdict: 'reproduced', inputs: [], artifacts: [], metrics: [], thresholds: [], causes: [], stages: [], environment: environment(venv) }] } as never);
    expect(render({ installer: 'uv-sync', uvVersion: '0.13.9' })).toContain('venv built by uv sync 0.13.9 in');
    expect(render({ installer: 'uv-pip', uvVersion: '0.13.9' })).toContain('venv built with uv 0.13.9 in');
    expect(render({ installer: 'pip' })).toContain('venv built in');
  });
});

describe('the learned input set of a `uv run` command', () => {
  const trace = { processes: [{ pid: 1 }], readFiles: [], readTruncated: false, unprobedChildren: [] } as never;
  it('is learned through a bare `uv run`, but not through uv options or a flag that skips the probe', () => {
    expect(inputSetGap('uv run python -m linear_uv.train config.json', trace, true)).toBeUndefined();
    expect(inputSetGap('OMP_NUM_THREADS=1 uv run python train.py', trace, true)).toBeUndefined();
    expect(inputSetGap('uv run --with rich python train.py', trace, true)).toMatch(/not one plain Python invocation/);
    expect(inputSetGap('A=1 UV_ENV_FILE=.env uv run python train.py', trace, true)).toMatch(/^the command sets uv variables/);
    expect(inputSetGap('uv run python -I train.py', trace, true)).toBe('python -I, -E or -S skips the probe');
    // Without a lock in the record, `uv run` syncs a .venv of its own from files no probed process opens.
    expect(inputSetGap('uv run python train.py', trace)).toMatch(/^`uv run` outside a uv project's record/);
    expect(inputSetGap('FOO=1 python -S train.py', trace)).toBe('python -I, -E or -S skips the probe');
    expect(inputSetGap('python train.py -I', trace)).toBeUndefined();
    expect(inputSetGap('python -B -E', trace)).toBe('python -I, -E or -S skips the probe');
  });
});

describe('whether syncing a lock runs the checkout\'s code', () => {
  const fixture = (file: string) => readFileSync(path.join(PROJECT_ROOT, 'test', 'fixtures', 'uv-project', file), 'utf8');

  it('does not for static dependencies and the project alone, so that venv is cached', () => {
    expect(lockBuildsLocalCode(fixture('pyproject.toml'), fixture('uv.lock'))).toBeUndefined();
  });

  it('does for dynamic dependencies, and for workspace members or path dependencies in the lock', () => {
    const dynamic = fixture('pyproject.toml').replace('dependencies = ["numpy==2.2.6"]', 'dynamic = ["version", "dependencies"]');
    expect(lockBuildsLocalCode(dynamic, fixture('uv.lock'))).toBe('pyproject.toml declares its dependencies dynamic (uv builds the project to learn them)');
    const member = `${fixture('uv.lock')}\n[[package]]\nname = "helpers"\nversion = "0.1.0"\nsource = { editable = "packages/helpers" }\n`;
    expect(lockBuildsLocalCode(fixture('pyproject.toml'), member)).toBe('the lock holds local packages besides the project (packages/helpers)');
    const virtualMember = `${fixture('uv.lock')}\n[[package]]\nname = "tools"\nversion = "0.1.0"\nsource = { virtual = "tools" }\n`;
    expect(lockBuildsLocalCode(fixture('pyproject.toml'), virtualMember)).toBe('the lock holds local packages besides the project (tools)');
  });
});

describe('the cache folders a rerun must leave alone', () => {
  const print = (entries: Record<string, string>) => new Map(Object.entries(entries));
  it('count any change, addition or removal', () => {
    const before = print({ 'archive-v0/a/numpy.py': '1' });
    expect(folderChanged(before, print({ 'archive-v0/a/numpy.py': '1' }))).toBe(false);
    expect(folderChanged(before, print({ 'archive-v0/a/numpy.py': '2' }))).toBe(true);
    expect(folderChanged(before, print({}))).toBe(true);
    expect(folderChanged(before, print({ 'archive-v0/a/numpy.py': '1', 'wheels-v8/pypi/six.msgpack': '1' }))).toBe(true);
  });

  it('leave out only uv\'s own lock and markers: interpreter facts and locks inside downloads are content a build trusts', async () => {
    const folder = await mkdtemp(path.join(tmpdir(), 'repro-gate-protected-'));
    for (const file of ['.lock', 'CACHEDIR.TAG', 'interpreter-v5/x.msgpack', 'archive-v0/a/data.lock', 'archive-v0/a/numpy.py']) {
      await mkdir(path.dirname(path.join(folder, file)), { recursive: true });
      await writeFile(path.join(folder, file), 'x');
    }
    expect([...(await fingerprintFolder(folder)).keys()].sort()).toEqual([path.join('archive-v0', 'a', 'data.lock'), path.join('archive-v0', 'a', 'numpy.py'), path.join('interpreter-v5', 'x.msgpack')]);
    expect((await fingerprintFolder(path.join(folder, 'missing'))).size).toBe(0);
  });
});
