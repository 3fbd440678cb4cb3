import { withoutSecrets } from '../child-env.js';
import { PIP_CACHE_DIR_ENV } from '../constants.js';
import { UserError } from '../errors.js';
import { capture } from './exec.js';
import { parseFreeze } from './package-diff.js';
import { pipCacheDirectory } from './venv-cache.js';

const PIP_TAIL_LINES = 20;

export async function pipFreeze(python: string): Promise<Record<string, string>> {
  const result = await capture(python, ['-I', '-m', 'pip', 'freeze', '--disable-pip-version-check']);
  if (result.code !== 0) {
    throw new UserError(`pip freeze failed for ${python}: ${result.stderr.trim().split('\n').at(-1) ?? ''}`, 'Make sure pip is installed for that interpreter (python -m ensurepip).');
  }
  return parseFreeze(result.stdout);
}

/**
 * pip's download cache lives in the repro-gate cache folder, so every venv build shares the wheels already fetched
 * and one prune clears them; a PIP_CACHE_DIR the user set wins (a shared CI cache, the test suite's).
 */
export function pipEnvironment(cacheRoot: string, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env = withoutSecrets(base);
  return env[PIP_CACHE_DIR_ENV] ? env : { ...env, [PIP_CACHE_DIR_ENV]: pipCacheDirectory(cacheRoot) };
}

/** Installs the requirements through the venv's own interpreter (its bin/pip shebang is not relocatable). */
export async function pipInstall(python: string, requirementsFile: string, displayPath: string, cacheRoot: string): Promise<void> {
  const result = await capture(
    python,
    ['-I', '-m', 'pip', 'install', '--no-input', '--disable-pip-version-check', '-r', requirementsFile],
    pipEnvironment(cacheRoot),
  );
  if (result.code === 0) return;
  const tail = `${result.stdout}\n${result.stderr}`.trim().split('\n').slice(-PIP_TAIL_LINES).join('\n');
  throw new UserError(
    `the environment failed to build: pip install -r ${displayPath} exited ${result.code}\n${tail}`,
    'Check that every pin exists for this Python version and platform, and that the package index is reachable.',
    { field: 'environment.requirements' },
  );
}
