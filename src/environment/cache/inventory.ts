import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { downloadFolders, LOCK_SUFFIX, venvLockFile, venvsDirectory } from '../venv-cache.js';
import { diskUsage } from './disk-usage.js';
import { lastUsed } from './last-used.js';
import { type LockState, lockState } from './locks.js';

export interface VenvEntry {
  /** The folder's name under venvs/: the cache key for a venv. */
  key: string;
  dir: string;
  bytes: number;
  /** When it was last built or reused; null when the completion marker is missing (being built, or half-built). */
  lastUsedMs: number | null;
  /** Its build lock: `held` while a build (or an eviction) works on it. */
  lock: LockState;
}

export interface DownloadFolder {
  /** What it is, as `cache list` names it. */
  label: string;
  dir: string;
  bytes: number;
}

export interface CacheInventory {
  root: string;
  /** Complete venvs. */
  venvs: VenvEntry[];
  /** Folders without the completion marker: a build in progress (lock held) or one that died. */
  incomplete: VenvEntry[];
  locks: Array<{ file: string; state: LockState }>;
  /** pip's and uv's download caches, and the uv repro-gate installed: what `cache prune --all` also removes. */
  downloads: DownloadFolder[];
  totalBytes: number;
}

/** Everything in the cache folder, measured. A cache folder that does not exist yet is an empty cache. */
export async function readCacheInventory(root: string): Promise<CacheInventory> {
  const venvsDir = venvsDirectory(root);
  const entries = await readdir(venvsDir, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [];
    throw error;
  });
  const now = Date.now();
  const folders = await Promise.all(
    entries
      .filter((entry) => entry.isDirectory())
      .map(async (entry): Promise<VenvEntry> => {
        const dir = path.join(venvsDir, entry.name);
        const [bytes, used, lock] = await Promise.all([diskUsage(dir), lastUsed(dir), lockState(venvLockFile(dir), now)]);
        return { key: entry.name, dir, bytes, lastUsedMs: used, lock };
      }),
  );
  const locks = await Promise.all(
    entries
      .filter((entry) => entry.isFile() && entry.name.endsWith(LOCK_SUFFIX))
      .map(async (entry) => {
        const file = path.join(venvsDir, entry.name);
        return { file, state: await lockState(file, now) };
      }),
  );
  const downloads = await Promise.all(downloadFolders(root).map(async ({ label, dir }) => ({ label, dir, bytes: await diskUsage(dir) })));
  const venvs = folders.filter((folder) => folder.lastUsedMs !== null);
  const incomplete = folders.filter((folder) => folder.lastUsedMs === null);
  const totalBytes = [...folders, ...downloads].reduce((sum, folder) => sum + folder.bytes, 0);
  return { root, venvs, incomplete, locks, downloads, totalBytes };
}
