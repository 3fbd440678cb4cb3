import type { RawChange } from '../../git.js';
import { isUnderAny } from '../../record/paths.js';

// A learned input set shows when a file the training read changed. It cannot show a file that is new: a module that
// shadows another (`json.py` beside the script), a compiled module or `.pth` file, a file a directory scan would find,
// a symlink pointed elsewhere, or a `.gitignore` that changes what the sandbox copy holds. Any such change since the
// record's commit makes the record affected.

const SYMLINK_MODE = '120000';
const COPY_RULES = new Set(['.gitignore', '.gitattributes']);

/**
 * What the run showed of its folders: those it listed (`code.listed`), the folders that existed at the record's
 * commit, and those the checkout holds now (for removals). A change matters only where a listing shows it.
 */
export interface ListingScope {
  listed: ReadonlySet<string>;
  foldersAtCommit: ReadonlySet<string>;
  foldersNow: ReadonlySet<string>;
}

/** The folders above a repository-relative path, nearest first, ending with the root ('.'). */
export function foldersAbove(file: string): string[] {
  const parts = file.split('/').slice(0, -1);
  const folders = parts.map((_, i) => parts.slice(0, parts.length - i).join('/'));
  return [...folders, '.'];
}

/**
 * Whether a file added (or removed) at `file` changes a listing the run made: its own folder was listed, or a folder
 * above it was and the folder below that one on the way down is new (or, for a removal, gone): the listing shows that
 * folder itself appear or disappear.
 */
function showsInListing(file: string, scope: ListingScope, removed: boolean): boolean {
  const above = foldersAbove(file);
  const changedFolder = (folder: string) => (removed ? !scope.foldersNow.has(folder) : !scope.foldersAtCommit.has(folder));
  return above.some((folder, i) => scope.listed.has(folder) && (i === 0 || changedFolder(above[i - 1]!)));
}

const ADDED = ['A', 'R', 'C', '?'];

/**
 * Pure: of the changes since the record's commit (undefined when they cannot be known), the paths added, renamed, copied,
 * retyped or re-linked (untracked ones too) and changed `.gitignore` / `.gitattributes`, leaving out `excluded`
 * (outputs, declared data, the record). With the record's listing scope, a file added (or removed, or renamed either
 * way) counts only where a listing showed it: a new file in a folder the training never looked into cannot change it.
 */
export function structuralChanges(changes: readonly RawChange[] | undefined, excluded: readonly string[], scope?: ListingScope): string[] | undefined {
  if (!changes) return undefined;
  const always = (change: RawChange) => change.status === 'T' || change.oldMode === SYMLINK_MODE || change.newMode === SYMLINK_MODE || COPY_RULES.has(change.path.split('/').at(-1) ?? '');
  const counted = changes.flatMap((change) => {
    if (always(change)) return [change.path];
    if (!scope) return ADDED.includes(change.status) ? [change.path] : [];
    const added = ADDED.includes(change.status) && showsInListing(change.path, scope, false) ? [change.path] : [];
    const removedPath = change.status === 'D' ? change.path : change.status === 'R' ? change.from : undefined;
    return [...added, ...(removedPath && showsInListing(removedPath, scope, true) ? [removedPath] : [])];
  });
  return [...new Set(counted.filter((file) => !isUnderAny(file, excluded)))].sort();
}
