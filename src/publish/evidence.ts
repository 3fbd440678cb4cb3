import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { DefaultArtifactClient } from '@actions/artifact';
import * as core from '@actions/core';

// The evidence artifact (reports, rerun logs, produced artifacts) is for humans digging into a verdict.
// Without the artifact service (local runs, GHES, no runtime token) it is skipped with a warning.

async function filesUnder(rootDirectory: string): Promise<string[]> {
  const entries = await readdir(rootDirectory, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => path.join(entry.parentPath, entry.name));
}

/** Returns whether the artifact was uploaded. */
export async function uploadEvidence(options: { name: string; rootDirectory: string }): Promise<boolean> {
  if (!process.env.ACTIONS_RUNTIME_TOKEN || !process.env.ACTIONS_RESULTS_URL) {
    core.warning('Evidence artifact skipped: the Actions artifact service is not available on this runner (no ACTIONS_RUNTIME_TOKEN or ACTIONS_RESULTS_URL).');
    return false;
  }
  try {
    const files = await filesUnder(options.rootDirectory);
    const { id, size } = await new DefaultArtifactClient().uploadArtifact(options.name, files, options.rootDirectory);
    core.info(`Evidence uploaded as artifact ${options.name} (id ${id}, ${size} bytes)`);
    return true;
  } catch (error) {
    core.warning(`Evidence artifact ${options.name} not uploaded: ${(error as Error).message}`);
    return false;
  }
}
