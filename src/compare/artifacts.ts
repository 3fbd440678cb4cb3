import type { ArtifactCheck } from '../report/schema.js';

/** Pure: recorded artifact hashes against what the rerun produced (null or absent: not produced). */
export function compareArtifacts(
  expected: Array<{ path: string; sha256: string; line?: number }>,
  actual: ReadonlyMap<string, string | null>,
): ArtifactCheck[] {
  return expected.map(({ path, sha256, line }) => {
    const produced = actual.get(path) ?? null;
    const status = produced === null ? 'missing' : produced === sha256 ? 'identical' : 'differs';
    return { path, recorded: sha256, actual: produced, status, line };
  });
}
