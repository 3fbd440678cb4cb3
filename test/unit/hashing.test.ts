import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { sha256Directory, sha256File, sha256Path, sha256PathIfExists } from '../../src/hashing/sha256.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'repro-gate-hash-'));
});

const coreutilsDirectoryHash = (target: string) =>
  execFileSync('sh', ['-c', `cd "$1" && find . -type f | sed 's|^\\./||' | LC_ALL=C sort | xargs -d '\\n' sha256sum | sha256sum | cut -d' ' -f1`, 'sh', target], {
    encoding: 'utf8',
  }).trim();

describe('sha256File', () => {
  it.each([
    ['', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
    ['abc', 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'],
  ])('hashes %j to the known vector', async (content, expected) => {
    await writeFile(path.join(dir, 'f'), content);
    expect(await sha256File(path.join(dir, 'f'))).toBe(expected);
  });

  it('streams a file larger than its read chunk to the same digest as a one-shot hash', async () => {
    const content = Buffer.alloc(9 * 1024 * 1024 + 17);
    for (let i = 0; i < content.length; i++) content[i] = (i * 31) & 0xff;
    await writeFile(path.join(dir, 'big'), content);
    expect(await sha256File(path.join(dir, 'big'))).toBe(createHash('sha256').update(content).digest('hex'));
  });
});

describe('sha256Directory', () => {
  it('agrees with the documented coreutils pipeline on nested, unicode, spaced and case-sorted names', async () => {
    const files = ['B.txt', 'a.txt', '_x', 'Z/inner file.csv', 'z/é.bin', 'nested/deep/er/0.json', 'a-b', 'a.b', 'a/b'];
    for (const [i, file] of files.entries()) {
      await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
      await writeFile(path.join(dir, file), `content ${i}\n`.repeat(i + 1));
    }
    await mkdir(path.join(dir, 'empty-dir'));
    expect(await sha256Directory(dir)).toBe(coreutilsDirectoryHash(dir));
  });

  it('changes when one byte of one file changes', async () => {
    await writeFile(path.join(dir, 'a'), 'x');
    const before = await sha256Directory(dir);
    await writeFile(path.join(dir, 'a'), 'y');
    expect(await sha256Directory(dir)).not.toBe(before);
  });

  it('refuses symlinks inside the directory, naming them', async () => {
    await writeFile(path.join(dir, 'real'), 'x');
    await symlink(path.join(dir, 'real'), path.join(dir, 'link'));
    await expect(sha256Directory(dir)).rejects.toThrow(UserError);
    await expect(sha256Directory(dir)).rejects.toThrow(/link is a symlink/);
  });
});

describe('sha256Path', () => {
  it('hashes files and directories, and returns null only for a missing path', async () => {
    await writeFile(path.join(dir, 'f'), 'abc');
    expect(await sha256Path(path.join(dir, 'f'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(await sha256Path(dir)).toBe(coreutilsDirectoryHash(dir));
    expect(await sha256PathIfExists(path.join(dir, 'missing'))).toBeNull();
  });
});
