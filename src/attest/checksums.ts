import type { Subject } from './statement.js';

// Pure: the subjects as `sha256sum` prints them, the format `actions/attest` takes as `subject-checksums`.

/** A folder's files with their sha256, relative to the folder, in the order its directory hash lists them. */
export type FolderFiles = ReadonlyArray<{ file: string; sha256: string }>;

/** One line of `sha256sum` output; a name with a backslash or newline is escaped as GNU coreutils does. */
export function checksumLine(sha256: string, name: string): string {
  if (!/[\\\n\r]/.test(name)) return `${sha256}  ${name}\n`;
  const escaped = name.replaceAll('\\', '\\\\').replaceAll('\n', '\\n').replaceAll('\r', '\\r');
  return `\\${sha256}  ${escaped}\n`;
}

/**
 * Every file subject, and every file of each folder subject (the format has no folder digest), given the folder's
 * files; a folder whose files are not given is left out and named in `leftOut`.
 */
export function checksumsText(subjects: readonly Subject[], folders: ReadonlyMap<string, FolderFiles>): { text: string; leftOut: string[] } {
  const lines: string[] = [];
  const leftOut: string[] = [];
  for (const subject of subjects) {
    if ('sha256' in subject.digest) {
      lines.push(checksumLine(subject.digest.sha256, subject.name));
      continue;
    }
    const files = folders.get(subject.name);
    if (files === undefined) leftOut.push(subject.name);
    else for (const { file, sha256 } of files) lines.push(checksumLine(sha256, `${subject.name.replace(/\/+$/, '')}/${file}`));
  }
  return { text: lines.join(''), leftOut };
}
