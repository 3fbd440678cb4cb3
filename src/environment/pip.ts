import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { withoutSecrets } from '../child-env.js';
import { PIP_CACHE_DIR_ENV, PIP_INSTALL_LOG_NAME } from '../constants.js';
import { UserError } from '../errors.js';
import { type Captured, capture } from './exec.js';
import { parseFreeze } from './package-diff.js';
import { failingRequirement, outputTail } from './pip-failure.js';
import { pipCacheDirectory } from './venv-cache.js';

export async function pipFreeze(python: string): Promise<Record<string, string>> {
  // -B: reading a sealed venv must not write bytecode into it (see src/environment/venv-integrity.ts).
  const result = await capture(python, ['-I', '-B', '-m', 'pip', 'freeze', '--disable-pip-version-check']);
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

/** An installer's whole output, kept as evidence: the message quotes only its end. Best effort: a log that cannot be written is left out. */
export async function keepInstallLog(logDir: string | undefined, name: string, command: string, result: Captured): Promise<string | undefined> {
  if (!logDir) return undefined;
  const file = path.join(logDir, name);
  const text = [`$ ${command}`, `exit status ${result.code}`, '--- stdout ---', result.stdout, '--- stderr ---', result.stderr].join('\n');
  try {
    await mkdir(logDir, { recursive: true });
    await writeFile(file, text);
    return file;
  } catch {
    return undefined;
  }
}

/**
 * Installs the requirements through the venv's own interpreter (its bin/pip shebang is not relocatable). A failure
 * names the requirement pip could not install and quotes the end of its output (where pip says why); the whole
 * output goes to `logDir`, so the message stays short however large the requirements file is.
 */
export async function pipInstall(python: string, requirementsFile: string, displayPath: string, cacheRoot: string, logDir?: string, cwd?: string): Promise<void> {
  const args = ['-I', '-m', 'pip', 'install', '--no-input', '--disable-pip-version-check', '-r', requirementsFile];
  // From the sandbox's copy: `-e .` or a local path is resolved there, so pip never writes build files into the checkout.
  const result = await capture(python, args, pipEnvironment(cacheRoot), cwd);
  if (result.code === 0) return;
  const output = `${result.stdout}\n${result.stderr}`;
  const requirement = failingRequirement(output);
  const log = await keepInstallLog(logDir, PIP_INSTALL_LOG_NAME, `python ${args.join(' ')}`, result);
  throw new UserError(
    `the environment failed to build: pip install -r ${displayPath} exited ${result.code}${requirement ? `: could not install ${requirement}` : ''}\n${outputTail(output)}`,
    [
      requirement
        ? `Check that ${requirement} exists for this Python version and platform (\`pip index versions ${requirement.split(/[=<>!~;[ ]/)[0]}\`), and that the package index is reachable.`
        : 'Check that every pin exists for this Python version and platform, and that the package index is reachable.',
      log ? `pip's full output: ${log}` : '',
    ]
      .filter(Boolean)
      .join(' '),
    { field: 'environment.requirements' },
  );
}
