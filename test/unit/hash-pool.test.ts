import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, lstat, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HASH_THREADS_ENV, PROGRESS_AFTER_ENV } from '../../src/constants.js';
import { UserError } from '../../src/errors.js';
import { HashPool, hashThreadCount } from '../../src/hashing/pool/hash-pool.js';
import { sha256Directory, sha256Path } from '../../src/hashing/sha256.js';
import { formatProgress, withProgress } from '../../src/pipeline/progress.js';
import { RerunSlots } from '../../src/pipeline/rerun-slots.js';
import { createSandbox } from '../../src/rerun/sandbox.js';
import type { PipelineHooks } from '../../src/pipeline/hooks.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'repro-gate-pool-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The README's recipe for a folder's digest, with coreutils. */
const coreutilsDirectoryHash = (target: string) =>
  execFileSync('sh', ['-c', `cd "$1" && find . -type f | sed 's|^\\./||' | LC_ALL=C sort | xargs -r -d '\\n' sha256sum | sha256sum | cut -d' ' -f1`, 'sh', target], {
    encoding: 'utf8',
  }).trim();

const sha = (content: string | Buffer) => createHash('sha256').update(content).digest('hex');

/** A data folder as image datasets have them: nested folders, empty files, spaces and non-ASCII names. */
async function writeDataset(root: string, files = 300): Promise<string[]> {
  const names: string[] = [];
  for (let i = 0; i < files; i++) {
    const name = [`class ${i % 7}`, i % 3 === 0 ? 'ünïcödé' : 'plain', `img_${i}${i % 11 === 0 ? ' copy' : ''}.bin`].join('/');
    await mkdir(path.dirname(path.join(root, name)), { recursive: true });
    await writeFile(path.join(root, name), i % 13 === 0 ? '' : `pixel ${i}\n`.repeat(i % 50));
    names.push(name);
  }
  await writeFile(path.join(root, '日本語.txt'), 'x');
  await mkdir(path.join(root, 'empty folder'));
  return names;
}

const quietHooks = (lines: string[] = []): PipelineHooks => ({
  info: () => undefined,
  progress: (line) => lines.push(line),
  group: (_title, run) => run(),
  output: () => undefined,
});

describe('the hash pool', () => {
  it('hashes many files on one thread and on four to the digests of a one-shot hash, in task order', async () => {
    const contents = Array.from({ length: 200 }, (_, i) => Buffer.alloc(i * 97, i));
    await Promise.all(contents.map((content, i) => writeFile(path.join(dir, `f${i}`), content)));
    for (const size of [1, 4]) {
      const pool = new HashPool(size, { inlineTasks: 0 });
      const outcomes = await Promise.all(contents.map((_, i) => pool.run({ file: path.join(dir, `f${i}`) })));
      expect(outcomes.map((outcome) => ('sha256' in outcome ? outcome.sha256 : outcome))).toEqual(contents.map((content) => sha(content)));
      expect(pool.counters).toMatchObject({ submitted: 200, completed: 200, bytes: contents.reduce((sum, content) => sum + content.length, 0) });
      expect(pool.threadCount).toBe(size);
      await pool.close();
    }
  });

  it('hashes a small burst of small files on the main thread, starting no thread, and hands a large file to one', async () => {
    const pool = new HashPool(2);
    const small = Array.from({ length: 20 }, (_, i) => Buffer.alloc(100 + i, i));
    await Promise.all(small.map((content, i) => writeFile(path.join(dir, `s${i}`), content)));
    const outcomes = await Promise.all(small.map((_, i) => pool.run({ file: path.join(dir, `s${i}`) })));
    expect(outcomes.map((outcome) => ('sha256' in outcome ? outcome.sha256 : outcome))).toEqual(small.map((content) => sha(content)));
    expect(pool.threadCount).toBe(0);
    const large = Buffer.alloc(3 * 1024 * 1024, 7);
    await writeFile(path.join(dir, 'large'), large);
    expect(await pool.run({ file: path.join(dir, 'large'), copyTo: path.join(dir, 'large-copy') })).toEqual({ sha256: sha(large), bytes: large.length });
    expect(pool.threadCount).toBe(1);
    expect(sha(await readFile(path.join(dir, 'large-copy')))).toBe(sha(large));
    await pool.close();
  });

  it('copies and hashes in one pass into an independent file with the same mode, and never writes through a link', async () => {
    const pool = new HashPool(2);
    await writeFile(path.join(dir, 'data.bin'), 'weights');
    await chmod(path.join(dir, 'data.bin'), 0o640);
    const outcome = await pool.run({ file: path.join(dir, 'data.bin'), copyTo: path.join(dir, 'copy.bin') });
    expect(outcome).toEqual({ sha256: sha('weights'), bytes: 7 });
    const [original, copy] = await Promise.all([stat(path.join(dir, 'data.bin')), stat(path.join(dir, 'copy.bin'))]);
    expect(copy.ino).not.toBe(original.ino);
    expect(copy.mode & 0o777).toBe(0o640);
    await writeFile(path.join(dir, 'copy.bin'), 'changed by the command');
    expect(await readFile(path.join(dir, 'data.bin'), 'utf8')).toBe('weights');
    // A destination that exists (a link planted there) is refused, not followed.
    const refused = await pool.run({ file: path.join(dir, 'data.bin'), copyTo: path.join(dir, 'copy.bin') });
    expect(refused).toMatchObject({ error: { code: 'EEXIST' } });
    await pool.close();
  });

  it('reports a FIFO or a device by its type without reading it, and a missing file by its code', async () => {
    const pool = new HashPool(1);
    execFileSync('mkfifo', [path.join(dir, 'pipe')]);
    expect(await pool.run({ file: path.join(dir, 'pipe') })).toMatchObject({ error: { mode: expect.any(Number) } });
    expect(await pool.run({ file: '/dev/zero' })).toMatchObject({ error: { mode: expect.any(Number) } });
    expect(await pool.run({ file: path.join(dir, 'missing') })).toMatchObject({ error: { code: 'ENOENT' } });
    await pool.close();
  });

  it('takes its thread count from REPRO_GATE_HASH_THREADS, and refuses one that is not a count', () => {
    expect(hashThreadCount({ [HASH_THREADS_ENV]: '1' })).toBe(1);
    expect(hashThreadCount({})).toBeGreaterThanOrEqual(1);
    expect(() => hashThreadCount({ [HASH_THREADS_ENV]: 'many' })).toThrow(UserError);
    expect(() => hashThreadCount({ [HASH_THREADS_ENV]: '0' })).toThrow(/REPRO_GATE_HASH_THREADS=0 is not a whole number from 1 to 64/);
  });
});

describe('directory hashing on the pool', () => {
  it('agrees with the coreutils recipe on nested folders, empty files, spaces and non-ASCII names', async () => {
    await writeDataset(dir);
    expect(await sha256Directory(dir)).toBe(coreutilsDirectoryHash(dir));
  });

  it('agrees with the recipe on an empty folder (xargs -r)', async () => {
    expect(await sha256Directory(dir)).toBe(coreutilsDirectoryHash(dir));
  });

  it('refuses a name with a newline, which the recipe cannot express, naming the file', async () => {
    await writeFile(path.join(dir, 'bad\nname.bin'), 'x');
    await expect(sha256Directory(dir, { displayPath: 'data/imgs' })).rejects.toThrow(/data\/imgs\/bad\nname.bin has a backslash or newline in its name/);
  });
});

describe('the sandbox copies data and hashes it in the same pass', () => {
  it('gives each data path the digest sha256Path gives it, and a copy independent of the user files', async () => {
    const repo = path.join(dir, 'repo');
    await writeDataset(path.join(repo, 'data', 'imgs'), 120);
    await writeFile(path.join(repo, 'data', 'labels.csv'), 'a,b\n1,2\n');
    await writeFile(path.join(repo, 'train.py'), 'print(1)\n');
    const sandbox = await createSandbox({ repoRoot: repo, isGitRepo: false, extraPaths: ['data/imgs', 'data/labels.csv'], hashedPaths: ['data/imgs', 'data/labels.csv', 'data/absent'], clearPaths: [] });
    try {
      expect(sandbox.hashes.get('data/imgs')).toBe(await sha256Path(path.join(repo, 'data', 'imgs')));
      expect(sandbox.hashes.get('data/imgs')).toBe(coreutilsDirectoryHash(path.join(repo, 'data', 'imgs')));
      expect(sandbox.hashes.get('data/labels.csv')).toBe(sha('a,b\n1,2\n'));
      expect(sandbox.hashes.has('data/absent')).toBe(false);
      expect(await readFile(path.join(sandbox.root, 'train.py'), 'utf8')).toBe('print(1)\n');
      // The copy is its own files: no hardlink, no symlink, and writing into it leaves the user's data as it was.
      const copied = path.join(sandbox.root, 'data', 'imgs', 'class 1', 'plain', 'img_1.bin');
      expect((await lstat(copied)).isFile()).toBe(true);
      expect((await stat(copied)).ino).not.toBe((await stat(path.join(repo, 'data', 'imgs', 'class 1', 'plain', 'img_1.bin'))).ino);
      await writeFile(copied, 'overwritten');
      expect(await readFile(path.join(repo, 'data', 'imgs', 'class 1', 'plain', 'img_1.bin'), 'utf8')).toBe('pixel 1\n');
    } finally {
      await sandbox.dispose();
    }
  });
});

describe('progress lines', () => {
  it('formats files done of the total, bytes and throughput', () => {
    expect(formatProgress({ files: 12_345, total: 20_000, bytes: 300 * 1024 * 1024, elapsedMs: 3000 })).toBe('12,345 of 20,000 files · 300 MiB · 100 MiB/s');
  });

  it('appear for hashing that outlasts the threshold, the last one saying where it ended', async () => {
    const names = await writeDataset(dir, 400);
    const lines: string[] = [];
    process.env[PROGRESS_AFTER_ENV] = '0';
    try {
      // Each of several passes submits the folder's files: the work lasts longer than the (zero) threshold.
      await withProgress('inputs', quietHooks(lines), async () => {
        for (let pass = 0; pass < 5; pass++) await sha256Directory(dir);
      });
    } finally {
      delete process.env[PROGRESS_AFTER_ENV];
    }
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.at(-1)).toMatch(new RegExp(`^inputs: ${((names.length + 1) * 5).toLocaleString('en-US')} of ${((names.length + 1) * 5).toLocaleString('en-US')} files · `));
  });

  it('never appear for fast hashing, nor for a stage that hashes nothing', async () => {
    await writeDataset(dir, 20);
    const lines: string[] = [];
    await withProgress('inputs', quietHooks(lines), () => sha256Directory(dir));
    process.env[PROGRESS_AFTER_ENV] = '0';
    try {
      await withProgress('rerun', quietHooks(lines), () => new Promise((resolve) => setTimeout(resolve, 100)));
      // A stage that hashes one small file and then waits on something else (pip) is not long hashing.
      await withProgress('environment', quietHooks(lines), async () => {
        await sha256Path(path.join(dir, '日本語.txt'));
        await new Promise((resolve) => setTimeout(resolve, 100));
      });
    } finally {
      delete process.env[PROGRESS_AFTER_ENV];
    }
    expect(lines).toEqual([]);
  });
});

describe('rerun slots', () => {
  it('never run more than their size at once, and run every piece of work', async () => {
    for (const size of [1, 2]) {
      const slots = new RerunSlots(size);
      let running = 0;
      let most = 0;
      const done = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          slots.run(async () => {
            running += 1;
            most = Math.max(most, running);
            await new Promise((resolve) => setTimeout(resolve, 10));
            running -= 1;
            return i;
          }),
        ),
      );
      expect(done).toEqual([0, 1, 2, 3, 4, 5]);
      expect(most).toBe(size);
    }
  });
});
