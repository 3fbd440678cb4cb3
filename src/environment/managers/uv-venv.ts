import path from 'node:path';
import type { Freeze } from '../frozen-packages.js';
import { locateUv, type Uv } from '../uv/locate-uv.js';
import { isInside } from '../../record/paths.js';
import { uvFreeze, type UvRun } from '../uv/uv-commands.js';
import { toolsDirectory } from '../venv-cache.js';
import type { PreparedEnvironment } from '../types.js';
import { CachedVenvManager } from './cached-venv.js';

/** What the uv installers share: finding uv (its version keys the venv) and listing a venv that has no pip. */
export abstract class UvVenvManager extends CachedVenvManager {
  private located?: Uv;

  protected readonly freeze: Freeze = (dir) => uvFreeze(this.uvRun(), path.join(dir, 'bin', 'python'));

  /** Called first, by `plan`. */
  protected async locate(python: string): Promise<Uv> {
    this.located ??= await locateUv({ cacheRoot: this.request.cacheRoot, python, log: this.request.log });
    return this.located;
  }

  protected uvRun(): UvRun {
    if (!this.located) throw new Error('uv is used before it was located');
    return { uv: this.located, cacheRoot: this.request.cacheRoot, logDir: this.request.logDir };
  }

  protected override rerunAdditions(_dir: string): Pick<PreparedEnvironment, 'importPaths' | 'variables' | 'toolBinDir'> {
    const executable = this.located?.executable;
    const installed = executable !== undefined && path.isAbsolute(executable) && isInside(toolsDirectory(this.request.cacheRoot), executable);
    // A uv that repro-gate installed is not on PATH: the command may still call `uv run`.
    return installed ? { toolBinDir: path.dirname(executable) } : {};
  }
}
