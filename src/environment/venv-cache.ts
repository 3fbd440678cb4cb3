import { createHash } from 'node:crypto';
import { homedir } from 'node:os';
import path from 'node:path';
import { CACHE_DIR_ENV, PIP_CACHE_DIR_ENV, TOOL_NAME, UV_CACHE_DIR_ENV, VENV_CACHE_PREFIX } from '../constants.js';

/** A second-level cache behind the local folder: the action plugs @actions/cache in here. Adapters warn, never throw. */
export interface VenvCache {
  restore(key: string, dir: string): Promise<boolean>;
  save(key: string, dir: string): Promise<void>;
}

export function defaultCacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env[CACHE_DIR_ENV]) return path.resolve(env[CACHE_DIR_ENV]);
  return path.join(env.XDG_CACHE_HOME || path.join(homedir(), '.cache'), TOOL_NAME);
}

/**
 * Exactly what decides a venv's contents: the exact interpreter, the platform, and what was installed how. A pip
 * build is keyed by the requirements bytes alone (the keys of earlier releases stay valid); any other build by the
 * installer and its version and by everything it was given (lockfile, pyproject, groups, extras), hashed together.
 */
export function venvCacheKey(parts: { requirementsSha256: string; pythonVersion: string; platform: string; installer?: { name: string; version: string; inputs: readonly string[] } }): string {
  const { installer } = parts;
  if (!installer) return `${VENV_CACHE_PREFIX}-${parts.platform}-py${parts.pythonVersion}-${parts.requirementsSha256}`;
  const inputs = createHash('sha256').update(JSON.stringify([parts.requirementsSha256, ...installer.inputs])).digest('hex');
  return `${VENV_CACHE_PREFIX}-${parts.platform}-py${parts.pythonVersion}-${installer.name}${installer.version}-${inputs}`;
}

// The cache folder's layout: venvs/<key> (one venv each), venvs/<key>.lock (held while it is built or evicted),
// pip/ and uv/ (the installers' download caches, shared by every build), tools/ (a uv installed by repro-gate).

export function venvsDirectory(cacheRoot: string): string {
  return path.join(cacheRoot, 'venvs');
}

export function venvDirectory(cacheRoot: string, key: string): string {
  return path.join(venvsDirectory(cacheRoot), key);
}

export const LOCK_SUFFIX = '.lock';

export function venvLockFile(venvDir: string): string {
  return `${venvDir}${LOCK_SUFFIX}`;
}

export function pipCacheDirectory(cacheRoot: string): string {
  return path.join(cacheRoot, 'pip');
}

export function uvCacheDirectory(cacheRoot: string): string {
  return path.join(cacheRoot, 'uv');
}

export function toolsDirectory(cacheRoot: string): string {
  return path.join(cacheRoot, 'tools');
}

/**
 * The cache folder's parts besides the venvs: the installers' download caches and repro-gate's uv, each with the
 * variable through which the user may put it elsewhere (outside the cache folder, then theirs, not repro-gate's).
 */
export function downloadFolders(cacheRoot: string): Array<{ label: string; dir: string; userVariable?: string }> {
  return [
    { label: "pip's download cache", dir: pipCacheDirectory(cacheRoot), userVariable: PIP_CACHE_DIR_ENV },
    { label: "uv's download cache", dir: uvCacheDirectory(cacheRoot), userVariable: UV_CACHE_DIR_ENV },
    { label: 'uv, installed by repro-gate', dir: toolsDirectory(cacheRoot) },
  ];
}
