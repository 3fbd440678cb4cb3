import { rawChangesSince } from '../git.js';

// A learned input set shows when a file the training read changed. It cannot show a file that is new: a module that
// shadows another (`json.py` beside the script), a compiled module or `.pth` file, a file a directory scan would find,
// a symlink pointed elsewhere, or a `.gitignore` that changes what the sandbox copy holds. Any such change since the
// record's commit makes the record affected.

const SYMLINK_MODE = '120000';
const COPY_RULES = new Set(['.gitignore', '.gitattributes']);

function under(file: string, entries: readonly string[]): boolean {
  return entries.some((entry) => file === entry || file.startsWith(`${entry}/`));
}

/**
 * Paths added, renamed, copied, retyped or re-linked since `commit` (untracked ones too), and changed `.gitignore` /
 * `.gitattributes`, leaving out `excluded` (outputs, declared data, the record). Undefined when the commit is not in the clone.
 */
export async function structuralChanges(repoRoot: string, commit: string | undefined, excluded: readonly string[]): Promise<string[] | undefined> {
  if (!commit) return undefined;
  const changes = await rawChangesSince(repoRoot, commit);
  if (!changes) return undefined;
  return changes
    .filter((change) => !under(change.path, excluded))
    .filter(
      (change) =>
        ['A', 'R', 'C', 'T', '?'].includes(change.status) ||
        change.oldMode === SYMLINK_MODE ||
        change.newMode === SYMLINK_MODE ||
        COPY_RULES.has(change.path.split('/').at(-1) ?? ''),
    )
    .map((change) => change.path)
    .sort();
}
