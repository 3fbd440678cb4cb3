import { CurrentEnvironmentManager } from './managers/current-environment.js';
import { PipVenvManager } from './managers/pip-venv.js';
import type { EnvironmentManager, EnvironmentRequest, PreparedEnvironment } from './types.js';

export { probeInterpreter } from './interpreter.js';
export { pipFreeze } from './pip.js';
export type { EnvironmentRequest, PreparedEnvironment } from './types.js';
export { defaultCacheRoot, type VenvCache, venvCacheKey } from './venv-cache.js';

/** Picks the manager for a record, like setup-python's per-tool classes behind one factory. */
export function createEnvironmentManager(request: EnvironmentRequest): EnvironmentManager {
  const { requirementsFile } = request;
  return requirementsFile ? new PipVenvManager({ ...request, requirementsFile }) : new CurrentEnvironmentManager(request);
}

export function prepareEnvironment(request: EnvironmentRequest): Promise<PreparedEnvironment> {
  return createEnvironmentManager(request).prepare();
}
