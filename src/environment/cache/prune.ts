import { randomUUID } from 'node:crypto';
import { access, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { VENV_COMPLETE_MARKER } from '../../constants.js';
import { venvLockFile } from '../venv-cache.js';
import { type EvictionPolicy, planEviction } from './eviction-plan.js';
import { type CacheInventory, type DownloadFolder, readCacheInventory, type VenvEntry } from './inventory.js';
import { lastUsed } from './last-used.js';
import { lockState, tryLock } from './locks.js';

// Removed folders are first renamed to this prefix, so no other process ever sees a venv half deleted
// (its marker still there while its packages are gone); a leftover one has no marker and is pruned as half-built.
const REMOVING_PREFIX = '.removing-';

export interface PruneOptions extends EvictionPolicy {
  /** Remove every venv that is not locked, whatever the bound, and the download caches (pip's, uv's, and repro-gate's uv). */
  all?: boolean;
}

export interface PruneResult {
  before: CacheInventory;
  evicted: VenvEntry[];
  removedIncomplete: VenvEntry[];
  /** Being built right now: left alone. */
  building: VenvEntry[];
  removedLocks: number;
  /** The download folders removed with `all`. */
  removedDownloads: DownloadFolder[];
  totalBytesAfter: number;
}

const markerExists = (dir: string) =>
  access(path.join(dir, VENV_COMPLETE_MARKER)).then(
    () => true,
    () => false,
  );

/**
 * Removes a cache folder under its build lock, after checking under the lock that it is still to be removed
 * (another process may have finished or reused it since it was listed). False when it was left alone.
 */
async function removeUnderLock(dir: string, stillRemovable: () => Promise<boolean>): Promise<boolean> {
  const release = await tryLock(venvLockFile(dir));
  if (!release) return false;
  const doomed = path.join(path.dirname(dir), `${REMOVING_PREFIX}${randomUUID()}`);
  try {
    if (!(await stillRemovable())) return false;
    await rename(dir, doomed);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  } finally {
    await release();
  }
  await rm(doomed, { recursive: true, force: true });
  return true;
}

/**
 * Brings the cache within its bound: removes stale locks and half-built folders nobody is building, then
 * evicts complete venvs least recently used first. With `all`, also the download caches.
 */
export async function pruneCache(root: string, options: PruneOptions): Promise<PruneResult> {
  const before = await readCacheInventory(root);
  let total = before.totalBytes;

  let removedLocks = 0;
  for (const lock of before.locks) {
    if (lock.state !== 'stale' || (await lockState(lock.file)) !== 'stale') continue;
    await rm(lock.file, { force: true });
    removedLocks += 1;
  }

  const removedIncomplete: VenvEntry[] = [];
  const building: VenvEntry[] = [];
  for (const folder of before.incomplete) {
    if (await removeUnderLock(folder.dir, async () => !(await markerExists(folder.dir)))) {
      removedIncomplete.push(folder);
      total -= folder.bytes;
    } else {
      building.push(folder);
    }
  }

  const evicted: VenvEntry[] = [];
  // With `all`, an unbounded total makes the plan take every candidate.
  const plan = options.all ? planEviction(before.venvs, Number.POSITIVE_INFINITY, { ...options, maxBytes: 0 }) : planEviction(before.venvs, total, options);
  for (const venv of plan) {
    // Checked again under the lock: a reuse since the listing makes it recently used, perhaps in use right now.
    const unchanged = async () => (await lastUsed(venv.dir)) === venv.lastUsedMs;
    if (await removeUnderLock(venv.dir, unchanged)) {
      evicted.push(venv);
      total -= venv.bytes;
    }
  }

  const removedDownloads = options.all ? before.downloads.filter((folder) => folder.bytes > 0) : [];
  for (const folder of removedDownloads) {
    await rm(folder.dir, { recursive: true, force: true });
    total -= folder.bytes;
  }
  return { before, evicted, removedIncomplete, building, removedLocks, removedDownloads, totalBytesAfter: Math.max(total, 0) };
}
