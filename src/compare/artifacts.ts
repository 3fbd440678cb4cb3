import type { ArtifactCheck } from '../report/schema.js';

/**
 * Pure: recorded artifact hashes against what the rerun produced (null or absent: not produced), and against the
 * same path in the checkout where one exists: a committed model that is not the recorded one is drift too.
 */
export function compareArtifacts(
  expected: Array<{ path: string; sha256: string; line?: number; policy?: 'exact' | 'report' }>,
  actual: ReadonlyMap<string, string | null>,
  committed: ReadonlyMap<string, string | null> = new Map(),
): ArtifactCheck[] {
  return expected.map(({ path, sha256, line, policy }) => {
    const produced = actual.get(path) ?? null;
    const status = produced === null ? 'missing' : produced === sha256 ? 'identical' : 'differs';
    const inCheckout = committed.get(path) ?? null;
    const check: ArtifactCheck = { path, recorded: sha256, actual: produced, status, line, ...(policy === 'report' ? { policy } : {}) };
    if (inCheckout !== null) check.committed = { actual: inCheckout, status: inCheckout === sha256 ? 'match' : 'differs' };
    return check;
  });
}
