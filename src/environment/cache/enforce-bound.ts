import { TOOL_NAME } from '../../constants.js';
import type { CacheBound } from './bound.js';
import { pruneCache } from './prune.js';
import { formatSize } from './size-notation.js';

/**
 * A venv used this recently may still be running a rerun in another process (the default rerun timeout is an
 * hour), so the automatic eviction keeps it even past the bound; an explicit `cache prune` does not wait.
 */
export const IN_USE_GRACE_MS = 60 * 60_000;

/**
 * Run after a venv was added to the cache: evicts least recently used venvs down to the bound, never `keep`
 * (the venv just built). The cache is an accelerator, so a failure here is logged and the verify goes on.
 */
export async function enforceCacheBound(root: string, bound: CacheBound, keep: string, log: (line: string) => void): Promise<void> {
  try {
    const result = await pruneCache(root, { maxBytes: bound.bytes, keep, protectUsedSinceMs: Date.now() - IN_USE_GRACE_MS });
    const removed = [...result.evicted, ...result.removedIncomplete];
    if (removed.length > 0) {
      const freed = removed.reduce((sum, entry) => sum + entry.bytes, 0);
      log(`venv cache: evicted ${result.evicted.length} least recently used venv(s) and ${result.removedIncomplete.length} half-built folder(s), ${formatSize(freed)}`);
    }
    if (result.totalBytesAfter > bound.bytes) {
      log(
        `venv cache: ${formatSize(result.totalBytesAfter)} stays over its bound of ${formatSize(bound.bytes)} (${bound.source}): what is left is this venv, ` +
          `venvs used within the last hour (perhaps still running) and the download caches; \`${TOOL_NAME} cache prune\` evicts by age alone`,
      );
    }
  } catch (error) {
    log(`venv cache: eviction skipped: ${(error as Error).message}`);
  }
}
