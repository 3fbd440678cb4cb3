import { createHash } from 'node:crypto';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import path from 'node:path';

/** Every entry under `dir` (including .git) → its type, mode and content hash: equal snapshots mean a byte-identical tree. */
export async function snapshotTree(dir: string): Promise<Map<string, string>> {
  const snapshot = new Map<string, string>();
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  await Promise.all(
    entries.map(async (entry) => {
      const full = path.join(entry.parentPath, entry.name);
      const relative = path.relative(dir, full);
      const stats = await lstat(full);
      const mode = (stats.mode & 0o7777).toString(8);
      if (entry.isSymbolicLink()) snapshot.set(relative, `link ${await readlink(full)}`);
      else if (entry.isDirectory()) snapshot.set(relative, `dir ${mode}`);
      else snapshot.set(relative, `file ${mode} ${createHash('sha256').update(await readFile(full)).digest('hex')}`);
    }),
  );
  return new Map([...snapshot].sort(([a], [b]) => (a < b ? -1 : 1)));
}
