import type { ArtifactCheck, NumericCheck } from '../report/schema.js';
import { numericArtifactStatus } from './tensors/judge.js';

/**
 * Pure: recorded artifact hashes against what the rerun produced (null or absent: not produced), and against the
 * same path in the checkout where one exists: a committed model that is not the recorded one is drift too.
 * Identical bytes are identical whatever the policy; a `numeric` artifact whose bytes changed takes its status
 * from the tensor-by-tensor comparison in `numeric`.
 */
export function compareArtifacts(
  expected: Array<{ path: string; sha256: string; line?: number; policy?: ArtifactCheck['policy'] }>,
  actual: ReadonlyMap<string, string | null>,
  committed: ReadonlyMap<string, string | null> = new Map(),
  numeric: ReadonlyMap<string, NumericCheck> = new Map(),
): ArtifactCheck[] {
  return expected.map(({ path, sha256, line, policy }) => {
    const produced = actual.get(path) ?? null;
    const tensors = produced !== null && produced !== sha256 ? numeric.get(path) : undefined;
    const status = produced === null ? 'missing' : produced === sha256 ? 'identical' : tensors ? numericArtifactStatus(tensors) : 'differs';
    const inCheckout = committed.get(path) ?? null;
    const check: ArtifactCheck = { path, recorded: sha256, actual: produced, status, line, ...(policy && policy !== 'exact' ? { policy } : {}), ...(tensors ? { numeric: tensors } : {}) };
    if (inCheckout !== null) check.committed = { actual: inCheckout, status: inCheckout === sha256 ? 'match' : 'differs' };
    return check;
  });
}
