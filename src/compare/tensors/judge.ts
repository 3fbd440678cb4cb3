import type { NumericCheck, TensorCheck } from '../../report/schema.js';
import { toReportNumber } from '../../report/schema.js';
import type { ElementwiseResult } from './elementwise.js';
import type { TensorFingerprint, TensorPassResult } from './tensor-pass.js';
import type { NumericTolerance } from './tolerance.js';
import type { DType } from '../formats/tensor-file.js';

// Pure: a numeric artifact's recorded fingerprint against what the rerun's file holds, tensor by tensor.

/** What `record` keeps of a numeric artifact (run.yaml `content`). */
export interface RecordedContent {
  format: string;
  tensors: TensorFingerprint[];
  parameters?: Record<string, string>;
}

export interface RerunContent {
  format: string;
  tensors: TensorPassResult[];
  parameters?: Record<string, string>;
}

const LISTED_TENSORS = 500;
const LISTED_PARAMETERS = 200;

const SEVERITY: Record<TensorCheck['status'], number> = { changed: 0, removed: 1, added: 2, beyond: 3, differs: 4, within: 5, retyped: 6 };

function describeShape(shape: number[]): string {
  return `[${shape.join(', ')}]`;
}

function statistics(fingerprint: TensorFingerprint): TensorCheck['recorded'] {
  if (fingerprint.l2 === undefined) return undefined;
  const number = (value: number | null | undefined) => (value === null || value === undefined ? null : toReportNumber(value));
  return { nonfinite: fingerprint.nonfinite ?? 0, min: number(fingerprint.min), max: number(fingerprint.max), mean: number(fingerprint.mean), l2: toReportNumber(fingerprint.l2) };
}

/** Row-major index of a flat position, one number per dimension. */
export function unflattenIndex(flat: number, shape: number[]): number[] {
  const index = new Array<number>(shape.length).fill(0);
  let rest = flat;
  for (let dimension = shape.length - 1; dimension >= 0; dimension--) {
    const size = shape[dimension]!;
    index[dimension] = size === 0 ? 0 : rest % size;
    rest = size === 0 ? 0 : Math.floor(rest / size);
  }
  return index;
}

function elementwise(result: ElementwiseResult, shape: number[], basis: 'baseline' | 'sample', tolerance: NumericTolerance): Partial<TensorCheck> {
  return {
    status: result.mismatched === 0 ? 'within' : 'beyond',
    basis,
    total: result.total,
    mismatched: result.mismatched,
    maxAbs: toReportNumber(result.maxAbs),
    maxRel: toReportNumber(result.maxRel),
    ...(result.firstMismatch === null ? {} : { firstMismatch: unflattenIndex(result.firstMismatch, shape) }),
    tolerance: { abs: tolerance.abs, rel: tolerance.rel },
  };
}

/**
 * A scalar whose type changed but not its value: a library's bookkeeping (scikit-learn 1.9 counts a scaler's
 * n_samples_seen_ as float64 where 1.6 used int64). Only for scalars: a weight tensor that changes dtype computes differently.
 */
function sameScalarValue(recorded: TensorFingerprint, rerun: TensorFingerprint): boolean {
  const scalar = (fingerprint: TensorFingerprint) => fingerprint.shape.length === 0 && fingerprint.count === 1 && typeof fingerprint.min === 'number';
  return scalar(recorded) && scalar(rerun) && recorded.dtype !== rerun.dtype && recorded.min === rerun.min;
}

/**
 * The statistic that moved beyond what the tolerance allows, if any: a sample sees 4,096 elements, the statistics
 * all of them (counts exactly; min, max, mean per element; the L2 norm by at most abs·√n + rel·‖e‖).
 */
function statisticBeyond(recorded: TensorFingerprint, rerun: TensorFingerprint, tolerance: NumericTolerance): string | undefined {
  if (recorded.count !== rerun.count || (recorded.nonfinite ?? 0) !== (rerun.nonfinite ?? 0)) return `non-finite count ${recorded.nonfinite ?? 0} → ${rerun.nonfinite ?? 0}`;
  const within = (e: number | null | undefined, a: number | null | undefined, bound: (e: number) => number) =>
    e === a || (typeof e === 'number' && typeof a === 'number' && Math.abs(a - e) <= bound(e));
  const perElement = (e: number) => tolerance.abs + tolerance.rel * Math.abs(e);
  for (const statistic of ['min', 'max', 'mean'] as const) {
    if (!within(recorded[statistic], rerun[statistic], perElement)) return `${statistic} ${recorded[statistic]} → ${rerun[statistic]}`;
  }
  const norm = (e: number) => tolerance.abs * Math.sqrt(recorded.count) + tolerance.rel * Math.abs(e);
  return within(recorded.l2, rerun.l2, norm) ? undefined : `L2 ${recorded.l2} → ${rerun.l2}`;
}

function judgedOnSample(sample: ElementwiseResult, recorded: TensorFingerprint, rerun: TensorFingerprint, tolerance: NumericTolerance): Partial<TensorCheck> {
  const judged = elementwise(sample, recorded.shape, 'sample', tolerance);
  const statistic = judged.status === 'within' ? statisticBeyond(recorded, rerun, tolerance) : undefined;
  return statistic ? { ...judged, status: 'beyond', change: `statistics beyond tolerance: ${statistic}` } : judged;
}

function structureChange(recorded: TensorFingerprint, rerun: TensorFingerprint): string | undefined {
  const changes = [
    recorded.dtype !== rerun.dtype ? `dtype ${recorded.dtype} → ${rerun.dtype}` : undefined,
    describeShape(recorded.shape) !== describeShape(rerun.shape) ? `shape ${describeShape(recorded.shape)} → ${describeShape(rerun.shape)}` : undefined,
  ].filter(Boolean);
  return changes.length > 0 ? changes.join(', ') : undefined;
}

/** Largest deviation first: structure changes, then tensors beyond tolerance by how far, then the rest. */
function byDeviation(a: TensorCheck, b: TensorCheck): number {
  const severity = SEVERITY[a.status] - SEVERITY[b.status];
  if (severity !== 0) return severity;
  const deviation = (check: TensorCheck) => (typeof check.maxAbs === 'number' ? check.maxAbs : check.maxAbs === undefined ? 0 : Infinity);
  return deviation(b) - deviation(a) || (b.mismatched ?? 0) - (a.mismatched ?? 0) || (a.name < b.name ? -1 : 1);
}

function parameterChanges(recorded?: Record<string, string>, rerun?: Record<string, string>): NumericCheck['parameters'] {
  if (!recorded || !rerun) return undefined;
  const added = Object.keys(rerun).filter((name) => !Object.hasOwn(recorded, name));
  const removed = Object.keys(recorded).filter((name) => !Object.hasOwn(rerun, name));
  const changed = Object.keys(rerun).filter((name) => Object.hasOwn(recorded, name) && recorded[name] !== rerun[name]);
  if (added.length + removed.length + changed.length === 0) return undefined;
  const cut = (names: string[]) => names.slice(0, LISTED_PARAMETERS);
  return { added: cut(added), removed: cut(removed), changed: cut(changed) };
}

export function judgeNumericArtifact(options: {
  recorded: RecordedContent | undefined;
  rerun: RerunContent;
  toleranceFor: (name: string, dtype: DType) => NumericTolerance;
  baseline?: string;
}): NumericCheck {
  const { recorded, rerun } = options;
  const base = { format: rerun.format, tensorCount: rerun.tensors.length, ...(options.baseline ? { baseline: options.baseline } : {}) };
  if (!recorded) return { ...base, outcome: 'unrecorded', identicalCount: 0, tensors: [] };
  const rerunByName = new Map(rerun.tensors.map((pass) => [pass.fingerprint.name, pass]));
  const recordedNames = new Set(recorded.tensors.map((tensor) => tensor.name));
  const checks: TensorCheck[] = [];
  let identicalCount = 0;
  for (const expected of recorded.tensors) {
    const pass = rerunByName.get(expected.name);
    const row = { name: expected.name, dtype: expected.dtype, shape: expected.shape };
    if (!pass) {
      checks.push({ ...row, status: 'removed' });
      continue;
    }
    const actual = pass.fingerprint;
    const change = structureChange(expected, actual);
    if (change && sameScalarValue(expected, actual)) {
      checks.push({ ...row, status: 'retyped', change: `${change}, same value` });
      continue;
    }
    if (change) {
      checks.push({ ...row, status: 'changed', change });
      continue;
    }
    if (actual.sha256 === expected.sha256) {
      identicalCount++;
      continue;
    }
    const tolerance = options.toleranceFor(expected.name, expected.dtype);
    const judged = pass.comparison
      ? elementwise(pass.comparison, expected.shape, 'baseline', tolerance)
      : pass.sampleComparison
        ? judgedOnSample(pass.sampleComparison, expected, actual, tolerance)
        : { status: 'differs' as const };
    checks.push({ ...row, status: 'differs', ...judged, recorded: statistics(expected), rerun: statistics(actual) });
  }
  for (const pass of rerun.tensors) {
    if (!recordedNames.has(pass.fingerprint.name)) checks.push({ name: pass.fingerprint.name, dtype: pass.fingerprint.dtype, shape: pass.fingerprint.shape, status: 'added' });
  }
  checks.sort(byDeviation);
  const has = (status: TensorCheck['status']) => checks.some((check) => check.status === status);
  const outcome: NumericCheck['outcome'] =
    has('changed') || has('removed') || has('added')
      ? 'structure-changed'
      : has('beyond')
        ? 'beyond-tolerance'
        : has('differs')
          ? 'no-baseline'
          : checks.every((check) => check.status === 'retyped')
            ? 'content-identical'
            : 'within-tolerance';
  const basis = checks.some((check) => check.basis === 'sample') ? 'sample' : checks.some((check) => check.basis === 'baseline') ? 'baseline' : undefined;
  const parameters = parameterChanges(recorded.parameters, rerun.parameters);
  return {
    ...base,
    outcome,
    ...(basis ? { basis } : {}),
    identicalCount,
    tensors: checks.slice(0, LISTED_TENSORS),
    ...(parameters ? { parameters } : {}),
  };
}

/** The artifact's status in the report: content identical or within tolerance passes as `within`. */
export function numericArtifactStatus(check: NumericCheck): 'within' | 'differs' {
  return check.outcome === 'content-identical' || check.outcome === 'within-tolerance' ? 'within' : 'differs';
}
