import path from 'node:path';
import { UserError } from '../../errors.js';
import { sha256File } from '../../hashing/sha256.js';
import { freezeWithPip } from '../frozen-packages.js';
import type { Interpreter } from '../interpreter.js';
import { requirementsInstallLocalPaths } from '../local-requirements.js';
import { pipInstall } from '../pip.js';
import type { EnvironmentRequest } from '../types.js';
import { createVenv } from '../venv-bootstrap.js';
import { venvCacheKey } from '../venv-cache.js';
import { CachedVenvManager, type VenvPlan } from './cached-venv.js';

/** `python -m venv`, then `pip install -r requirements`. */
export class PipVenvManager extends CachedVenvManager {
  protected readonly freeze = freezeWithPip;

  constructor(protected override readonly request: EnvironmentRequest & { requirementsFile: string }) {
    super(request);
  }

  protected async plan(interpreter: Interpreter): Promise<VenvPlan> {
    return planForRequirements(this.request, interpreter);
  }

  protected async install(dir: string, interpreter: Interpreter): Promise<void> {
    const requirements = this.request.requirementsDisplayPath ?? this.request.requirementsFile;
    this.request.log(`building a venv with Python ${interpreter.version} from ${requirements}`);
    const created = await createVenv(interpreter.executable, dir);
    if (created.code !== 0) {
      throw new UserError(`the environment failed to build: python -m venv exited ${created.code}: ${created.stderr.trim()}`, 'Install the venv module for this interpreter (e.g. apt install python3-venv).');
    }
    await pipInstall(path.join(dir, 'bin', 'python'), this.request.requirementsFile, requirements, this.request.cacheRoot, this.request.logDir, this.request.installDir);
  }
}

/** A requirements file's venv, keyed by its bytes (and by uv's version when uv installs it); one that installs local code is never cached. */
export async function planForRequirements(request: EnvironmentRequest & { requirementsFile: string }, interpreter: Interpreter, uvVersion?: string): Promise<VenvPlan> {
  const [requirementsSha256, thisRunOnly] = await Promise.all([sha256File(request.requirementsFile), requirementsInstallLocalPaths(request.requirementsFile)]);
  if (thisRunOnly) request.log(`${request.requirementsDisplayPath ?? request.requirementsFile} installs the project itself: the venv is built for this run only, never cached`);
  const installer = uvVersion === undefined ? undefined : { name: 'uv-pip', version: uvVersion, inputs: [] };
  return {
    key: venvCacheKey({ requirementsSha256, pythonVersion: interpreter.version, platform: interpreter.platform, installer }),
    thisRunOnly,
    describe: uvVersion === undefined ? { installer: 'pip' } : { installer: 'uv-pip', uvVersion },
  };
}
