import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { sha256Path } from '../../src/hashing/sha256.js';
import { collectOutputs } from '../../src/pipeline/collect-outputs.js';
import type { ResolvedPath } from '../../src/record/paths.js';

// Outputs are checked before anything is opened: a FIFO or a device would hang the hash (each test has a short
// timeout, so a regression fails instead of hanging). Real files, real FIFOs.

const QUICK = 5_000;
let sandbox: string;
beforeEach(async () => {
  sandbox = await mkdtemp(path.join(tmpdir(), 'repro-gate-outputs-'));
  await mkdir(path.join(sandbox, 'out'));
});

const output = (repoRelative: string): ResolvedPath => ({ absolute: path.join('/repo', repoRelative), repoRelative });
const artifact = (repoRelative: string) => collectOutputs(sandbox, [output(repoRelative)], undefined);
const metrics = (repoRelative: string) => collectOutputs(sandbox, [], output(repoRelative));
const mkfifo = (relative: string) => execFileSync('mkfifo', [path.join(sandbox, relative)]);

describe('collectOutputs', () => {
  it('hashes a regular file and a folder of regular files, reads metrics, and reports what is missing', { timeout: QUICK }, async () => {
    await writeFile(path.join(sandbox, 'out', 'a.txt'), 'hi\n');
    await mkdir(path.join(sandbox, 'out', 'model', 'sub'), { recursive: true });
    await writeFile(path.join(sandbox, 'out', 'model', 'sub', 'w.bin'), 'weights');
    await writeFile(path.join(sandbox, 'out', 'm.json'), '{"acc": 0.9}');
    const collected = await collectOutputs(sandbox, [output('out/a.txt'), output('out/model'), output('out/none')], output('out/m.json'));
    expect(collected.artifactHashes.get('out/a.txt')).toBe(createHash('sha256').update('hi\n').digest('hex'));
    expect(collected.artifactHashes.get('out/model')).toBe(await sha256Path(path.join(sandbox, 'out', 'model')));
    expect(collected.artifactHashes.get('out/none')).toBeNull();
    expect(collected.metrics).toEqual({ acc: 0.9 });
    expect((await metrics('out/absent.json')).metrics).toBeNull();
  });

  it.each<[string, () => Promise<unknown>, RegExp, string?]>([
    ['a symlink to /dev/zero', async () => symlink('/dev/zero', path.join(sandbox, 'out', 'a.txt')), /artifact out\/a\.txt is a symlink \(to \/dev\/zero\), not a regular file/],
    ['a symlink to a regular file', async () => {
      await writeFile(path.join(sandbox, 'real.txt'), 'hi\n');
      await symlink('../real.txt', path.join(sandbox, 'out', 'a.txt'));
    }, /artifact out\/a\.txt is a symlink \(to \.\.\/real\.txt\)/],
    ['a FIFO', async () => mkfifo('out/a.txt'), /artifact out\/a\.txt is a FIFO \(named pipe\), not a regular file/],
    ['a FIFO inside a folder', async () => {
      await mkdir(path.join(sandbox, 'out', 'a.txt'));
      mkfifo('out/a.txt/pipe');
    }, /out\/a\.txt\/pipe is a FIFO \(named pipe\), not a regular file/],
    ['a link to a device inside a folder', async () => {
      await mkdir(path.join(sandbox, 'out', 'a.txt'));
      await symlink('/dev/zero', path.join(sandbox, 'out', 'a.txt', 'zeros'));
    }, /out\/a\.txt\/zeros is a symlink/],
    ['a file reached through a symlinked folder outside the sandbox', async () => {
      const elsewhere = await mkdtemp(path.join(tmpdir(), 'repro-gate-elsewhere-'));
      await writeFile(path.join(elsewhere, 'a.txt'), 'hi\n');
      await symlink(elsewhere, path.join(sandbox, 'linked'));
    }, /artifact linked\/a\.txt was written through a symlinked folder/, 'linked/a.txt'],
  ])('refuses an artifact that is %s, naming it', { timeout: QUICK }, async (_label, make, message, target = 'out/a.txt') => {
    await make();
    await expect(artifact(target)).rejects.toThrow(UserError);
    await expect(artifact(target)).rejects.toThrow(message);
  });

  it('refuses a metrics file that is a FIFO, a link to a device or a folder', { timeout: QUICK }, async () => {
    mkfifo('out/fifo.json');
    await symlink('/dev/zero', path.join(sandbox, 'out', 'zero.json'));
    await mkdir(path.join(sandbox, 'out', 'dir.json'));
    await expect(metrics('out/fifo.json')).rejects.toThrow(/metrics file out\/fifo\.json is a FIFO/);
    await expect(metrics('out/zero.json')).rejects.toThrow(/metrics file out\/zero\.json is a symlink \(to \/dev\/zero\)/);
    await expect(metrics('out/dir.json')).rejects.toThrow(/metrics file out\/dir\.json is a folder, not a regular file/);
  });
});

describe('sha256Path on inputs', () => {
  it('still follows a link to a regular file, and refuses a link to a FIFO or a device without opening it', { timeout: QUICK }, async () => {
    await writeFile(path.join(sandbox, 'data.csv'), 'a,b\n');
    await symlink('data.csv', path.join(sandbox, 'linked.csv'));
    expect(await sha256Path(path.join(sandbox, 'linked.csv'))).toBe(createHash('sha256').update('a,b\n').digest('hex'));
    mkfifo('pipe');
    await symlink('pipe', path.join(sandbox, 'to-pipe'));
    await symlink('/dev/zero', path.join(sandbox, 'to-zero'));
    await expect(sha256Path(path.join(sandbox, 'to-pipe'))).rejects.toThrow(/is a symlink to a FIFO \(named pipe\), neither a file nor a directory/);
    await expect(sha256Path(path.join(sandbox, 'to-zero'))).rejects.toThrow(/is a symlink to a character device/);
    await expect(sha256Path(path.join(sandbox, 'pipe'))).rejects.toThrow(/is a FIFO \(named pipe\), neither a file nor a directory/);
  });
});
