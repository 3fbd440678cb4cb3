import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { PYPROJECT_NAME, UV_CONFIG_NAME } from '../../constants.js';
import { UserError } from '../../errors.js';
import { isInside } from '../../record/paths.js';
import { discardChangedFolders, fingerprintFolder } from '../cache/index.js';
import type { Interpreter } from '../interpreter.js';
import type { EnvironmentRequest, PreparedEnvironment, UvProjectRequest } from '../types.js';
import { lockBuildsLocalCode } from '../uv/local-build.js';
import { type UvProject, uvLockCheck, uvSync } from '../uv/uv-commands.js';
import { venvCacheKey } from '../venv-cache.js';
import { protectedCache, type VenvPlan } from './cached-venv.js';
import { UvVenvManager } from './uv-venv.js';

/** Where uv finds the user's and the system's uv.toml (XDG locations, as uv reads them on Linux and macOS). */
function userAndSystemSettings(env: NodeJS.ProcessEnv = process.env): string[] {
  const user = path.join(env.XDG_CONFIG_HOME || path.join(homedir(), '.config'), 'uv', UV_CONFIG_NAME);
  const system = (env.XDG_CONFIG_DIRS || '/etc/xdg').split(path.delimiter).filter(Boolean).map((folder) => path.join(folder, 'uv', UV_CONFIG_NAME));
  return [user, ...system, path.join('/etc', 'uv', UV_CONFIG_NAME)];
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
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
  /** Why checking the lock runs the checkout's code, if it does. */
  private buildsLocalCode?: string;

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
    const [uv, lockBytes, pyprojectBytes] = await Promise.all([this.locate(interpreter.executable), readFile(lockfile.file), readFile(pyprojectFile)]);
    const [lockSha256, pyprojectSha256, pyproject, lock] = [sha256(lockBytes), sha256(pyprojectBytes), pyprojectBytes.toString('utf8'), lockBytes.toString('utf8')];
    this.importRoot = await projectImportRoot(projectDir, pyproject);
    const buildsLocalCode = lockBuildsLocalCode(pyproject, lock);
    this.buildsLocalCode = buildsLocalCode;
    if (buildsLocalCode) this.request.log(`${lockfile.displayPath}: ${buildsLocalCode}, so the venv is built for this run only, never cached`);
    const inputs = [
      `pyproject:${pyprojectSha256}`,
      `groups:${[...lockfile.groups].sort().join(',')}`,
      `extras:${[...lockfile.extras].sort().join(',')}`,
      ...(await this.projectSettings(projectDir)),
    ];
    return {
      key: venvCacheKey({ requirementsSha256: lockSha256, pythonVersion: interpreter.version, platform: interpreter.platform, installer: { name: 'uv-sync', version: uv.version, inputs } }),
      thisRunOnly: buildsLocalCode !== undefined,
      describe: { installer: 'uv-sync', uvVersion: uv.version },
    };
  }

  /**
   * uv reads its settings from the nearest uv.toml, or pyproject.toml with a [tool.uv] table, from the project's folder
   * up, and merges the user's and the system's uv.toml. Those inside the repository are the project's; all of them go
   * into the venv's key. The search, and uv's search for a workspace the project could belong to, is stopped above the
   * sandbox's copy by an empty uv.toml and pyproject.toml in the sandbox's own folder: none outside it (a /tmp/uv.toml)
   * applies. A project inside a workspace of the repository is refused: uv would sync the workspace's lock, not the record's.
   */
  private async projectSettings(projectDir: string): Promise<string[]> {
    const { installDir } = this.request;
    await Promise.all([UV_CONFIG_NAME, PYPROJECT_NAME].map((name) => writeFile(path.join(path.dirname(installDir), name), '')));
    const settings: string[] = [];
    const keyed = async (file: string, label: string) => {
      const bytes = await readFile(file).catch(() => undefined);
      if (bytes !== undefined) settings.push(`${label}:${sha256(bytes)}`);
      return bytes?.toString('utf8');
    };
    for (let folder = projectDir; isInside(installDir, folder); folder = path.dirname(folder)) {
      const relative = (name: string) => path.relative(installDir, path.join(folder, name)) || name;
      await keyed(path.join(folder, UV_CONFIG_NAME), relative(UV_CONFIG_NAME));
      if (folder !== projectDir) {
        const pyproject = await keyed(path.join(folder, PYPROJECT_NAME), relative(PYPROJECT_NAME));
        if (pyproject && /^\s*\[tool\.uv\.workspace\]/m.test(pyproject)) {
          throw new UserError(
            `${this.request.lockfile.displayPath} lies inside the uv workspace of ${relative(PYPROJECT_NAME)}: uv syncs the workspace's lock, not this one`,
            'Point environment.lockfile at the uv.lock beside the workspace\'s pyproject.toml (record --lockfile).',
            { field: 'environment.lockfile', line: this.request.lockfile.line },
          );
        }
      }
      if (folder === installDir) break;
    }
    for (const file of userAndSystemSettings()) await keyed(file, file);
    return settings;
  }

  protected async install(dir: string, interpreter: Interpreter): Promise<void> {
    const { lockfile } = this.request;
    const project = this.project(interpreter);
    // A stale lock is an error, found before anything is installed (sync itself then installs the lock as it is).
    if (this.buildsLocalCode) await this.checkLockApart(project);
    else await uvLockCheck(this.uvRun(), project);
    this.request.log(`building a venv with Python ${interpreter.version} from ${lockfile.displayPath} with uv sync`);
    await uvSync(this.uvRun(), { ...project, venvDir: dir, groups: lockfile.groups, extras: lockfile.extras });
  }

  /**
   * A lock check that builds the checkout's code (dynamic metadata, local packages) runs with a download cache of its
   * own, and the cache folders later builds trust are fingerprinted around it: what it changed there is removed.
   */
  private async checkLockApart(project: UvProject): Promise<void> {
    const scratch = await mkdtemp(path.join(tmpdir(), 'repro-gate-uv-lock-'));
    const cache = protectedCache(this.request.cacheRoot);
    const before = await Promise.all(cache.folders.map((folder) => fingerprintFolder(folder)));
    try {
      await uvLockCheck({ ...this.uvRun(), downloadCache: scratch }, project);
    } finally {
      const changed = await discardChangedFolders(cache, before);
      for (const folder of changed) this.request.log(`checking ${project.displayPath} changed ${folder}, which later venv builds read: it was removed`);
      await rm(scratch, { recursive: true, force: true });
    }
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
