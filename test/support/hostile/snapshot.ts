import { createHash } from 'node:crypto';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import path from 'node:path';
import { snapshotTree } from '../tree-snapshot.js';

// The byte-for-byte picture of a working tree (.git included), as `snapshotTree` takes it. `snapshotTree` reads
// every entry that is not a folder or a link as a file, which would block forever on a FIFO the corpus puts in a
// repository; such trees get the same picture with special files described by their type and mode instead.

async function specialEntries(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => !entry.isFile() && !entry.isDirectory() && !entry.isSymbolicLink())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)));
}

export async function snapshotRepository(dir: string): Promise<Map<string, string>> {
  const special = await specialEntries(dir);
  if (special.length === 0) return snapshotTree(dir);
  const snapshot = new Map<string, string>();
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  for (const entry of entries) {
    const full = path.join(entry.parentPath, entry.name);
    const relative = path.relative(dir, full);
    const stats = await lstat(full);
    const mode = (stats.mode & 0o7777).toString(8);
    if (entry.isSymbolicLink()) snapshot.set(relative, `link ${await readlink(full)}`);
    else if (entry.isDirectory()) snapshot.set(relative, `dir ${mode}`);
    else if (entry.isFile()) snapshot.set(relative, `file ${mode} ${createHash('sha256').update(await readFile(full)).digest('hex')}`);
    else snapshot.set(relative, `special ${(stats.mode & 0o170000).toString(8)} ${mode}`);
  }
  return new Map([...snapshot].sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** Paths whose entry differs between two snapshots (added, removed or changed), sorted. */
export function changedEntries(before: Map<string, string>, after: Map<string, string>): string[] {
  const paths = new Set([...before.keys(), ...after.keys()]);
  return [...paths].filter((entry) => before.get(entry) !== after.get(entry)).sort();
}
