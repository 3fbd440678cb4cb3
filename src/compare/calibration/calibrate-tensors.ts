import type { NumericCheck } from '../../report/schema.js';
import { fromReportNumber } from '../../report/schema.js';
import { roundUpReadable } from './calibrate-metrics.js';

// Pure: a nondeterministic numeric artifact's per-tensor tolerances from N runs, each compared element by element
// with the first run's file. A tensor gets k × the largest absolute difference any run showed.

export interface CalibratedTensor {
  name: string;
  maxAbs: number;
  abs: number;
}

export interface TensorCalibration {
  tensors: CalibratedTensor[];
  /** Set when more tensors varied than a comparison lists: the artifact-wide tolerance then covers every tensor. */
  artifactAbs?: number;
  /** Why the artifact could not be calibrated (its structure varies between runs), if it could not. */
  problem?: string;
}

export function calibrateTensors(checks: NumericCheck[], factor: number): TensorCalibration {
  const largest = new Map<string, number>();
  let overall = 0;
  let truncated = false;
  for (const check of checks) {
    if (check.outcome === 'structure-changed') return { tensors: [], problem: `its tensors differ in structure between runs (${check.tensors.find((tensor) => tensor.change)?.change ?? 'added or removed'})` };
    if (check.tensorCount - check.identicalCount > check.tensors.length) truncated = true;
    for (const tensor of check.tensors) {
      if (tensor.maxAbs === undefined) continue;
      const maxAbs = fromReportNumber(tensor.maxAbs);
      if (!Number.isFinite(maxAbs)) return { tensors: [], problem: `tensor ${tensor.name} differs by ${String(tensor.maxAbs)} between runs` };
      largest.set(tensor.name, Math.max(largest.get(tensor.name) ?? 0, maxAbs));
      overall = Math.max(overall, maxAbs);
    }
  }
  const tensors = [...largest]
    .filter(([, maxAbs]) => maxAbs > 0)
    .map(([name, maxAbs]) => ({ name, maxAbs, abs: roundUpReadable(factor * maxAbs) }))
    .sort((a, b) => a.name.localeCompare(b.name));
  return { tensors, ...(truncated ? { artifactAbs: roundUpReadable(factor * overall) } : {}) };
}
