import { constants, cp, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { flattenMetrics, parseMetricsJson } from '../compare/metrics-file.js';
import { UserError } from '../errors.js';
import { sha256PathIfExists } from '../hashing/sha256.js';
import type { ResolvedPath } from '../record/paths.js';

export interface CollectedOutputs {
  /** Artifact hashes by repo-relative path; null when the command did not produce it. */
  artifactHashes: Map<string, string | null>;
  /** Flattened metrics, or null when the metrics file was not produced. */
  metrics: Record<string, number> | null;
}

async function readMetrics(file: string, displayPath: string): Promise<Record<string, number> | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return null;
  }
  try {
    return flattenMetrics(parseMetricsJson(text)).values;
  } catch (error) {
    throw new UserError(
      `metrics file ${displayPath} written by the rerun is not a JSON object: ${(error as Error).message}`,
      'The command must write its metrics as a JSON object, e.g. {"accuracy": 0.93}.',
      { field: 'metrics.path' },
    );
  }
}

/** Hashes what the rerun produced inside the sandbox (in parallel) and reads its metrics. */
export async function collectOutputs(
  sandboxRoot: string,
  artifacts: ResolvedPath[],
  metricsPath: ResolvedPath | undefined,
): Promise<CollectedOutputs> {
  const inSandbox = (resolved: ResolvedPath) => path.join(sandboxRoot, resolved.repoRelative);
  const [hashes, metrics] = await Promise.all([
    Promise.all(artifacts.map(async (artifact) => [artifact.repoRelative, await sha256PathIfExists(inSandbox(artifact))] as const)),
    metricsPath ? readMetrics(inSandbox(metricsPath), metricsPath.repoRelative) : Promise.resolve(null),
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
