import { CurrentEnvironmentManager } from './managers/current-environment.js';
import { PipVenvManager } from './managers/pip-venv.js';
import { UvPipManager } from './managers/uv-pip.js';
import { UvProjectManager } from './managers/uv-project.js';
import type { EnvironmentManager, EnvironmentRequest, PreparedEnvironment } from './types.js';

export { probeInterpreter } from './interpreter.js';
export { pipFreeze } from './pip.js';
export type { EnvironmentRequest, PreparedEnvironment } from './types.js';
export { defaultCacheRoot, type VenvCache, venvCacheKey } from './venv-cache.js';

/** Picks the manager for a record, like setup-python's per-tool classes behind one factory. */
export function createEnvironmentManager(request: EnvironmentRequest): EnvironmentManager {
  const { requirementsFile, lockfile, installDir } = request;
  if (lockfile) {
    if (!installDir) throw new Error('a uv project is synced from the sandbox\'s copy: installDir is required');
    return new UvProjectManager({ ...request, lockfile, installDir });
  }
  if (requirementsFile) return request.installer === 'uv' ? new UvPipManager({ ...request, requirementsFile }) : new PipVenvManager({ ...request, requirementsFile });
  return new CurrentEnvironmentManager(request);
}

export function prepareEnvironment(request: EnvironmentRequest): Promise<PreparedEnvironment> {
  return createEnvironmentManager(request).prepare();
}
