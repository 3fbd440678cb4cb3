import { homedir } from 'node:os';
import path from 'node:path';
import { CACHE_DIR_ENV, TOOL_NAME, VENV_CACHE_PREFIX } from '../constants.js';

/** A second-level cache behind the local folder: the action plugs @actions/cache in here. Adapters warn, never throw. */
export interface VenvCache {
  restore(key: string, dir: string): Promise<boolean>;
  save(key: string, dir: string): Promise<void>;
}

export function defaultCacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env[CACHE_DIR_ENV]) return path.resolve(env[CACHE_DIR_ENV]);
  return path.join(env.XDG_CACHE_HOME || path.join(homedir(), '.cache'), TOOL_NAME);
}

/** Exactly what decides a venv's contents: the requirements bytes, the exact interpreter, the platform. */
export function venvCacheKey(parts: { requirementsSha256: string; pythonVersion: string; platform: string }): string {
  return `${VENV_CACHE_PREFIX}-${parts.platform}-py${parts.pythonVersion}-${parts.requirementsSha256}`;
}

// The cache folder's layout: venvs/<key> (one venv each), venvs/<key>.lock (held while it is built or evicted),
// pip/ (pip's download cache, shared by every build).

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
