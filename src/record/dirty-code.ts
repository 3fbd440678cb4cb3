import { rawChangesSince } from '../git.js';
import { isUnderAny, type ResolvedPath } from './paths.js';

/** What a run writes, or reads from outside git: the record, its outputs and its data (with manifests), repo-relative. */
export function runOwnFiles(run: { data: ReadonlyArray<{ data: ResolvedPath; manifest?: ResolvedPath }>; artifacts: readonly ResolvedPath[]; metrics?: ResolvedPath }, recordPath: string): string[] {
  const files = [...run.data.flatMap((entry) => [entry.data, ...(entry.manifest ? [entry.manifest] : [])]), ...run.artifacts, ...(run.metrics ? [run.metrics] : [])];
  return [...files.map((file) => file.repoRelative), recordPath];
}

/**
 * The files that differ from `commit` in the working tree (untracked ones included), apart from the run's own files
 * (`own`: the record, its outputs, its data and their manifests, which are committed after the run or kept outside
 * git). When there are any, the code at `commit` is not the code that ran: `code.dirty`, and `verify --at recorded`
 * refuses the record. Undefined when the commit is not in the clone.
 */
export async function uncommittedCode(repoRoot: string, commit: string, own: readonly string[]): Promise<string[] | undefined> {
  const changes = await rawChangesSince(repoRoot, commit);
  if (changes === undefined) return undefined;
  const touched = changes.flatMap((change) => [change.path, ...(change.from ? [change.from] : [])]);
  return [...new Set(touched.filter((file) => !isUnderAny(file, own)))].sort();
}
