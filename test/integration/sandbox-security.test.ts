import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createRecordedRepo, recordingCacheRoot, editRecord, type FixtureRepo, git, runCli } from '../support/fixture-repo.js';
import { verifyUntouched } from '../support/verify-untouched.js';

// What a pull request's training can try against the machine that reruns it, through the bundled CLI with real
// pip, venvs and training. Nothing of the user's tree may change, whatever the command does.

let cacheRoot: string;
beforeAll(async () => {
  // Verify shares the recordings' venv cache: these tests are about the loop, not about building venvs.
  cacheRoot = await recordingCacheRoot();
});
const newRepo = () => createRecordedRepo({ cacheRoot });

/** Rewrites a file in place with the same length, then puts its mode and times back: only the inode change time moves. */
const SAME_SIZE_REWRITE = [
  'import os, sys',
  'target = sys.argv[1]',
  'st = os.stat(target)',
  'old = open(target, "rb").read()',
  'os.chmod(target, st.st_mode | 0o200)',
  'open(target, "r+b").write(old.replace(b"version", b"VERSION", 1))',
  'os.chmod(target, st.st_mode)',
  'os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))',
  '',
].join('\n');
const commitAll = (repo: FixtureRepo, message: string) => {
  git(repo.root, 'add', '-A');
  git(repo.root, 'commit', '-qm', message);
};
/** Prepends a line of shell to the record's command. */
const before = (first: string) => (record: Record<string, any>) => {
  record.command = `${first} && ${record.command}`;
};

describe('the rerun environment is an allowlist', () => {
  it('withholds host variables unless the record passes them by name, and points HOME, TMPDIR and GITHUB_WORKSPACE into the sandbox', async () => {
    const repo = await newRepo();
    const dump = path.join(await mkdtemp(path.join(tmpdir(), 'repro-gate-env-')), 'env.txt');
    await editRecord(repo, before(`env > ${dump}`));
    const env = { ...repo.env, HF_TOKEN: 'hf_secret_value', AWS_SECRET_ACCESS_KEY: 'aws_secret_value', GITHUB_WORKSPACE: repo.root };
    const withheld = await runCli(['verify', 'run.yaml'], { cwd: repo.root, env });
    expect(withheld.status).toBe(0);
    const seen = await readFile(dump, 'utf8');
    expect(seen).not.toContain('hf_secret_value');
    expect(seen).not.toContain('aws_secret_value');
    expect(seen).not.toContain(`GITHUB_WORKSPACE=${repo.root}\n`);
    expect(seen).toMatch(/^HOME=.*repro-gate-[^/]+\/home$/m);
    expect(seen).toMatch(/^TMPDIR=.*repro-gate-[^/]+\/tmp$/m);
    expect(seen).toMatch(/^PATH=/m);

    await editRecord(repo, (record) => {
      record.environment.pass_env = ['HF_TOKEN'];
    });
    const passed = await runCli(['verify', 'run.yaml'], { cwd: repo.root, env });
    expect(passed.status).toBe(0);
    const seenNow = await readFile(dump, 'utf8');
    expect(seenNow).toContain('HF_TOKEN=hf_secret_value');
    expect(seenNow).not.toContain('aws_secret_value');
  });
});

describe('no write outside the sandbox goes unnoticed', () => {
  it('is an error naming the file when the command writes into the repository by absolute path', async () => {
    const repo = await newRepo();
    await editRecord(repo, before(`echo tampered >> ${repo.root}/config.json`));
    commitAll(repo, 'escape by absolute path');
    const result = await repo.verify();
    expect(result.status).toBe(2);
    expect(result.stdout).toMatch(/the command wrote outside its sandbox: config\.json/);
    expect(await repo.read('config.json')).toMatch(/tampered/);
  });

  it('never runs a core.fsmonitor command or hook the training plants in .git, and names .git/config', async () => {
    const repo = await newRepo();
    const marker = path.join(await mkdtemp(path.join(tmpdir(), 'repro-gate-fsmonitor-')), 'ran');
    await editRecord(repo, before(`git -C ${repo.root} config core.fsmonitor "touch ${marker}" && printf '#!/bin/sh\\ntouch ${marker}\\n' > ${repo.root}/.git/hooks/post-checkout && chmod +x ${repo.root}/.git/hooks/post-checkout`));
    commitAll(repo, 'plant a program');
    const result = await repo.verify();
    expect(result.status).toBe(2);
    expect(result.stdout).toMatch(/wrote outside its sandbox: .*\.git\/config/);
    expect(existsSync(marker)).toBe(false);
  });
});

describe('symlinks never lead repro-gate out of the sandbox', () => {
  it('keeps the user\'s file when a tracked link with an absolute target leads an output into the repository', async () => {
    const repo = await newRepo();
    await mkdir(path.join(repo.root, 'real'));
    await repo.write('real/model.json', 'the user\'s own model\n');
    await symlink(path.join(repo.root, 'real'), path.join(repo.root, 'linked'));
    await editRecord(repo, (record) => {
      record.command = `${record.command} && cp out/model.json linked/model.json`;
      record.artifacts.push({ path: 'linked/model.json', sha256: record.artifacts[0].sha256 });
    });
    commitAll(repo, 'an output through an absolute link');
    const result = await verifyUntouched(repo);
    // In the copy the link leads to the copy's real/, where the rerun wrote the model.
    expect(result.record?.artifacts[1]).toMatchObject({ path: 'linked/model.json', status: 'identical' });
    expect(await repo.read('real/model.json')).toBe('the user\'s own model\n');
  });

  it('leaves out links that lead outside the repository, and says so', async () => {
    const repo = await newRepo();
    const outside = await mkdtemp(path.join(tmpdir(), 'repro-gate-outside-'));
    await symlink(outside, path.join(repo.root, 'datasets'));
    commitAll(repo, 'a link to a folder outside');
    const result = await verifyUntouched(repo);
    expect(result.report?.verdict).toBe('reproduced');
    expect(result.record?.warnings).toContainEqual(expect.stringMatching(/left out of the sandbox.*datasets/));
  });
});

describe('requirements that install the project itself', () => {
  it('install from the sandbox\'s copy (no build files in the checkout) into a venv that is never cached', async () => {
    const repo = await newRepo();
    await repo.write('pyproject.toml', '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n\n[project]\nname = "linear-helpers"\nversion = "0.1.0"\n\n[tool.setuptools]\npy-modules = ["helpers"]\n');
    await repo.write('helpers.py', 'SCALE = 1\n');
    await repo.write('requirements.txt', 'numpy==2.2.6\n-e .\n');
    commitAll(repo, 'an editable install of the project');
    const first = await verifyUntouched(repo);
    expect(first.record?.error).toBeUndefined();
    expect(first.report?.verdict).toBe('reproduced');
    expect(first.record?.environment?.venv?.source).toBe('built');
    expect(existsSync(path.join(cacheRoot, 'venvs', first.record!.environment!.venv!.key))).toBe(false);
  });
});

describe('the cached venv is not the rerun\'s to change', () => {
  // These tests change cached venvs: a cache of their own, so no other test file ever meets a changed venv.
  let ownCache: string;
  beforeAll(async () => {
    ownCache = await mkdtemp(path.join(tmpdir(), 'repro-gate-tampered-cache-'));
  });
  const newRepo = () => createRecordedRepo({ cacheRoot: ownCache });

  it('discards a venv the command rewrote in place (same size, mtime and mode put back), says so, and rebuilds it next time', async () => {
    const repo = await newRepo();
    const first = await verifyUntouched(repo);
    expect(first.report?.verdict).toBe('reproduced');
    await repo.write('tamper.py', SAME_SIZE_REWRITE);
    await editRecord(repo, before('python tamper.py "$(python -c "import numpy.version as v; print(v.__file__)")"'));
    const tampered = await verifyUntouched(repo);
    expect(tampered.record?.warnings).toContainEqual(expect.stringMatching(/changed the cached venv .*numpy\/version\.py.*discarded/));
    await editRecord(repo, (record) => {
      record.command = record.command.replace(/^.*? && /, '');
    });
    const next = await verifyUntouched(repo);
    expect(next.record?.environment?.venv?.source).toBe('built');
  });

  it('removes repro-gate\'s uv and uv\'s download cache when the command writes into them, and says so', async () => {
    const repo = await newRepo();
    // uv's download cache is repro-gate's own (not one the user set), as on a runner without UV_CACHE_DIR.
    repo.env.UV_CACHE_DIR = '';
    const cache = '"$VIRTUAL_ENV/../.."';
    await editRecord(repo, before(`mkdir -p ${cache}/tools/uv-0.0.0/bin ${cache}/uv/archive-v0 && echo poisoned > ${cache}/tools/uv-0.0.0/bin/uv && echo poisoned > ${cache}/uv/archive-v0/numpy.py`));
    const tampered = await verifyUntouched(repo);
    expect(tampered.record?.warnings).toContainEqual(`the command changed ${path.join(ownCache, 'tools')}, which later venv builds read: it was removed (its downloads are fetched again)`);
    expect(tampered.record?.warnings).toContainEqual(`the command changed ${path.join(ownCache, 'uv')}, which later venv builds read: it was removed (its downloads are fetched again)`);
    expect(existsSync(path.join(ownCache, 'tools'))).toBe(false);
    expect(existsSync(path.join(ownCache, 'uv'))).toBe(false);
    expect(tampered.record?.verdict).toBe('reproduced');
  });

  it('rebuilds a cached venv that something changed between two runs, instead of trusting it', async () => {
    const repo = await newRepo();
    const first = await verifyUntouched(repo);
    const venv = path.join(ownCache, 'venvs', first.record!.environment!.venv!.key);
    const target = execFileSync(path.join(venv, 'bin', 'python'), ['-I', '-c', 'import numpy.version as v; print(v.__file__)'], { encoding: 'utf8' }).trim();
    execFileSync('python3', ['-c', SAME_SIZE_REWRITE, target]);
    const next = await verifyUntouched(repo);
    expect(next.record?.environment?.venv?.source).toBe('built');
    expect(next.report?.verdict).toBe('reproduced');
  });
});
