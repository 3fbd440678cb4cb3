import path from 'node:path';
import type { Interpreter } from '../interpreter.js';
import type { EnvironmentRequest } from '../types.js';
import { uvCreateVenv, uvPipInstall } from '../uv/uv-commands.js';
import type { VenvPlan } from './cached-venv.js';
import { planForRequirements } from './pip-venv.js';
import { UvVenvManager } from './uv-venv.js';

/** `environment.installer: uv`: `uv venv`, then `uv pip install -r requirements` (the same pins, installed faster). */
export class UvPipManager extends UvVenvManager {
  constructor(protected override readonly request: EnvironmentRequest & { requirementsFile: string }) {
    super(request);
  }

  protected async plan(interpreter: Interpreter): Promise<VenvPlan> {
    const uv = await this.locate(interpreter.executable);
    return planForRequirements(this.request, interpreter, uv.version);
  }

  protected async install(dir: string, interpreter: Interpreter): Promise<void> {
    const requirements = this.request.requirementsDisplayPath ?? this.request.requirementsFile;
    this.request.log(`building a venv with Python ${interpreter.version} from ${requirements} with uv`);
    await uvCreateVenv(this.uvRun(), interpreter.executable, dir);
    await uvPipInstall(this.uvRun(), path.join(dir, 'bin', 'python'), this.request.requirementsFile, requirements, this.request.installDir);
  }
}
