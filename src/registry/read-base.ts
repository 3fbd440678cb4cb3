import { UserError } from '../errors.js';
import { listFilesAtCommit, rawChangesSince, readFileAtCommit, resolveCommit } from '../git.js';
import { ALIASES_FILE, MODEL_FILES, MODEL_NAME_PATTERN, POLICY_FILE, PROMOTION_LOG_FILE } from './names.js';
import { parseAliasesFile } from './read-registry.js';
import { isSemver } from './semver.js';
import type { BaseModelState } from './state.js';

// The git edge of `registry check --base REF`: each model as it was at the base commit, and what changed since inside
// the versions that existed there. Only reads (`git ls-tree`, `git show`, `git diff` on a private index copy).

const CHANGE_WORDS: Record<string, string> = { M: 'modified', D: 'deleted', A: 'added', R: 'renamed', C: 'copied', T: 'type changed', '?': 'added' };

/** The base commit `ref` names in the repository at `repoRoot`; an error when the clone lacks it. */
export async function baseCommit(repoRoot: string, ref: string): Promise<string> {
  const commit = await resolveCommit(repoRoot, ref);
  if (commit) return commit;
  throw new UserError(`the base ${ref} is not a commit in this clone`, 'Fetch it first (`git fetch origin <branch>`; in a shallow clone `git fetch --unshallow`).');
}

/** Each model of the registry folder `registryPath` (relative to the repository root) at `commit`. */
export async function readBaseRegistry(repoRoot: string, commit: string, registryPath: string): Promise<Map<string, BaseModelState>> {
  const prefix = registryPath === '.' ? '' : `${registryPath.replace(/\/+$/, '')}/`;
  const files = (await listFilesAtCommit(repoRoot, commit)).filter((file) => file.startsWith(prefix)).map((file) => file.slice(prefix.length));
  const models = new Map<string, { versions: Set<string>; entries: Set<string> }>();
  for (const file of files) {
    const [model, entry, ...rest] = file.split('/');
    if (!model || !entry || !MODEL_NAME_PATTERN.test(model)) continue;
    const state = models.get(model) ?? { versions: new Set<string>(), entries: new Set<string>() };
    models.set(model, state);
    if (rest.length > 0 && isSemver(entry)) state.versions.add(entry);
    else if (rest.length === 0) state.entries.add(entry);
  }
  // Failing open here would pass any edit to a published version: no diff is an error, never "no changes".
  const changes = await rawChangesSince(repoRoot, commit);
  if (changes === undefined) throw new Error(`git diff ${commit} failed in ${repoRoot}`);
  const result = new Map<string, BaseModelState>();
  for (const [model, { versions, entries }] of models) {
    const at = (name: string) => readFileAtCommit(repoRoot, commit, `${prefix}${model}/${name}`);
    const aliases = new Map<string, string>();
    if (entries.has(ALIASES_FILE)) {
      const parsed = parseAliasesFile((await at(ALIASES_FILE)) ?? '');
      if (typeof parsed !== 'string') for (const [alias, version] of parsed) aliases.set(alias, version);
    } else {
      // At the base, a symlink is a blob holding its target; any other file directly in the model's folder is one.
      for (const entry of entries) if (!MODEL_FILES.includes(entry)) aliases.set(entry, ((await at(entry)) ?? '').replace(/^\.\//, '').replace(/\/$/, ''));
    }
    const changedVersionFiles: Array<{ version: string; file: string; change: string }> = [];
    for (const change of changes) {
      for (const changed of [change.path, change.from]) {
        if (changed === undefined || !changed.startsWith(`${prefix}${model}/`)) continue;
        const [version, ...rest] = changed.slice(`${prefix}${model}/`.length).split('/');
        if (version !== undefined && versions.has(version) && rest.length > 0) {
          changedVersionFiles.push({ version, file: rest.join('/'), change: CHANGE_WORDS[change.status] ?? change.status });
        }
      }
    }
    result.set(model, { logText: (await at(PROMOTION_LOG_FILE)) ?? '', policyText: await at(POLICY_FILE), versions, aliases, changedVersionFiles });
  }
  return result;
}
