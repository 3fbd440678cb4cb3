import { UserError } from '../errors.js';
import { capture } from './exec.js';
import { parseFreeze } from './package-diff.js';

const PIP_TAIL_LINES = 20;

export async function pipFreeze(python: string): Promise<Record<string, string>> {
  const result = await capture(python, ['-I', '-m', 'pip', 'freeze', '--disable-pip-version-check']);
  if (result.code !== 0) {
    throw new UserError(`pip freeze failed for ${python}: ${result.stderr.trim().split('\n').at(-1) ?? ''}`, 'Make sure pip is installed for that interpreter (python -m ensurepip).');
  }
  return parseFreeze(result.stdout);
}

/** Installs the requirements through the venv's own interpreter (its bin/pip shebang is not relocatable). */
export async function pipInstall(python: string, requirementsFile: string, displayPath: string): Promise<void> {
  const result = await capture(python, ['-I', '-m', 'pip', 'install', '--no-input', '--disable-pip-version-check', '-r', requirementsFile]);
  if (result.code === 0) return;
  const tail = `${result.stdout}\n${result.stderr}`.trim().split('\n').slice(-PIP_TAIL_LINES).join('\n');
  throw new UserError(
    `the environment failed to build: pip install -r ${displayPath} exited ${result.code}\n${tail}`,
    'Check that every pin exists for this Python version and platform, and that the package index is reachable.',
    { field: 'environment.requirements' },
  );
}
