import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { syncFolder, writeFileAtomic } from '../write-file-atomic.js';
import { ALIASES_FILE } from './names.js';

// Moves an alias in one rename, so a reader (or a killed promote) finds the old target or the new one, never a
// missing alias: a symlink is made under a temporary name and renamed over the old one; aliases.yaml is rewritten
// through a temporary file, with the yaml Document API so the user's comments stay.

export async function moveAlias(modelDir: string, source: 'symlinks' | 'aliases.yaml', alias: string, version: string): Promise<void> {
  if (source === 'aliases.yaml') {
    const file = path.join(modelDir, ALIASES_FILE);
    const text = await readFile(file, 'utf8');
    const document = parseDocument(text);
    // A file of comments alone has no mapping to set a key in: the line is appended to it.
    if (document.contents === null) {
      await writeFileAtomic(file, `${text}${text === '' || text.endsWith('\n') ? '' : '\n'}${alias}: ${version}\n`);
      return;
    }
    document.set(alias, version);
    await writeFileAtomic(file, document.toString());
    return;
  }
  const temporary = path.join(modelDir, `.${alias}.${randomBytes(6).toString('hex')}.tmp`);
  await symlink(version, temporary);
  try {
    await rename(temporary, path.join(modelDir, alias));
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
  await syncFolder(modelDir);
}
