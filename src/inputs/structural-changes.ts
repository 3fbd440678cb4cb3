import type { RawChange } from '../git.js';
import { isUnderAny } from '../record/paths.js';

// A learned input set shows when a file the training read changed. It cannot show a file that is new: a module that
// shadows another (`json.py` beside the script), a compiled module or `.pth` file, a file a directory scan would find,
// a symlink pointed elsewhere, or a `.gitignore` that changes what the sandbox copy holds. Any such change since the
// record's commit makes the record affected.

const SYMLINK_MODE = '120000';
const COPY_RULES = new Set(['.gitignore', '.gitattributes']);

/**
 * Pure: of the changes since the record's commit (undefined when they cannot be known), the paths added, renamed, copied,
 * retyped or re-linked (untracked ones too) and changed `.gitignore` / `.gitattributes`, leaving out `excluded`
 * (outputs, declared data, the record).
 */
export function structuralChanges(changes: readonly RawChange[] | undefined, excluded: readonly string[]): string[] | undefined {
  if (!changes) return undefined;
  return changes
    .filter((change) => !isUnderAny(change.path, excluded))
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
