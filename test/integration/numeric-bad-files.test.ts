import { access, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixtureRepo, git, runCli } from '../support/fixture-repo.js';
import { verifyUntouched } from '../support/verify-untouched.js';

// A numeric artifact that lies about itself stops the check with exit 2 and one message naming the artifact:
// never a crash, never a pass.

/** An .npy header (version 1.0) declaring `shape`, followed by `dataBytes` bytes of zeros. */
function npy(shape: number[], dataBytes: number): Buffer {
  const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const header = dict + ' '.repeat(64 - ((10 + dict.length + 1) % 64)) + '\n';
  const preamble = Buffer.from([0x93, ...Buffer.from('NUMPY'), 1, 0, header.length & 0xff, header.length >> 8]);
  return Buffer.concat([preamble, Buffer.from(header, 'latin1'), Buffer.alloc(dataBytes)]);
}

async function repoWriting(file: Buffer) {
  const root = await mkdtemp(path.join(tmpdir(), 'repro-gate-bad-npy-'));
  await writeFile(path.join(root, 'weights.bin'), file);
  await writeFile(path.join(root, '.gitignore'), 'out/\n');
  git(root, 'init', '-q');
  git(root, 'add', '.');
  git(root, 'commit', '-qm', 'bad npy');
  return root;
}

const WRITE = ['--', 'sh', '-c', 'mkdir -p out && cp weights.bin out/weights.npy'];

describe('verify --baseline', () => {
  it('refuses a folder that does not exist before anything runs: it would silently mean no baseline', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'repro-gate-no-baseline-'));
    const result = await runCli(['verify', 'run.yaml', '--baseline', 'no-such-folder'], { cwd: root });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/--baseline no-such-folder is not a folder/);
  });
});

describe('numeric artifacts that lie about their size', () => {
  it('record refuses a truncated .npy, naming it, and writes no record', async () => {
    const root = await repoWriting(npy([1000], 400));
    const result = await runCli(['record', '--current-env', '--name', 'bad', '--numeric', 'out/weights.npy', ...WRITE], { cwd: root });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/out\/weights\.npy/);
    expect(result.stderr).toMatch(/4000/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    await expect(access(path.join(root, 'run.yaml'))).rejects.toThrow();
  });

  it('verify stops with exit 2 when the rerun writes a file whose header claims more than it holds', async () => {
    const root = await repoWriting(npy([4], 16));
    const recorded = await runCli(['record', '--current-env', '--name', 'bad', '--numeric', 'out/weights.npy', ...WRITE], { cwd: root });
    expect(recorded.status, recorded.stderr).toBe(0);
    git(root, 'add', 'run.yaml');
    git(root, 'commit', '-qm', 'record');
    // The same header now declares a billion elements over 16 bytes: nothing may be allocated for them.
    await writeFile(path.join(root, 'weights.bin'), npy([1_000_000_000], 16));
    git(root, 'commit', '-qam', 'lie');
    const result = await verifyUntouched(fixtureRepo(root, {}));
    expect(result.status).toBe(2);
    expect(result.record?.verdict).toBe('error');
    expect(result.record?.error?.message).toMatch(/out\/weights\.npy/);
    expect(result.stderr).not.toMatch(/internal error/);
  });
});
