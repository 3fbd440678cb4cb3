import { lstat, readdir, realpath } from 'node:fs/promises';
import path from 'node:path';
import { sha256File } from '../hashing/sha256.js';
import { isInside } from '../record/paths.js';

/**
 * Where an artifact may sit in a baseline folder, most specific first: an evidence artifact unpacked into the
 * folder (`<record>/outputs/<path>`), a plain folder of artifacts at their repository paths, and evidence
 * artifacts unpacked one per subfolder (what the action downloads, and what `gh run download` leaves).
 */
async function candidates(baselineDir: string, recordName: string, repoRelativePath: string): Promise<string[]> {
  const inEvidence = (root: string) => path.join(root, recordName, 'outputs', repoRelativePath);
  const subfolders = await readdir(baselineDir, { withFileTypes: true }).catch(() => []);
  const unpacked = subfolders
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort()
    .map((name) => inEvidence(path.join(baselineDir, name)));
  return [inEvidence(baselineDir), path.join(baselineDir, repoRelativePath), ...unpacked];
}

/** A regular file (not a link, not a folder) whose real folder is inside the baseline folder (no `..`, no linked folder out). */
async function isRegularFileInside(realRoot: string, file: string): Promise<boolean> {
  const stats = await lstat(file).catch(() => undefined);
  if (!stats?.isFile()) return false;
  const folder = await realpath(path.dirname(file)).catch(() => undefined);
  return folder !== undefined && isInside(realRoot, folder);
}

/** The file's sha256, or undefined when it cannot be read (it vanished, or was swapped for a link after the check). */
async function hashOf(file: string): Promise<string | undefined> {
  return sha256File(file, { noFollow: true }).catch(() => undefined);
}

/**
 * The file in `baselineDir` holding exactly the recorded artifact (`expectedSha256`), or null. The hash decides,
 * never the name: a stale or foreign file at the right path is not a baseline. A directory artifact has none.
 */
export async function resolveBaselineFile(baselineDir: string, recordName: string, repoRelativePath: string, expectedSha256: string): Promise<string | null> {
  const root = path.resolve(baselineDir);
  const realRoot = await realpath(root).catch(() => undefined);
  if (realRoot === undefined) return null;
  for (const candidate of await candidates(root, recordName, repoRelativePath)) {
    if (!(await isRegularFileInside(realRoot, candidate))) continue;
    if ((await hashOf(candidate)) === expectedSha256) return candidate;
  }
  return null;
}
