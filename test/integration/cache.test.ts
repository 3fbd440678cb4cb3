import { execFileSync } from 'node:child_process';
import { access, mkdtemp, readdir, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VENV_COMPLETE_MARKER } from '../../src/constants.js';
import { readCacheInventory } from '../../src/environment/cache/index.js';
import { prepareEnvironment } from '../../src/environment/index.js';
import { pipCacheDirectory, venvsDirectory } from '../../src/environment/venv-cache.js';
import { UserError } from '../../src/errors.js';
import { runCli } from '../support/fixture-repo.js';

// Real pip and real venvs (small pure-python pins) through the real environment manager, and the bundled CLI's
// `cache list` and `cache prune` on the same folder.

const HOUR = 3_600_000;
const SIX_FROM_SOURCE = '--no-binary six\nsix==1.16.0\n';
let cacheRoot: string;
let workDir: string;
const savedEnv = { PIP_CACHE_DIR: process.env.PIP_CACHE_DIR, REPRO_GATE_CACHE_MAX_SIZE: process.env.REPRO_GATE_CACHE_MAX_SIZE };

beforeAll(async () => {
  cacheRoot = await mkdtemp(path.join(tmpdir(), 'repro-gate-cache-it-'));
  workDir = await mkdtemp(path.join(tmpdir(), 'repro-gate-cache-reqs-'));
  // The default under test: pip's downloads go into the repro-gate cache folder.
  delete process.env.PIP_CACHE_DIR;
});

afterAll(() => {
  for (const [name, value] of Object.entries(savedEnv)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

/** Builds (or reuses) the venv for these requirements and returns its key and the manager's log. */
async function build(name: string, requirements: string) {
  const requirementsFile = path.join(workDir, `${name}.txt`);
  await writeFile(requirementsFile, requirements);
  const log: string[] = [];
  const prepared = await prepareEnvironment({ python: 'python3', requirementsFile, requirementsDisplayPath: `${name}.txt`, cacheRoot, log: (line) => log.push(line) });
  return { key: prepared.report.venv!.key, source: prepared.report.venv!.source, dir: prepared.venvDir!, log };
}

async function lastUsedAgo(dir: string, ms: number) {
  const when = new Date(Date.now() - ms);
  await utimes(path.join(dir, VENV_COMPLETE_MARKER), when, when);
}

const listVenvs = async () => (await readdir(venvsDirectory(cacheRoot))).sort();
const cli = (args: string[]) => runCli(args, { cwd: workDir, env: { REPRO_GATE_CACHE_DIR: cacheRoot, PIP_CACHE_DIR: '' } });

describe('the venv cache (real venvs)', () => {
  let oldest: Awaited<ReturnType<typeof build>>;
  let recent: Awaited<ReturnType<typeof build>>;
  let newest: Awaited<ReturnType<typeof build>>;

  it('builds venvs, shares one pip download cache, and lists them through the CLI', async () => {
    // Built from the sdist, so pip stores the wheel it builds in its cache: the one cache entry pip writes on any
    // network (it stores downloads only when the index sends caching headers, which some proxies strip).
    oldest = await build('six-1.16', SIX_FROM_SOURCE);
    recent = await build('six-1.17', 'six==1.17.0\n');
    expect([oldest.source, recent.source]).toEqual(['built', 'built']);
    // pip and setuptools as `python -m venv` gives them (the interpreter's bundled wheels), installed without ensurepip.
    const inVenv = (code: string) => execFileSync(path.join(recent.dir, 'bin', 'python'), ['-c', code], { encoding: 'utf8' }).trim();
    const ensurepipVersion = execFileSync('python3', ['-c', 'import ensurepip; print(ensurepip.version())'], { encoding: 'utf8' }).trim();
    expect(inVenv('import pip; print(pip.__version__)')).toBe(ensurepipVersion);
    expect(execFileSync(path.join(recent.dir, 'bin', 'pip'), ['--version'], { encoding: 'utf8' })).toContain(recent.dir);
    expect(await listVenvs()).toEqual([oldest.key, recent.key].sort());
    const pipFiles = await readdir(pipCacheDirectory(cacheRoot), { recursive: true });
    expect(pipFiles.some((file) => /^wheels\/.*\/six-1\.16\.0-py2\.py3-none-any\.whl$/.test(file))).toBe(true);

    const listed = await cli(['cache', 'list']);
    expect(listed.stderr).toBe('');
    expect(listed.status).toBe(0);
    expect(listed.stdout).toContain(cacheRoot);
    for (const key of [oldest.key, recent.key]) expect(listed.stdout).toMatch(new RegExp(`\\d+(\\.\\d+)? MiB  \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d UTC \\(just now\\)\\s+${key}`));
    expect(listed.stdout).toMatch(/pip's download cache/);
    expect(listed.stdout).toMatch(/Total: [\d.]+ MiB of 10\.0 GiB \(the default bound\), 2 venv\(s\)\./);
  });

  it('touches a venv on reuse, so reuse counts as use', async () => {
    await lastUsedAgo(recent.dir, 5 * HOUR);
    const reused = await build('six-1.17', 'six==1.17.0\n');
    expect(reused.source).toBe('local-cache');
    const entry = (await readCacheInventory(cacheRoot)).venvs.find((venv) => venv.key === recent.key)!;
    expect(Date.now() - entry.lastUsedMs!).toBeLessThan(60_000);
  });

  it('after a build, evicts the least recently used venv past the bound, never the new one or one used within the hour', async () => {
    await lastUsedAgo(oldest.dir, 3 * HOUR);
    await lastUsedAgo(recent.dir, 10 * 60_000);
    process.env.REPRO_GATE_CACHE_MAX_SIZE = '1';
    try {
      // A comment changes the requirements' bytes, hence the key: a third venv, from the wheel pip cached.
      newest = await build('six-1.16-again', `# again\n${SIX_FROM_SOURCE}`);
    } finally {
      delete process.env.REPRO_GATE_CACHE_MAX_SIZE;
    }
    expect(newest.source).toBe('built');
    expect(await listVenvs()).toEqual([recent.key, newest.key].sort());
    expect(newest.log.join('\n')).toMatch(/evicted 1 least recently used venv/);
    expect(newest.log.join('\n')).toMatch(/stays over its bound of 1 B \(REPRO_GATE_CACHE_MAX_SIZE\)/);
  });

  it('`cache prune` evicts the oldest down to a bound that fits only the newest', async () => {
    const inventory = await readCacheInventory(cacheRoot);
    const newestBytes = inventory.venvs.find((venv) => venv.key === newest.key)!.bytes;
    const pruned = await cli(['cache', 'prune', '--max-size', String(newestBytes + inventory.downloads.reduce((sum, folder) => sum + folder.bytes, 0))]);
    expect(pruned.stderr).toBe('');
    expect(pruned.status).toBe(0);
    expect(pruned.stdout).toContain(`Evicted 1 venv(s)`);
    expect(pruned.stdout).toContain(recent.key);
    expect(await listVenvs()).toEqual([newest.key]);
  });

  it('a failed build leaves no folder and no lock behind, and says why', async () => {
    const before = await listVenvs();
    const failure = await build('missing-pin', 'numpy==0.0.0\n').then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(UserError);
    expect((failure as UserError).message).toMatch(/the environment failed to build: pip install -r missing-pin\.txt exited 1/);
    expect(await listVenvs()).toEqual(before);
  });

  it('refuses a bad REPRO_GATE_CACHE_MAX_SIZE before building anything', async () => {
    process.env.REPRO_GATE_CACHE_MAX_SIZE = 'ten gigs';
    try {
      await expect(build('six-1.17-bad-bound', '# bound\nsix==1.17.0\n')).rejects.toThrow('REPRO_GATE_CACHE_MAX_SIZE "ten gigs" is not a size');
    } finally {
      delete process.env.REPRO_GATE_CACHE_MAX_SIZE;
    }
    expect(await listVenvs()).toEqual([newest.key]);
    const listed = await runCli(['cache', 'list'], { cwd: workDir, env: { REPRO_GATE_CACHE_DIR: cacheRoot, REPRO_GATE_CACHE_MAX_SIZE: 'ten gigs' } });
    expect(listed.status).toBe(2);
    expect(listed.stderr).toBe('repro-gate: error: REPRO_GATE_CACHE_MAX_SIZE "ten gigs" is not a size\n' + 'Give a number of bytes or a number with a unit: 10GiB, 500MiB, 2GB (KiB/MiB/GiB/TiB count in 1024s, KB/MB/GB/TB in 1000s).\n');
  });

  it('`cache prune --all` empties the cache, pip downloads included', async () => {
    const pruned = await cli(['cache', 'prune', '--all']);
    expect(pruned.status).toBe(0);
    expect(pruned.stdout).toMatch(/Removed pip's download cache/);
    expect(await listVenvs()).toEqual([]);
    await expect(access(pipCacheDirectory(cacheRoot))).rejects.toThrow();
    expect((await cli(['cache', 'list'])).stdout).toMatch(/No venvs cached yet\.\n(?:.+ outside this cache\.\n)*Total: 0 B of/);
  });
});
