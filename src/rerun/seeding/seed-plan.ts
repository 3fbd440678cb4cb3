import { PROBE_DETERMINISM_ENV, PROBE_SEED_PLAN_ENV } from '../../constants.js';

// Pure: how a record's seeds and `determinism` reach the rerun. Seeds are always exported as REPRO_SEED_*; with
// `apply_seeds` the probe also applies them in every Python process, when the program imports each framework.

export interface SeedingPolicy {
  seeds: Record<string, string | number>;
  /** `apply_seeds: true`: the probe seeds each framework in-process. */
  apply: boolean;
  /** `determinism: strict`: deterministic algorithms, one BLAS/OpenMP thread, a fixed hash seed. */
  strict: boolean;
  /** The record's own variables: a value set there is never overridden. */
  variables: Record<string, string>;
}

export interface SeedPlan {
  /** Read by the probe only; always set (empty when nothing is applied). */
  probe: Record<string, string>;
  /** Added to the command's environment (strict determinism). */
  environment: Record<string, string>;
  /** Seeds that cannot be applied, said once in the report. */
  notes: string[];
}

/** The record's seed names, and the module the probe seeds with each; `random` wins over `python` when both are set. */
export const SEEDED_MODULES: Readonly<Record<string, string>> = { python: 'random', random: 'random', numpy: 'numpy', torch: 'torch', tensorflow: 'tensorflow' };

/** Distributions whose import means the training draws from a framework's RNG (for the export-only warning). */
export const SEEDABLE_DISTRIBUTIONS: Readonly<Record<string, string>> = { numpy: 'numpy', torch: 'torch', tensorflow: 'tensorflow', 'tensorflow-cpu': 'tensorflow' };

/** numpy.random.seed takes 0 ≤ seed < 2^32; PYTHONHASHSEED the same range: the one range every framework accepts. */
const MAX_SEED = 2 ** 32 - 1;
const THREAD_VARIABLES = ['OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'OPENBLAS_NUM_THREADS'];

function integerSeed(value: string | number): number | undefined {
  const number = typeof value === 'number' ? value : /^\d+$/.test(value) ? Number(value) : Number.NaN;
  return Number.isSafeInteger(number) && number >= 0 && number <= MAX_SEED ? number : undefined;
}

export function seedPlan(policy: SeedingPolicy): SeedPlan {
  const notes: string[] = [];
  const applied = new Map<string, number>();
  if (policy.apply) {
    // `random` is written after `python`, so it wins.
    const names = Object.keys(policy.seeds).sort((a, b) => Number(a === 'random') - Number(b === 'random'));
    for (const name of names) {
      const module = SEEDED_MODULES[name];
      if (!module) continue;
      const value = integerSeed(policy.seeds[name]!);
      if (value === undefined) notes.push(`seed ${name} (${String(policy.seeds[name])}) is not an integer from 0 to ${MAX_SEED}: only exported as a variable`);
      else applied.set(module, value);
    }
  }
  // Always both, so nothing else (a record's own variables) can set what only the plan may.
  const probe: Record<string, string> = {
    [PROBE_SEED_PLAN_ENV]: [...applied].map(([module, value]) => `${module}=${value}`).join(','),
    [PROBE_DETERMINISM_ENV]: policy.strict ? 'strict' : '',
  };
  const environment: Record<string, string> = {};
  if (policy.strict) {
    const hashSeed = integerSeed(policy.seeds.python ?? policy.seeds.random ?? 0) ?? 0;
    const strictVariables: Record<string, string> = {
      CUBLAS_WORKSPACE_CONFIG: ':4096:8',
      PYTHONHASHSEED: String(hashSeed),
      ...Object.fromEntries(THREAD_VARIABLES.map((name) => [name, '1'])),
    };
    for (const [name, value] of Object.entries(strictVariables)) if (!Object.hasOwn(policy.variables, name)) environment[name] = value;
  }
  return { probe, environment, notes };
}
