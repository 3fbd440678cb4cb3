import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { PYPROJECT_NAME } from '../../constants.js';
import { sha256File } from '../../hashing/sha256.js';
import type { Interpreter } from '../interpreter.js';
import type { EnvironmentRequest, PreparedEnvironment, UvProjectRequest } from '../types.js';
import { lockBuildsLocalCode } from '../uv/local-build.js';
import { type UvProject, uvLockCheck, uvSync } from '../uv/uv-commands.js';
import { venvCacheKey } from '../venv-cache.js';
import type { VenvPlan } from './cached-venv.js';
import { UvVenvManager } from './uv-venv.js';

const isFolder = (folder: string) => stat(folder).then((info) => info.isDirectory(), () => false);
const exists = (file: string) => stat(file).then(() => true, () => false);

/**
 * Where a packaged project's own code is imported from, as uv's editable install would put it on the path: `src/`
 * when the package is there (a src layout), else the project's folder. A project without a build system is not
 * installed by uv at all, so nothing is added.
 */
async function projectImportRoot(projectDir: string, pyproject: string): Promise<string | undefined> {
  if (!/^\s*\[build-system\]/m.test(pyproject)) return undefined;
  const name = /^\s*name\s*=\s*["']([^"']+)["']/m.exec(pyproject)?.[1];
  const module = name?.toLowerCase().replace(/[-.]+/g, '_');
  const src = path.join(projectDir, 'src');
  if (module && (await isFolder(path.join(projectDir, module)))) return projectDir;
  if (module && ((await isFolder(path.join(src, module))) || (await exists(path.join(src, `${module}.py`))))) return src;
  return (await isFolder(src)) ? src : projectDir;
}

/**
 * `environment.lockfile`: a uv project. The cached venv holds the locked dependencies only; the project's own code
 * is never installed into it, and the rerun imports it from the sandbox's copy, so a change to it is always run.
 */
export class UvProjectManager extends UvVenvManager {
  private importRoot?: string;

  constructor(protected override readonly request: EnvironmentRequest & { lockfile: UvProjectRequest; installDir: string }) {
    super(request);
  }

  private project(interpreter: Interpreter): UvProject {
    const { lockfile } = this.request;
    return { projectDir: path.dirname(lockfile.file), python: interpreter.executable, displayPath: lockfile.displayPath, line: lockfile.line };
  }

  protected async plan(interpreter: Interpreter): Promise<VenvPlan> {
    const { lockfile } = this.request;
    const projectDir = path.dirname(lockfile.file);
    const pyprojectFile = path.join(projectDir, PYPROJECT_NAME);
    const [uv, lockSha256, pyprojectSha256, pyproject, lock] = await Promise.all([
      this.locate(interpreter.executable),
      sha256File(lockfile.file),
      sha256File(pyprojectFile),
      readFile(pyprojectFile, 'utf8'),
      readFile(lockfile.file, 'utf8'),
    ]);
    this.importRoot = await projectImportRoot(projectDir, pyproject);
    const buildsLocalCode = lockBuildsLocalCode(pyproject, lock);
    if (buildsLocalCode) this.request.log(`${lockfile.displayPath}: ${buildsLocalCode}, so the venv is built for this run only, never cached`);
    const inputs = [`pyproject:${pyprojectSha256}`, `groups:${[...lockfile.groups].sort().join(',')}`, `extras:${[...lockfile.extras].sort().join(',')}`];
    return {
      key: venvCacheKey({ requirementsSha256: lockSha256, pythonVersion: interpreter.version, platform: interpreter.platform, installer: { name: 'uv-sync', version: uv.version, inputs } }),
      thisRunOnly: buildsLocalCode !== undefined,
      describe: { installer: 'uv-sync', uvVersion: uv.version },
    };
  }

  protected async install(dir: string, interpreter: Interpreter): Promise<void> {
    const { lockfile } = this.request;
    const project = this.project(interpreter);
    // A stale lock is an error, found before anything is installed (sync itself then installs the lock as it is).
    await uvLockCheck(this.uvRun(), project);
    this.request.log(`building a venv with Python ${interpreter.version} from ${lockfile.displayPath} with uv sync`);
    await uvSync(this.uvRun(), { ...project, venvDir: dir, groups: lockfile.groups, extras: lockfile.extras });
  }

  protected override rerunAdditions(dir: string): Pick<PreparedEnvironment, 'importPaths' | 'variables' | 'toolBinDir'> {
    return {
      ...super.rerunAdditions(dir),
      importPaths: this.importRoot === undefined ? [] : [path.relative(this.request.installDir, this.importRoot) || '.'],
      // `uv run` in the command uses this venv as it is: it never syncs (installing into the cached venv), downloads,
      // or reads a uv.toml or .env file, which could change what runs without the record or the probe seeing it.
      variables: { UV_PROJECT_ENVIRONMENT: dir, UV_NO_SYNC: '1', UV_OFFLINE: '1', UV_PYTHON_DOWNLOADS: 'never', UV_NO_CONFIG: '1', UV_NO_ENV_FILE: '1' },
    };
  }
}
