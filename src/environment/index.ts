import { ContainerImageManager } from './managers/container-image.js';
import { CurrentEnvironmentManager } from './managers/current-environment.js';
import { PipVenvManager } from './managers/pip-venv.js';
import { UvPipManager } from './managers/uv-pip.js';
import { UvProjectManager } from './managers/uv-project.js';
import type { EnvironmentManager, EnvironmentRequest, PreparedEnvironment } from './types.js';

export { probeInterpreter } from './interpreter.js';
export { pipFreeze } from './pip.js';
export type { EnvironmentRequest, PreparedEnvironment } from './types.js';
export { defaultCacheRoot, type VenvCache, venvCacheKey } from './venv-cache.js';

/** Picks the manager for a record (an image first: its requirements are installed inside it), like setup-python's per-tool classes behind one factory. */
export function createEnvironmentManager(request: EnvironmentRequest): EnvironmentManager {
  const { requirementsFile, lockfile, installDir, image } = request;
  if (image) return new ContainerImageManager({ ...request, image });
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
