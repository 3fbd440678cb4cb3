import path from 'node:path';
import { withoutSecrets } from '../child-env.js';
import { SEED_ENV_PREFIX } from '../constants.js';

export interface RerunEnvironmentOptions {
  base: NodeJS.ProcessEnv;
  binDir: string | null;
  venvDir: string | null;
  variables: Record<string, string>;
  seeds: Record<string, string | number>;
}

/** Pure: the rerun's environment — the venv first on PATH, the record's variables, and the seeds as REPRO_SEED_*. */
export function rerunEnvironment({ base, binDir, venvDir, variables, seeds }: RerunEnvironmentOptions): NodeJS.ProcessEnv {
  const env = withoutSecrets(base);
  delete env.PYTHONHOME;
  if (binDir && venvDir) {
    env.VIRTUAL_ENV = venvDir;
    env.PATH = [binDir, base.PATH].filter(Boolean).join(path.delimiter);
  }
  env.PYTHONNOUSERSITE = '1';
  Object.assign(env, variables);
  for (const [name, value] of Object.entries(seeds)) env[`${SEED_ENV_PREFIX}${name.toUpperCase()}`] = String(value);
  return env;
}
