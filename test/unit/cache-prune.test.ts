import { access, mkdir, mkdtemp, readdir, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { VENV_COMPLETE_MARKER } from '../../src/constants.js';
import { diskUsage } from '../../src/environment/cache/disk-usage.js';
import { markUsed, pruneCache, readCacheInventory } from '../../src/environment/cache/index.js';
import { pipCacheDirectory, toolsDirectory, uvCacheDirectory, venvDirectory, venvsDirectory } from '../../src/environment/venv-cache.js';

// Real folders on disk standing in for venvs (the integration test builds real ones): what is listed, in what
// order, and what a prune removes and leaves.

const KIB = 1024;
let root: string;

const present = (file: string) =>
  access(file).then(
    () => true,
    () => false,
  );

async function fakeVenv(key: string, options: { kib: number; usedMinutesAgo?: number; lockMinutesAgo?: number }): Promise<string> {
  const dir = venvDirectory(root, key);
  await mkdir(path.join(dir, 'lib'), { recursive: true });
  await writeFile(path.join(dir, 'lib', 'payload'), Buffer.alloc(options.kib * KIB, 1));
  if (options.usedMinutesAgo !== undefined) {
    await writeFile(path.join(dir, VENV_COMPLETE_MARKER), `${key}\n`);
    await markUsed(dir, new Date(Date.now() - options.usedMinutesAgo * 60_000));
  }
  if (options.lockMinutesAgo !== undefined) await fakeLock(`${key}.lock`, options.lockMinutesAgo);
  return dir;
}

async function fakeLock(name: string, minutesAgo: number) {
  const file = path.join(venvsDirectory(root), name);
  await writeFile(file, '');
  const when = new Date(Date.now() - minutesAgo * 60_000);
  await utimes(file, when, when);
}

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'repro-gate-cache-unit-'));
});

describe('cache inventory and prune', () => {
  it('measures a venv like du: a symlinked folder (lib64 -> lib) is not counted twice', async () => {
    const dir = await fakeVenv('linked', { kib: 512, usedMinutesAgo: 0 });
    const once = await diskUsage(dir);
    await symlink('lib', path.join(dir, 'lib64'));
    expect(once).toBeGreaterThanOrEqual(512 * KIB);
    expect(await diskUsage(dir)).toBeLessThan(once + 8 * KIB);
    expect(await diskUsage(path.join(root, 'no-such-folder'))).toBe(0);
  });

  it('lists complete venvs, half-built folders, locks and pip downloads; an absent cache is empty', async () => {
    expect(await readCacheInventory(path.join(root, 'absent'))).toMatchObject({ venvs: [], incomplete: [], locks: [], totalBytes: 0 });
    await fakeVenv('old', { kib: 256, usedMinutesAgo: 600 });
    await fakeVenv('building', { kib: 64, lockMinutesAgo: 0 });
    await mkdir(pipCacheDirectory(root));
    await writeFile(path.join(pipCacheDirectory(root), 'wheel'), Buffer.alloc(128 * KIB, 1));
    const inventory = await readCacheInventory(root);
    expect(inventory.venvs.map((venv) => venv.key)).toEqual(['old']);
    expect(inventory.venvs[0]!.lastUsedMs).toBeLessThan(Date.now() - 599 * 60_000);
    expect(inventory.incomplete.map((folder) => [folder.key, folder.lock])).toEqual([['building', 'held']]);
    expect(inventory.locks.map((lock) => [path.basename(lock.file), lock.state])).toEqual([['building.lock', 'held']]);
    expect(inventory.downloads.find((folder) => folder.dir === pipCacheDirectory(root))?.bytes).toBeGreaterThanOrEqual(128 * KIB);
    expect(inventory.totalBytes).toBe(inventory.venvs[0]!.bytes + inventory.incomplete[0]!.bytes + inventory.downloads.reduce((sum, folder) => sum + folder.bytes, 0));
  });

  it('evicts least recently used first down to the bound; removes abandoned folders and stale locks; spares builds', async () => {
    await fakeVenv('oldest', { kib: 256, usedMinutesAgo: 3000 });
    const middle = await fakeVenv('middle', { kib: 256, usedMinutesAgo: 300 });
    await fakeVenv('newest', { kib: 256, usedMinutesAgo: 30 });
    await fakeVenv('abandoned', { kib: 64, lockMinutesAgo: 60 });
    await fakeVenv('building', { kib: 64, lockMinutesAgo: 0 });
    await fakeLock('orphan.lock', 60);
    // Reusing "middle" now makes "newest" the older of the two.
    await markUsed(middle);
    const before = await readCacheInventory(root);
    const building = before.incomplete.find((folder) => folder.key === 'building')!;
    const oneVenv = before.venvs.find((venv) => venv.key === 'middle')!.bytes;

    const result = await pruneCache(root, { maxBytes: building.bytes + oneVenv });
    expect(result.evicted.map((venv) => venv.key)).toEqual(['oldest', 'newest']);
    expect(result.removedIncomplete.map((folder) => folder.key)).toEqual(['abandoned']);
    expect(result.building.map((folder) => folder.key)).toEqual(['building']);
    expect(result.removedLocks).toBe(2);
    expect(result.totalBytesAfter).toBe(building.bytes + oneVenv);
    expect((await readdir(venvsDirectory(root))).sort()).toEqual(['building', 'building.lock', 'middle']);
  });

  it('with all, removes every venv not being built, and the download caches: pip\'s, uv\'s, and the uv repro-gate installed', async () => {
    await fakeVenv('a', { kib: 64, usedMinutesAgo: 0 });
    await fakeVenv('building', { kib: 64, lockMinutesAgo: 0 });
    for (const dir of [pipCacheDirectory(root), uvCacheDirectory(root), path.join(toolsDirectory(root), 'uv-0.13.9', 'bin')]) {
      await mkdir(dir, { recursive: true });
      await writeFile(path.join(dir, 'file'), 'x');
    }
    const result = await pruneCache(root, { maxBytes: 10 * 1024 ** 3, all: true });
    expect(result.evicted.map((venv) => venv.key)).toEqual(['a']);
    expect(result.removedDownloads.map((folder) => folder.label)).toEqual(["pip's download cache", "uv's download cache", 'uv, installed by repro-gate']);
    for (const dir of [pipCacheDirectory(root), uvCacheDirectory(root), toolsDirectory(root)]) expect(await present(dir)).toBe(false);
    expect((await readdir(venvsDirectory(root))).sort()).toEqual(['building', 'building.lock']);
  });

  it('does not evict a venv whose build lock another process holds', async () => {
    await fakeVenv('locked', { kib: 64, usedMinutesAgo: 600, lockMinutesAgo: 0 });
    const result = await pruneCache(root, { maxBytes: 0 });
    expect(result.evicted).toEqual([]);
    expect(await present(path.join(venvDirectory(root, 'locked'), VENV_COMPLETE_MARKER))).toBe(true);
  });
});
