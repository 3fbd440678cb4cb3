import type { BigIntStats } from 'node:fs';
import { chmod, lstat, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { VENV_COMPLETE_MARKER, VENV_FINGERPRINT_FILE } from '../constants.js';

// A cached venv is shared by every later rerun, so the pull request's code must not be able to change it for the
// next one. Its files are made read-only once built (which stops a non-root user), and it is fingerprinted around
// every rerun (which catches root too): a changed venv is discarded and never saved. The fingerprint taken when it
// was built is checked again on every reuse, so a venv changed by anything in between is rebuilt, not trusted.

async function filesOf(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => !entry.isDirectory())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)))
    // The completion marker is touched on every reuse (it dates the venv's last use for the LRU bound).
    .filter((file) => file !== VENV_COMPLETE_MARKER && file !== VENV_FINGERPRINT_FILE);
}

export async function makeFilesReadOnly(dir: string): Promise<void> {
  for (const file of await filesOf(dir)) {
    const stats = await lstat(path.join(dir, file));
    if (stats.isFile()) await chmod(path.join(dir, file), stats.mode & ~0o222);
  }
}

export type VenvFingerprint = Map<string, string>;

/**
 * A file's type, mode, size, times and inode. The inode change time (ns) is in it because no user can set it:
 * a same-size rewrite with its mtime and mode put back still changes it.
 */
export function filePrint(stats: BigIntStats): string {
  return `${stats.mode}:${stats.size}:${stats.mtimeNs}:${stats.ctimeNs}:${stats.ino}`;
}

/** Every file's print (see filePrint). */
export async function fingerprintVenv(dir: string): Promise<VenvFingerprint> {
  const fingerprint: VenvFingerprint = new Map();
  await Promise.all(
    (await filesOf(dir)).map(async (file) => {
      const stats = await lstat(path.join(dir, file), { bigint: true });
      fingerprint.set(file, filePrint(stats));
    }),
  );
  return fingerprint;
}

/** Stores the fingerprint beside the venv, once it is complete. */
export async function sealVenv(dir: string): Promise<void> {
  await writeFile(path.join(dir, VENV_FINGERPRINT_FILE), JSON.stringify([...(await fingerprintVenv(dir))]));
}

/** The files that changed since the venv was sealed; a venv with no seal counts as changed. */
export async function changesSinceSealed(dir: string): Promise<string[]> {
  const sealed = await readFile(path.join(dir, VENV_FINGERPRINT_FILE), 'utf8').then(
    (text) => new Map(JSON.parse(text) as Array<[string, string]>),
    () => undefined,
  );
  if (!sealed) return [VENV_FINGERPRINT_FILE];
  return changedVenvFiles(sealed, await fingerprintVenv(dir));
}

/** Pure: the venv files that differ between two fingerprints. */
export function changedVenvFiles(before: VenvFingerprint, after: VenvFingerprint): string[] {
  return [...new Set([...before.keys(), ...after.keys()])].filter((file) => before.get(file) !== after.get(file)).sort();
}
