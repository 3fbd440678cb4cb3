import path from 'node:path';
import { SEED_ENV_PREFIX } from '../constants.js';

// The rerun executes the pull request's code: it must not see the action's token or the runner's service tokens.
const SECRET_VARIABLES = [
  'GITHUB_TOKEN',
  'ACTIONS_RUNTIME_TOKEN',
  'ACTIONS_ID_TOKEN_REQUEST_TOKEN',
  'ACTIONS_ID_TOKEN_REQUEST_URL',
  'ACTIONS_RESULTS_URL',
  'ACTIONS_CACHE_URL',
  'ACTIONS_RUNTIME_URL',
];

export interface RerunEnvironmentOptions {
  base: NodeJS.ProcessEnv;
  binDir: string | null;
  venvDir: string | null;
  variables: Record<string, string>;
  seeds: Record<string, string | number>;
}

/** Pure: the rerun's environment — the venv first on PATH, the record's variables, and the seeds as REPRO_SEED_*. */
export function rerunEnvironment({ base, binDir, venvDir, variables, seeds }: RerunEnvironmentOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(base)) {
    if (name.startsWith('INPUT_') || SECRET_VARIABLES.includes(name) || name === 'PYTHONHOME') continue;
    env[name] = value;
  }
  if (binDir && venvDir) {
    env.VIRTUAL_ENV = venvDir;
    env.PATH = [binDir, base.PATH].filter(Boolean).join(path.delimiter);
  }
  env.PYTHONNOUSERSITE = '1';
  Object.assign(env, variables);
  for (const [name, value] of Object.entries(seeds)) env[`${SEED_ENV_PREFIX}${name.toUpperCase()}`] = String(value);
  return env;
}
