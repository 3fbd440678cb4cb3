import type { NumericCheck } from '../../report/schema.js';
import { calibrateMetrics, type MetricCalibration } from './calibrate-metrics.js';
import { calibrateTensors, type TensorCalibration } from './calibrate-tensors.js';

// Pure: what N runs of one command say about each of its outputs, for `record --runs N`.

/** What one run produced, as calibration sees it. */
export interface RunResults {
  metrics: Record<string, number> | null;
  artifacts: ReadonlyMap<string, string | null>;
  /** Numeric artifacts whose bytes differ from the first run's, compared with it tensor by tensor. */
  numeric: ReadonlyMap<string, NumericCheck>;
}

export interface ArtifactCalibration {
  path: string;
  /** stable: the same bytes every run; calibrated: numeric, with per-tensor tolerances; varies: left exact, with a warning. */
  status: 'stable' | 'calibrated' | 'varies';
  tensors?: TensorCalibration;
  /** How many distinct sha256 the runs produced. */
  distinct: number;
}

export interface RunsCalibration {
  runs: number;
  metrics: MetricCalibration;
  artifacts: ArtifactCalibration[];
  warnings: string[];
}

export function calibrateRuns(runs: RunResults[], policies: ReadonlyMap<string, 'exact' | 'numeric' | 'report'>, factor: number): RunsCalibration {
  const warnings: string[] = [];
  const metrics = calibrateMetrics(
    runs.map((run) => run.metrics),
    factor,
  );
  if (metrics.unstable.length > 0) warnings.push(`metrics missing or NaN in some runs but not others: ${metrics.unstable.join(', ')}; recorded as the first run wrote them (verify will likely fail on them)`);
  const artifacts: ArtifactCalibration[] = [...policies].map(([file, policy]) => {
    const hashes = new Set(runs.map((run) => run.artifacts.get(file) ?? null));
    if (hashes.size === 1) return { path: file, status: 'stable', distinct: 1 };
    if (policy === 'report') return { path: file, status: 'varies', distinct: hashes.size };
    if (policy === 'numeric') {
      const tensors = calibrateTensors(
        runs.flatMap((run) => (run.numeric.has(file) ? [run.numeric.get(file)!] : [])),
        factor,
      );
      if (!tensors.problem) return { path: file, status: 'calibrated', tensors, distinct: hashes.size };
      warnings.push(`${file} was not calibrated: ${tensors.problem}; it is left with its tolerances and verify will likely fail on it`);
      return { path: file, status: 'varies', distinct: hashes.size };
    }
    warnings.push(
      `${file} differed between the ${runs.length} runs (${hashes.size} different sha256): it is left \`compare: exact\`, so verify will fail on it. Make the training deterministic (seeds, \`determinism: strict\`), compare it tensor by tensor (\`compare: numeric\`, --numeric) or only show it (\`compare: report\`)`,
    );
    return { path: file, status: 'varies', distinct: hashes.size };
  });
  return { runs: runs.length, metrics, artifacts, warnings };
}

/** The few lines `record` prints about what the runs showed. */
export function determinismSummary(calibration: RunsCalibration): string[] {
  const stableMetrics = Object.keys(calibration.metrics.values).filter((name) => !calibration.metrics.calibrated.some((entry) => entry.name === name));
  const stable = [...calibration.artifacts.filter((artifact) => artifact.status === 'stable').map((artifact) => artifact.path), ...stableMetrics];
  const lines = [`determinism: ${calibration.runs} runs`];
  if (stable.length > 0) lines.push(`  stable: ${stable.slice(0, 10).join(', ')}${stable.length > 10 ? ` and ${stable.length - 10} more` : ''}`);
  for (const metric of calibration.metrics.calibrated) {
    lines.push(`  nondeterministic: ${metric.name}, spread ${Number(metric.spread.toPrecision(2))}: recorded at the median ${metric.median}, tolerance ±${metric.abs}`);
  }
  for (const artifact of calibration.artifacts) {
    if (artifact.status === 'calibrated') {
      const count = artifact.tensors?.tensors.length ?? 0;
      lines.push(`  nondeterministic: ${artifact.path}, ${artifact.distinct} different files: ${count} tensor tolerance${count === 1 ? '' : 's'} calibrated`);
    } else if (artifact.status === 'varies') lines.push(`  nondeterministic: ${artifact.path}, ${artifact.distinct} different files: not calibrated`);
  }
  return lines;
}
