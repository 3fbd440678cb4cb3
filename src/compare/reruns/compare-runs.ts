import { shortHash } from '../../report/format.js';
import { type DriftReport, toReportNumber, type VariationReport, type VaryingOutput } from '../../report/schema.js';

// Pure: several runs of one record side by side. Used to tell a real change (every rerun agrees, and not with the
// record) from nondeterministic training (the reruns disagree with each other), and by `--vary` to say which
// variation changes which output.

export interface RunView {
  index: number;
  variation?: string;
  failure?: string;
  metrics: Record<string, number> | null;
  artifacts: ReadonlyMap<string, string | null>;
}

const LISTED_OUTPUTS = 100;

function sameNumber(a: number | undefined, b: number | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && Number.isNaN(a) && Number.isNaN(b));
}

/** Every output (artifacts first, then metrics) whose value is not the same in all the runs given. */
export function varyingOutputs(runs: readonly RunView[]): VaryingOutput[] {
  const completed = runs.filter((run) => !run.failure);
  const artifactPaths = [...new Set(completed.flatMap((run) => [...run.artifacts.keys()]))];
  const metricNames = [...new Set(completed.flatMap((run) => Object.keys(run.metrics ?? {})))];
  const varying: VaryingOutput[] = [];
  for (const file of artifactPaths) {
    const hashes = runs.map((run) => (run.failure ? null : (run.artifacts.get(file) ?? null)));
    if (new Set(completed.map((run) => run.artifacts.get(file) ?? null)).size > 1) varying.push({ output: file, kind: 'artifact', values: hashes.map((hash) => (hash === null ? null : shortHash(hash))) });
  }
  for (const name of metricNames) {
    const values = completed.map((run) => run.metrics?.[name]);
    if (values.every((value) => sameNumber(value, values[0]))) continue;
    varying.push({ output: name, kind: 'metric', values: runs.map((run) => (run.failure || run.metrics?.[name] === undefined ? null : toReportNumber(run.metrics[name]))) });
  }
  return varying.slice(0, LISTED_OUTPUTS);
}

/**
 * A drifting record rerun N times: deterministic when every rerun gave the same outputs (the change is real),
 * nondeterministic when they disagree with each other (or one of them failed).
 */
export function classifyDrift(runs: readonly RunView[]): DriftReport {
  const varying = varyingOutputs(runs);
  const failed = runs.some((run) => run.failure);
  return { kind: varying.length === 0 && !failed ? 'deterministic' : 'nondeterministic', runs: runs.length, varying };
}

/** Each variation's run against the unvaried first run: the outputs it changed. */
export function variationEffects(first: RunView, varied: readonly RunView[]): VariationReport[] {
  return varied.map((run) => ({
    variation: run.variation ?? `run ${run.index}`,
    ...(run.failure ? { failure: run.failure } : {}),
    changed: run.failure ? [] : varyingOutputs([first, run]),
  }));
}
