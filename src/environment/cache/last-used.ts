import { stat, utimes } from 'node:fs/promises';
import path from 'node:path';
import { VENV_COMPLETE_MARKER } from '../../constants.js';

// A venv's last use is its completion marker's mtime: written when the venv is finished, touched on every reuse.
// No separate file, so a venv is complete and dated by the one file that is written last.

/** Records that the venv was used now. Best effort: a read-only cache only makes eviction order less exact. */
export async function markUsed(venvDir: string, when = new Date()): Promise<void> {
  await utimes(path.join(venvDir, VENV_COMPLETE_MARKER), when, when).catch(() => undefined);
}

/** When the venv was last built or reused, or null for a folder without the marker (half-built). */
export async function lastUsed(venvDir: string): Promise<number | null> {
  const stats = await stat(path.join(venvDir, VENV_COMPLETE_MARKER)).catch(() => null);
  return stats ? stats.mtimeMs : null;
}
