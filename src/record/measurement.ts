import type { LearnedSet } from '../inputs/affected/learned-inputs.js';
import type { RecordedContent } from '../compare/tensors/judge.js';
import type { CalibrationEntries } from './calibrated-entries.js';
import type { MachineFingerprint } from '../environment/machine/schema.js';

/**
 * What a run measured, index-aligned with the record's lists: everything `record --update` rewrites
 * and nothing else (name, command, tolerances, thresholds, comments and key order stay as written).
 */
export interface Measurement {
  config: string[];
  data: string[];
  /** The requirements file's sha256, or a uv project's lockfile's. */
  requirementsSha256?: string;
  artifacts: string[];
  /** Each numeric artifact's tensor fingerprint (`content`), index-aligned; undefined leaves the written one alone. */
  contents?: Array<RecordedContent | undefined>;
  /** The rerun's flattened metrics; undefined when the record has no metrics file. */
  metrics?: Record<string, number>;
  packages?: Record<string, string>;
  /** `record --update --image`: the image the rerun ran in, pinned by digest (otherwise the record's image stays). */
  image?: string;
  /** Exact version of the interpreter that ran, e.g. 3.11.7. */
  python?: string;
  platform?: string;
  /** The rerun's hardware and native libraries. */
  machine?: MachineFingerprint;
  commit?: string;
  /** Whether the working tree differed from `commit` besides the run's own files (`code.dirty`); undefined outside git. */
  dirty?: boolean;
  /** What the rerun read (`code.files`, `code.listed`); null when the probe could not see it all (any older set is removed). */
  learned?: LearnedSet | null;
  /** `record --update --runs N`: the calibrated tolerances, rewriting earlier calibrated ones (metrics then hold the medians). */
  calibration?: CalibrationEntries;
}

/** How `record` writes a Python version: major.minor, unless the record already pins a patch. */
export function recordedPythonVersion(exact: string, current?: string): string {
  const parts = current?.split('.').length === 3 ? 3 : 2;
  return exact.split('.').slice(0, parts).join('.');
}
