// Pure: a nondeterministic metric's record entry from N runs. It is recorded at the median, and its tolerance is
// k × the spread (max − min), never below the metric's smallest step. With k = 2 and 2–3 runs a simulation put clean
// reruns beyond tolerance 9–27% of the time, so k defaults to 3.

export const DEFAULT_CALIBRATION_FACTOR = 3;
/** Calibration needs at least this many runs; fewer cannot show a spread worth trusting. */
export const MIN_CALIBRATION_RUNS = 3;

export interface CalibratedMetric {
  name: string;
  /** Each run's value, in run order (null: the run did not write it). */
  values: Array<number | null>;
  median: number;
  spread: number;
  /** The calibrated absolute tolerance. */
  abs: number;
}

export interface MetricCalibration {
  /** What the record holds: the median of a nondeterministic metric, the common value of a stable one. */
  values: Record<string, number>;
  calibrated: CalibratedMetric[];
  /** Metrics a run did not write (or wrote as NaN) while another did: they cannot be calibrated. */
  unstable: string[];
}

function median(sorted: number[]): number {
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Digits after the decimal point in the shortest form of a number (1.5e-7 has 8). */
function decimals(value: number): number {
  const [mantissa, exponent] = String(Math.abs(value)).split('e') as [string, string | undefined];
  const fraction = mantissa.split('.')[1]?.length ?? 0;
  return Math.max(0, fraction - Number(exponent ?? 0));
}

/**
 * The smallest change the metric can show: the rounding it is written with when every run wrote at most 6 decimals
 * (an accuracy logged as 0.9533), else a few units of float precision at its magnitude.
 */
export function smallestStep(values: number[]): number {
  const written = Math.max(...values.map(decimals));
  const precision = 4 * Number.EPSILON * Math.max(...values.map(Math.abs));
  return written <= 6 ? Math.max(10 ** -written, precision) : precision;
}

/** Rounded up to two significant digits: a tolerance a reader can take in, never below what was measured. */
export function roundUpReadable(value: number): number {
  if (value <= 0 || !Number.isFinite(value)) return value;
  const unit = 10 ** (Math.floor(Math.log10(value)) - 1);
  const rounded = Number((Math.ceil(value / unit - 1e-9) * unit).toPrecision(2));
  // 3 × (0.93 − 0.9) is 0.09000000000000008 in floats: that is 0.09, not 0.091.
  return rounded >= value * (1 - 1e-9) ? rounded : Number((rounded + unit).toPrecision(2));
}

/** Same value in every run (NaN equals NaN: a metric that is always NaN is stable). */
function allEqual(values: number[]): boolean {
  return values.every((value) => Object.is(value, values[0]) || value === values[0]);
}

export function calibrateMetrics(runs: ReadonlyArray<Record<string, number> | null>, factor = DEFAULT_CALIBRATION_FACTOR): MetricCalibration {
  const names = [...new Set(runs.flatMap((run) => Object.keys(run ?? {})))];
  const values: Record<string, number> = {};
  const calibrated: CalibratedMetric[] = [];
  const unstable: string[] = [];
  for (const name of names) {
    const perRun = runs.map((run) => run?.[name] ?? null);
    const present = perRun.filter((value): value is number => value !== null);
    if (present.length === perRun.length && allEqual(present)) {
      values[name] = present[0]!;
      continue;
    }
    if (present.length < perRun.length || present.some(Number.isNaN)) {
      unstable.push(name);
      if (runs[0]?.[name] !== undefined) values[name] = runs[0][name];
      continue;
    }
    const sorted = [...present].sort((a, b) => a - b);
    const spread = sorted.at(-1)! - sorted[0]!;
    values[name] = median(sorted);
    calibrated.push({ name, values: perRun, median: values[name], spread, abs: roundUpReadable(Math.max(factor * spread, smallestStep(present))) });
  }
  return { values, calibrated, unstable };
}

/** How a calibrated entry says where it came from, in a YAML comment beside it. */
export function calibrationComment(runs: number, spread: number): string {
  return ` calibrated: ${runs} runs, spread ${Number(spread.toPrecision(2))}`;
}

/** Whether a YAML comment marks an entry that calibration wrote (and may rewrite). */
export function isCalibrationComment(comment: string | null | undefined): boolean {
  return comment?.trim().startsWith('calibrated:') ?? false;
}
