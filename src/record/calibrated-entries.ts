import { type Document, isMap, type Node, YAMLMap } from 'yaml';
import { calibrationComment, isCalibrationComment } from '../compare/calibration/calibrate-metrics.js';
import type { RunsCalibration } from '../compare/calibration/calibrate-runs.js';

// Pure: writes the tolerances `record --runs N` calibrated into a record's document, each with a comment saying
// where it came from. Those comments mark the entries a later `--runs` may rewrite; hand-written ones are never touched.

export interface CalibrationEntries {
  runs: number;
  metrics: Array<{ name: string; spread: number; abs: number }>;
  /** Index-aligned with the record's artifacts; undefined: nothing calibrated for that artifact. */
  artifacts: Array<{ tensors: Array<{ name: string; maxAbs: number; abs: number }>; artifactAbs?: number } | undefined>;
}

type AnyMap = YAMLMap<unknown, unknown>;

/** Drops the calibrated entries of a map; true when the map is empty afterwards. */
function dropCalibrated(map: unknown): boolean {
  if (!isMap(map)) return false;
  const node = map as AnyMap;
  node.items = node.items.filter((pair) => !isCalibrationComment((pair.value as Node | null)?.comment));
  return node.items.length === 0;
}

function handWritten(doc: Document, fieldPath: Array<string | number>): { abs?: number; rel?: number } | undefined {
  const node = doc.getIn(fieldPath, true) as Node | undefined;
  if (!node) return undefined;
  const value = doc.getIn(fieldPath) as unknown;
  return isMap(value) ? (value.toJSON() as { abs?: number; rel?: number }) : {};
}

function setCalibrated(doc: Document, fieldPath: Array<string | number>, abs: number, comment: string): void {
  const node = doc.createNode({ abs }, { flow: true });
  node.comment = comment;
  doc.setIn(fieldPath, node);
}

/** Removes every earlier calibrated entry, writes the new ones, and returns a warning for each hand-written tolerance kept that is tighter than calibrated. */
export function writeCalibration(doc: Document, entries: CalibrationEntries, medians: Record<string, number>): string[] {
  const warnings: string[] = [];
  if (dropCalibrated(doc.getIn(['tolerance', 'metrics'], true))) doc.deleteIn(['tolerance', 'metrics']);
  const artifactCount = (doc.getIn(['artifacts']) as { items?: unknown[] } | undefined)?.items?.length ?? 0;
  for (let i = 0; i < artifactCount; i++) {
    if (isCalibrationComment((doc.getIn(['artifacts', i, 'fingerprint'], true) as Node | undefined)?.comment)) doc.deleteIn(['artifacts', i, 'fingerprint']);
    if (dropCalibrated(doc.getIn(['artifacts', i, 'tensors'], true))) doc.deleteIn(['artifacts', i, 'tensors']);
    if (isCalibrationComment((doc.getIn(['artifacts', i, 'tolerance'], true) as Node | undefined)?.comment)) doc.deleteIn(['artifacts', i, 'tolerance']);
  }
  for (const metric of entries.metrics) {
    const fieldPath = ['tolerance', 'metrics', metric.name];
    const own = handWritten(doc, fieldPath);
    if (own) {
      const allowed = (own.abs ?? 0) + (own.rel ?? 0) * Math.abs(medians[metric.name] ?? 0);
      if (allowed < metric.abs) warnings.push(`metric ${metric.name}: the hand-written tolerance (±${allowed}) is tighter than calibrated (±${metric.abs}); kept as written, so verify may fail on clean reruns`);
      continue;
    }
    setCalibrated(doc, fieldPath, metric.abs, calibrationComment(entries.runs, metric.spread));
  }
  entries.artifacts.forEach((artifact, i) => {
    if (!artifact) return;
    // Without a baseline file, only a sample of the recorded elements lets verify judge a tensor that moved.
    if (!doc.hasIn(['artifacts', i, 'fingerprint'])) {
      const node = doc.createNode('sampled');
      node.comment = ` calibrated: ${entries.runs} runs (a sample lets verify judge without a baseline)`;
      doc.setIn(['artifacts', i, 'fingerprint'], node);
    } else if (doc.getIn(['artifacts', i, 'fingerprint']) !== 'sampled') {
      warnings.push(`artifact ${i + 1}: \`fingerprint: stats\` is kept as written, so verify can judge its calibrated tensors only against a baseline file (--baseline)`);
    }
    for (const tensor of artifact.tensors) {
      const fieldPath = ['artifacts', i, 'tensors', tensor.name];
      if (handWritten(doc, fieldPath)) continue;
      setCalibrated(doc, fieldPath, tensor.abs, ` calibrated: ${entries.runs} runs, max abs Δ ${Number(tensor.maxAbs.toPrecision(2))}`);
    }
    if (artifact.artifactAbs !== undefined && !handWritten(doc, ['artifacts', i, 'tolerance'])) {
      setCalibrated(doc, ['artifacts', i, 'tolerance'], artifact.artifactAbs, ` calibrated: ${entries.runs} runs, every tensor`);
    }
  });
  if (isMap(doc.getIn(['tolerance'], true)) && (doc.getIn(['tolerance'], true) as AnyMap).items.length === 0) doc.deleteIn(['tolerance']);
  return warnings;
}

/** The calibrated tolerances of N runs, index-aligned with the record's artifacts (by repo-relative path). */
export function calibrationEntries(calibration: RunsCalibration, artifactPaths: string[]): CalibrationEntries {
  const byPath = new Map(calibration.artifacts.map((artifact) => [artifact.path, artifact]));
  return {
    runs: calibration.runs,
    metrics: calibration.metrics.calibrated,
    artifacts: artifactPaths.map((file) => {
      const artifact = byPath.get(file);
      return artifact?.status === 'calibrated' ? artifact.tensors : undefined;
    }),
  };
}
