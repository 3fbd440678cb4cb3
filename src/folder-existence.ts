import { lstat } from 'node:fs/promises';

/**
 * Whether a folder exists, each folder looked up once: outputs usually sit by the thousand in an ignored folder that
 * a copy or a checkout does not have. A missing folder (or a file where a folder would be) is `false`; any other
 * failure (a folder that cannot be read) rejects.
 */
export function folderExistence(): (folder: string) => Promise<boolean> {
  const folders = new Map<string, Promise<boolean>>();
  const absent = (error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return false;
    throw error;
  };
  return (folder) => {
    let exists = folders.get(folder);
    if (!exists) {
      exists = lstat(folder).then(() => true, absent);
      folders.set(folder, exists);
    }
    return exists;
  };
}
