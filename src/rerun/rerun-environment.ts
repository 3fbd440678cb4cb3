import path from 'node:path';
import { isSecretVariable } from '../child-env.js';
import { SEED_ENV_PREFIX } from '../constants.js';

// The rerun's environment is an allowlist: what a training legitimately needs from the host, and nothing else
// (no tokens, no cloud credentials, no CI variables). A training that needs more says so in the record
// (`environment.variables`, or `environment.pass_env` for values that must not be written down, like HF_TOKEN).

const HOST_VARIABLES = new Set(['PATH', 'LANG', 'TZ', 'CUDA_VISIBLE_DEVICES', 'LD_LIBRARY_PATH']);
const isHostVariable = (name: string) => HOST_VARIABLES.has(name) || name.startsWith('LC_');

export interface RerunEnvironmentOptions {
  base: NodeJS.ProcessEnv;
  binDir: string | null;
  venvDir: string | null;
  /** Put last on PATH: tools repro-gate installed for the environment (a uv the command may call). */
  toolBinDir?: string;
  variables: Record<string, string>;
  seeds: Record<string, string | number>;
  /** Names the record passes through from the host (`environment.pass_env`). */
  passEnv: string[];
  /** The sandbox's copy of the repository, its private home and temp folders, and the command's folder. */
  sandbox: { root: string; home: string; tmp: string };
  cwd: string;
}

/** Pure: the rerun's environment. */
export function rerunEnvironment(options: RerunEnvironmentOptions): NodeJS.ProcessEnv {
  const { base, binDir, venvDir, sandbox } = options;
  const passed = new Set(options.passEnv);
  // The job's own tokens are never passed, whatever the record (a pull request can edit its record) asks for.
  const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(base).filter(([name]) => (isHostVariable(name) || passed.has(name)) && !isSecretVariable(name)));
  if (binDir && venvDir) {
    env.VIRTUAL_ENV = venvDir;
    env.PATH = [binDir, base.PATH, options.toolBinDir].filter(Boolean).join(path.delimiter);
  }
  Object.assign(env, {
    HOME: sandbox.home,
    TMPDIR: sandbox.tmp,
    // A script that finds the repository through the workflow's variable, or the shell's idea of the current folder, finds the copy.
    GITHUB_WORKSPACE: sandbox.root,
    PWD: options.cwd,
    PYTHONNOUSERSITE: '1',
    // The cached venv must come out of the rerun as it went in: no bytecode written into it.
    PYTHONDONTWRITEBYTECODE: '1',
  });
  Object.assign(env, options.variables);
  for (const [name, value] of Object.entries(options.seeds)) env[`${SEED_ENV_PREFIX}${name.toUpperCase()}`] = String(value);
  return env;
}
