import path from 'node:path';
import { PYPROJECT_NAME, UV_CACHE_DIR_ENV, UV_INSTALL_LOG_NAME, UV_LOCKFILE_NAME, UV_PINNED_VERSION } from '../../constants.js';
import { withoutSecrets } from '../../child-env.js';
import { UserError } from '../../errors.js';
import { type Captured, capture } from '../exec.js';
import { parseFreeze } from '../package-diff.js';
import { outputTail } from '../pip-failure.js';
import { keepInstallLog } from '../pip.js';
import { uvCacheDirectory } from '../venv-cache.js';
import type { Uv } from './locate-uv.js';

/**
 * The host's uv variables that only say where packages come from and how to reach them, as PIP_INDEX_URL does for
 * pip. Every other UV_* variable is dropped: UV_PROJECT, UV_WORKING_DIR or UV_CONFIG_FILE could point uv at another
 * folder (the checkout itself), and UV_NO_BINARY or UV_COMPILE_BYTECODE would change a venv without changing its key.
 */
const HOST_UV_VARIABLES = new Set(['UV_CACHE_DIR', 'UV_INDEX_URL', 'UV_EXTRA_INDEX_URL', 'UV_DEFAULT_INDEX', 'UV_INDEX', 'UV_NATIVE_TLS', 'UV_HTTP_TIMEOUT', 'UV_REQUEST_TIMEOUT', 'UV_INSECURE_HOST', 'UV_KEYRING_PROVIDER']);

/**
 * How every uv command runs: uv's download cache in repro-gate's cache folder (a UV_CACHE_DIR the user set wins),
 * the given interpreter only (uv never downloads a Python of its own), and files copied out of uv's cache rather
 * than hard-linked: a sealed venv's files must be its own, since their inode times are its fingerprint.
 */
export function uvEnvironment(cacheRoot: string, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(withoutSecrets(base)).filter(([name]) => !name.startsWith('UV_') || HOST_UV_VARIABLES.has(name)));
  return {
    ...env,
    [UV_CACHE_DIR_ENV]: env[UV_CACHE_DIR_ENV] || uvCacheDirectory(cacheRoot),
    UV_PYTHON_DOWNLOADS: 'never',
    UV_LINK_MODE: 'copy',
    UV_NO_PROGRESS: '1',
  };
}

export interface UvRun {
  uv: Uv;
  cacheRoot: string;
  /** Where a failure leaves uv's whole output (the record's evidence folder). */
  logDir?: string;
  /** A download cache of this command's own, instead of the shared one (a lock check that builds the checkout's code). */
  downloadCache?: string;
}

/**
 * `project`: uv reads the project's own settings ([tool.uv] in pyproject.toml, a uv.toml beside it: part of the venv's
 * key, see UvProjectManager), which decide how its lock was made. Otherwise `--no-config`: a requirements file is
 * installed as pip would install it, and no uv.toml in the checkout or a folder above it changes what is installed.
 */
async function runUv(run: UvRun, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; config?: 'project' } = {}): Promise<Captured> {
  const env = { ...uvEnvironment(run.cacheRoot), ...(run.downloadCache ? { [UV_CACHE_DIR_ENV]: run.downloadCache } : {}), ...options.env };
  return capture(run.uv.executable, options.config === 'project' ? args : [...args, '--no-config'], env, options.cwd);
}

/** uv's words for an option it does not know: a uv on PATH older than the options repro-gate passes. */
const UNKNOWN_OPTION = /unexpected argument '(--[a-z-]+)'/;

async function failure(run: UvRun, args: string[], result: Captured, what: string, field: string, hint: string): Promise<UserError> {
  const unknown = UNKNOWN_OPTION.exec(result.stderr)?.[1];
  if (unknown) {
    return new UserError(`the uv on PATH (${run.uv.executable}, ${run.uv.version}) is too old: it does not know ${unknown}`, `Upgrade uv (astral-sh/setup-uv with a recent version), or take it off PATH: repro-gate then installs uv ${UV_PINNED_VERSION} itself.`, { field });
  }
  const log = await keepInstallLog(run.logDir, UV_INSTALL_LOG_NAME, `uv ${args.join(' ')}`, result);
  return new UserError(`the environment failed to build: ${what} exited ${result.code ?? result.spawnError?.code}\n${outputTail(`${result.stdout}\n${result.stderr}`)}`, [hint, log ? `uv's full output: ${log}` : ''].filter(Boolean).join(' '), { field });
}

/** `uv venv`: a bare venv (no pip in it) for the given interpreter. */
export async function uvCreateVenv(run: UvRun, python: string, dir: string): Promise<void> {
  const args = ['venv', '--no-project', '--python', python, dir];
  const result = await runUv(run, args);
  if (result.code !== 0) throw await failure(run, args, result, 'uv venv', 'environment.python', 'Check that the interpreter runs and that uv supports it.');
}

/** `uv pip install -r` into the venv, from `cwd` (the sandbox's copy), so relative paths in the requirements resolve there. */
export async function uvPipInstall(run: UvRun, venvPython: string, requirementsFile: string, displayPath: string, cwd?: string): Promise<void> {
  const args = ['pip', 'install', '--python', venvPython, '-r', requirementsFile];
  const result = await runUv(run, args, { cwd });
  if (result.code !== 0) {
    throw await failure(run, args, result, `uv pip install -r ${displayPath}`, 'environment.requirements', 'Check that every pin exists for this Python version and platform, and that the package index is reachable.');
  }
}

export interface UvProject {
  /** The sandbox's copy of the project: the folder holding pyproject.toml and uv.lock. */
  projectDir: string;
  python: string;
  /** The lockfile as the record names it, and the line of `environment.lockfile` in the record. */
  displayPath: string;
  line?: number;
}

/** uv's words when the lock is out of date with pyproject.toml. */
const STALE_LOCK = /needs to be updated, but `--(?:check|locked)` was provided/;

/**
 * `uv lock --check`: whether the lock still matches pyproject.toml. Run on its own, before the venv is built and
 * without its path: with static metadata it runs none of the project's code (see UvProjectManager for dynamic).
 */
export async function uvLockCheck(run: UvRun, project: UvProject): Promise<void> {
  const args = ['lock', '--check', '--python', project.python];
  const result = await runUv(run, args, { cwd: project.projectDir, config: 'project' });
  if (result.code === 0) return;
  if (STALE_LOCK.test(result.stderr)) {
    const folder = path.posix.dirname(project.displayPath);
    throw new UserError(
      `${project.displayPath} no longer matches ${path.posix.join(folder, PYPROJECT_NAME)}: the lock is out of date`,
      `Run \`uv lock\`${folder === '.' ? '' : ` in ${folder}`}, commit the new ${UV_LOCKFILE_NAME}, then \`repro-gate record --update\` the record.`,
      { field: 'environment.lockfile', line: project.line },
    );
  }
  throw await failure(run, args, result, `uv lock --check (${project.displayPath})`, 'environment.lockfile', 'Check that the lock and pyproject.toml are valid (`uv lock --check` in the project), and that the package index is reachable.');
}

/**
 * `uv sync --frozen` of the locked dependencies alone into `venvDir`, as the lock has them (checked first by
 * uvLockCheck): the project and any other local package are never installed (a cached copy of them would keep old
 * code), and the dev group only when the record names it.
 */
export async function uvSync(run: UvRun, project: UvProject & { venvDir: string; groups: readonly string[]; extras: readonly string[] }): Promise<void> {
  const args = [
    'sync',
    '--frozen',
    '--no-install-local',
    '--no-default-groups',
    ...project.groups.map((group) => `--group=${group}`),
    ...project.extras.map((extra) => `--extra=${extra}`),
    '--python',
    project.python,
  ];
  // UV_PROJECT_ENVIRONMENT puts the venv in the cache: nothing (no .venv) is written into the project's folder.
  const result = await runUv(run, args, { cwd: project.projectDir, env: { UV_PROJECT_ENVIRONMENT: project.venvDir }, config: 'project' });
  if (result.code === 0) return;
  throw await failure(run, args, result, `uv sync --frozen (${project.displayPath})`, 'environment.lockfile', 'Check that every locked package exists for this Python version and platform, and that the package index is reachable.');
}

/** The venv's packages, as `pip freeze` would list them (a uv venv has no pip). */
export async function uvFreeze(run: UvRun, venvPython: string): Promise<Record<string, string>> {
  const result = await runUv(run, ['pip', 'freeze', '--python', venvPython]);
  if (result.code !== 0) throw new UserError(`uv pip freeze failed for ${venvPython}: ${result.stderr.trim().split('\n').at(-1) ?? ''}`, 'Check that the venv is intact; `repro-gate cache prune` removes it.');
  return parseFreeze(result.stdout);
}
