import { constants } from 'node:fs';
import { cp, lstat, mkdir, open, readlink, realpath } from 'node:fs/promises';
import path from 'node:path';
import { metricsFromText } from '../compare/metrics-file.js';
import { assertMetricsSizeWithin } from '../compare/read-metrics-file.js';
import { UserError } from '../errors.js';
import { fileKind } from '../hashing/file-kind.js';
import { sha256Directory, sha256File } from '../hashing/sha256.js';
import { isInside, type ResolvedPath } from '../record/paths.js';

export interface CollectedOutputs {
  /** Artifact hashes by repo-relative path; null when the command did not produce it. */
  artifactHashes: Map<string, string | null>;
  /** Flattened metrics, or null when the metrics file was not produced. */
  metrics: Record<string, number> | null;
}

type OutputRole = 'artifact' | 'metrics file';

const OUTPUT_HINT = 'Outputs must be regular files (or folders of them) that the command writes inside the working tree: write or copy the file there, do not link to it.';

/**
 * What the rerun left at an output path, checked with lstat before anything is opened: a FIFO would block the read
 * forever, a device (or a link to one, such as /dev/zero) would never end, and a link hashes something else than
 * what the command wrote. Only a regular file or a folder inside the sandbox passes.
 */
async function inspectOutput(realSandboxRoot: string, absolute: string, shown: string, role: OutputRole): Promise<'missing' | 'file' | 'folder'> {
  const stats = await lstat(absolute).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return undefined;
    throw error;
  });
  if (!stats) return 'missing';
  const folder = await realpath(path.dirname(absolute));
  if (!isInside(realSandboxRoot, folder)) {
    throw new UserError(`${role} ${shown} was written through a symlinked folder that leads outside the working tree`, OUTPUT_HINT);
  }
  if (stats.isSymbolicLink()) {
    const target = await readlink(absolute).catch(() => '?');
    throw new UserError(`${role} ${shown} is a symlink (to ${target.slice(0, 200)}), not a regular file`, OUTPUT_HINT);
  }
  if (stats.isFile()) return 'file';
  if (stats.isDirectory() && role === 'artifact') return 'folder';
  throw new UserError(`${role} ${shown} is ${fileKind(stats)}, not a regular file`, OUTPUT_HINT);
}

async function hashArtifact(realSandboxRoot: string, absolute: string, shown: string): Promise<string | null> {
  const kind = await inspectOutput(realSandboxRoot, absolute, shown, 'artifact');
  if (kind === 'missing') return null;
  // Never through a link: one swapped in after the check makes the open fail instead.
  return kind === 'file' ? sha256File(absolute, { noFollow: true }) : sha256Directory(absolute, { regularOnly: true, displayPath: shown });
}

async function readMetrics(realSandboxRoot: string, file: string, displayPath: string): Promise<Record<string, number> | null> {
  if ((await inspectOutput(realSandboxRoot, file, displayPath, 'metrics file')) === 'missing') return null;
  const handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  let text: string;
  try {
    assertMetricsSizeWithin((await handle.stat()).size, displayPath, { field: 'metrics.path' });
    text = await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
  return metricsFromText(text, displayPath, 'written by the rerun', { field: 'metrics.path' });
}

/** Hashes what the rerun produced inside the sandbox (in parallel) and reads its metrics. */
export async function collectOutputs(
  sandboxRoot: string,
  artifacts: ResolvedPath[],
  metricsPath: ResolvedPath | undefined,
): Promise<CollectedOutputs> {
  const realSandboxRoot = await realpath(sandboxRoot);
  const inSandbox = (resolved: ResolvedPath) => path.join(sandboxRoot, resolved.repoRelative);
  const [hashes, metrics] = await Promise.all([
    Promise.all(artifacts.map(async (artifact) => [artifact.repoRelative, await hashArtifact(realSandboxRoot, inSandbox(artifact), artifact.repoRelative)] as const)),
    metricsPath ? readMetrics(realSandboxRoot, inSandbox(metricsPath), metricsPath.repoRelative) : Promise.resolve(null),
  ]);
  return { artifactHashes: new Map(hashes), metrics };
}

/**
 * Keeps produced files and folders as evidence, at their repo-relative paths under `evidenceDir`; copy-on-write where
 * the filesystem allows, so large models cost little. Returns `evidenceDir`.
 */
export async function keepEvidence(sandboxRoot: string, outputs: string[], evidenceDir: string): Promise<string> {
  await Promise.all(
    outputs.map(async (repoRelative) => {
      const target = path.join(evidenceDir, repoRelative);
      await mkdir(path.dirname(target), { recursive: true });
      // A missing output is already in the report; evidence is best effort.
      await cp(path.join(sandboxRoot, repoRelative), target, { recursive: true, mode: constants.COPYFILE_FICLONE, verbatimSymlinks: true }).catch(() => undefined);
    }),
  );
  return evidenceDir;
}
