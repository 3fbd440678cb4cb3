import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';

// lstat calls in flight at once: enough to keep the thread pool busy on a torch venv's ~20k files, without a
// promise per file of a 10 GiB cache held at the same time.
const STAT_BATCH = 64;

interface Sized {
  dev: number;
  ino: number;
  blocks: number;
  size: number;
  nlink: number;
  isDirectory(): boolean;
}

/**
 * Bytes a file or folder occupies on disk, as `du` counts them: allocated blocks, each hard-linked file once,
 * symlinks not followed (a venv's lib64 points at lib, its bin/python at the system interpreter; readdir's own
 * `recursive` follows them, so the walk is done here). A path that vanishes while it is measured (a concurrent
 * eviction) counts as what was seen of it.
 */
export async function diskUsage(target: string): Promise<number> {
  const seen = new Set<string>();
  let total = 0;
  const count = (stats: Sized) => {
    if (stats.nlink > 1 && !stats.isDirectory()) {
      const identity = `${stats.dev}:${stats.ino}`;
      if (seen.has(identity)) return;
      seen.add(identity);
    }
    // Some filesystems report no blocks; the apparent size is the best figure there.
    total += Number.isFinite(stats.blocks) ? stats.blocks * 512 : stats.size;
  };
  const root = await lstat(target).catch(() => null);
  if (!root) return 0;
  count(root);
  let folders = root.isDirectory() ? [target] : [];
  while (folders.length > 0) {
    const next: string[] = [];
    for (const folder of folders) {
      const names = await readdir(folder).catch(() => [] as string[]);
      for (let i = 0; i < names.length; i += STAT_BATCH) {
        const batch = names.slice(i, i + STAT_BATCH).map((name) => path.join(folder, name));
        const stats = await Promise.all(batch.map((file) => lstat(file).catch(() => null)));
        stats.forEach((entry, j) => {
          if (!entry) return;
          count(entry);
          if (entry.isDirectory()) next.push(batch[j]!);
        });
      }
    }
    folders = next;
  }
  return total;
}
