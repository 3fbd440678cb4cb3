import { constants } from 'node:fs';
import { cp, lstat, mkdir, open, readlink, realpath } from 'node:fs/promises';
import path from 'node:path';
import { metricsFromText } from '../compare/metrics-file.js';
import { assertMetricsSizeWithin } from '../compare/read-metrics-file.js';
import { UserError } from '../errors.js';
import { folderExistence } from '../folder-existence.js';
import { fileKind } from '../hashing/file-kind.js';
import { sha256Directory, sha256File, sha256PathIfExists } from '../hashing/sha256.js';
import { hashPool } from '../hashing/pool/hash-pool.js';
import { mapConcurrently } from '../map-concurrently.js';
import { isInside, type ResolvedPath } from '../record/paths.js';

export interface CollectedOutputs {
  /** Artifact hashes by repo-relative path; null when the command did not produce it. */
  artifactHashes: Map<string, string | null>;
  /** The artifacts the rerun produced as folders (repo-relative). */
  folders: Set<string>;
  /** Flattened metrics, or null when the metrics file was not produced. */
  metrics: Record<string, number> | null;
}

type OutputRole = 'artifact' | 'metrics file';

const OUTPUT_HINT = 'Outputs must be regular files (or folders of them) that the command writes inside the working tree: write or copy the file there, do not link to it.';

/** Whether the output's folder, links resolved, is inside the sandbox. Outputs share folders: each is checked once. */
function folderInside(realSandboxRoot: string, absolute: string, folders: Map<string, Promise<boolean>>): Promise<boolean> {
  const parent = path.dirname(absolute);
  let inside = folders.get(parent);
  if (!inside) {
    inside = realpath(parent).then((real) => isInside(realSandboxRoot, real));
    folders.set(parent, inside);
  }
  return inside;
}

function outsideFolderError(role: OutputRole, shown: string): UserError {
  return new UserError(`${role} ${shown} was written through a symlinked folder that leads outside the working tree`, OUTPUT_HINT);
}

/**
 * What the rerun left at an output path, checked with lstat before anything is opened: a FIFO would block the read
 * forever, a device (or a link to one, such as /dev/zero) would never end, and a link hashes something else than
 * what the command wrote. Only a regular file or a folder inside the sandbox passes.
 */
async function inspectOutput(realSandboxRoot: string, absolute: string, shown: string, role: OutputRole, folders = new Map<string, Promise<boolean>>()): Promise<'missing' | 'file' | 'folder'> {
  const stats = await lstat(absolute).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return undefined;
    throw error;
  });
  if (!stats) return 'missing';
  if (!(await folderInside(realSandboxRoot, absolute, folders))) throw outsideFolderError(role, shown);
  if (stats.isSymbolicLink()) {
    const target = await readlink(absolute).catch(() => '?');
    throw new UserError(`${role} ${shown} is a symlink (to ${target.slice(0, 200)}), not a regular file`, OUTPUT_HINT);
  }
  if (stats.isFile()) return 'file';
  if (stats.isDirectory() && role === 'artifact') return 'folder';
  throw new UserError(`${role} ${shown} is ${fileKind(stats)}, not a regular file`, OUTPUT_HINT);
}

type HashedArtifact = { sha256: string | null; folder?: true };

const NOT_PRODUCED: HashedArtifact = { sha256: null };

/**
 * The common case first, on a thread: in a folder that is inside the sandbox, a regular file opened without following
 * a link at its path (the open and its fstat are the check). Anything else, a missing folder included, takes the full
 * inspection, which names the problem. Chained, not awaited: 10,000 artifacts make as few promises as possible.
 */
function hashArtifact(realSandboxRoot: string, absolute: string, shown: string, folders: Map<string, Promise<boolean>>): Promise<HashedArtifact> {
  const inspect = () => inspectAndHash(realSandboxRoot, absolute, shown, folders);
  return folderInside(realSandboxRoot, absolute, folders).then((inside) => {
    if (!inside) throw outsideFolderError('artifact', shown);
    return hashPool()
      .run({ file: absolute })
      .then((outcome) => ('sha256' in outcome ? { sha256: outcome.sha256 } : 'error' in outcome && outcome.error.code === 'ENOENT' ? NOT_PRODUCED : inspect()));
  }, inspect);
}

async function inspectAndHash(realSandboxRoot: string, absolute: string, shown: string, folders: Map<string, Promise<boolean>>): Promise<HashedArtifact> {
  const kind = await inspectOutput(realSandboxRoot, absolute, shown, 'artifact', folders);
  if (kind === 'missing') return NOT_PRODUCED;
  // Never through a link: one swapped in after the check makes the open fail instead.
  if (kind === 'file') return { sha256: await sha256File(absolute, { noFollow: true }) };
  return { sha256: await sha256Directory(absolute, { regularOnly: true, displayPath: shown }), folder: true };
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
  const folders = new Map<string, Promise<boolean>>();
  const [hashes, metrics] = await Promise.all([
    mapConcurrently(artifacts, async (artifact) => [artifact.repoRelative, await hashArtifact(realSandboxRoot, inSandbox(artifact), artifact.repoRelative, folders)] as const, hashPool().tasksToKeepBusy),
    metricsPath ? readMetrics(realSandboxRoot, inSandbox(metricsPath), metricsPath.repoRelative) : Promise.resolve(null),
  ]);
  return {
    artifactHashes: new Map(hashes.map(([repoRelative, hashed]) => [repoRelative, hashed.sha256])),
    folders: new Set(hashes.filter(([, hashed]) => hashed.folder).map(([repoRelative]) => repoRelative)),
    metrics,
  };
}

/**
 * The checkout's copy of each artifact, hashed (null where there is none). Artifacts are usually ignored outputs:
 * a folder missing from the checkout is looked up once, not once per artifact in it.
 */
export async function hashCheckoutCopies(artifacts: ResolvedPath[]): Promise<Map<string, string | null>> {
  const folderExists = folderExistence();
  const hashes = await mapConcurrently(artifacts, async (artifact) => [artifact.repoRelative, (await folderExists(path.dirname(artifact.absolute))) ? await sha256PathIfExists(artifact.absolute) : null] as const);
  return new Map(hashes);
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
