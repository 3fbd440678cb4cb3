import { UserError } from '../errors.js';
import { capture } from './exec.js';

export interface Interpreter {
  /** Exact version, e.g. 3.11.7. */
  version: string;
  /** sysconfig.get_platform(), e.g. linux-x86_64. */
  platform: string;
  executable: string;
}

const PROBE = 'import json, platform, sys, sysconfig; print(json.dumps({"version": platform.python_version(), "platform": sysconfig.get_platform(), "executable": sys.executable}))';

export async function probeInterpreter(python: string): Promise<Interpreter> {
  const result = await capture(python, ['-I', '-c', PROBE]);
  if (result.spawnError || result.code !== 0) {
    throw new UserError(
      `Python interpreter "${python}" ${result.spawnError?.code === 'ENOENT' ? 'was not found' : `did not run (${result.stderr.trim().split('\n').at(-1) ?? result.spawnError?.message})`}`,
      'Install Python, use actions/setup-python in the workflow, or pass --python /path/to/python (action input `python`).',
    );
  }
  return JSON.parse(result.stdout) as Interpreter;
}

/** `3.11` must match major.minor; `3.11.7` must match exactly. */
export function pythonVersionMatches(required: string, version: string): boolean {
  return version.split('.').slice(0, required.split('.').length).join('.') === required;
}

export function assertPythonMatches(required: string | undefined, interpreter: Interpreter, python: string, line?: number): void {
  if (!required || pythonVersionMatches(required, interpreter.version)) return;
  throw new UserError(
    `environment.python requires ${required} but ${python} is ${interpreter.version}`,
    `Use actions/setup-python with python-version: "${required}", or pass --python /path/to/python${required} (action input \`python\`).`,
    { field: 'environment.python', line },
  );
}
