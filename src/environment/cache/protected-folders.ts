import { lstat, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { changedVenvFiles, filePrint } from '../venv-integrity.js';

// The rerun can find the cache folder (it lies above the venv it runs in). Some of what is there, later builds trust
// without checking it again: repro-gate's uv, and the installers' download caches (uv copies its unpacked downloads
// into venvs as they are). These folders are fingerprinted around the rerun, and one the rerun changed is removed.

/** The files uv and pip write on their own on every run: their locks and markers, none of them content a build trusts. */
const IGNORED = new Set(['.lock', '.gitignore', 'CACHEDIR.TAG']);

export type FolderFingerprint = Map<string, string>;

export interface ProtectedCache {
  root: string;
  folders: string[];
}

/** Stands in a fingerprint for a folder that could not be read: it never equals an earlier one. */
const UNREADABLE = '\0unreadable';

async function walk(folder: string, relative: string, fingerprint: FolderFingerprint): Promise<void> {
  const entries = await readdir(path.join(folder, relative), { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
    // A folder removed while it is walked (uv's temporary ones come and go) is left out, as a file would be.
    if (error.code === 'ENOENT') return [];
    throw error;
  });
  for (const entry of entries) {
    const file = path.join(relative, entry.name);
    if (entry.isDirectory()) {
      await walk(folder, file, fingerprint);
      continue;
    }
    if (relative === '' && IGNORED.has(entry.name)) continue;
    const stats = await lstat(path.join(folder, file), { bigint: true }).catch(() => undefined);
    if (stats) fingerprint.set(file, filePrint(stats));
  }
}

/** Every file's print (as a venv's, see src/environment/venv-integrity.ts); empty for a folder that is not there. */
export async function fingerprintFolder(folder: string): Promise<FolderFingerprint> {
  const fingerprint: FolderFingerprint = new Map();
  try {
    await walk(folder, '', fingerprint);
  } catch {
    fingerprint.set(UNREADABLE, String(Math.random()));
  }
  return fingerprint;
}

/** Pure: whether a folder changed between two fingerprints: any file added, changed or removed. */
export function folderChanged(before: FolderFingerprint, after: FolderFingerprint): boolean {
  return changedVenvFiles(before, after).length > 0;
}

/**
 * The folders the rerun changed are removed, so no later build trusts them; returns those removed. Another repro-gate
 * process building in the same cache meanwhile (adding downloads) makes them count as changed too: the downloads are
 * fetched again, and a build that was reading them fails and is run again, but nothing unchecked is ever trusted.
 */
export async function discardChangedFolders(cache: ProtectedCache, before: readonly FolderFingerprint[]): Promise<string[]> {
  const changed: string[] = [];
  for (const [i, folder] of cache.folders.entries()) {
    if (!folderChanged(before[i]!, await fingerprintFolder(folder))) continue;
    await rm(folder, { recursive: true, force: true });
    changed.push(folder);
  }
  return changed;
}
