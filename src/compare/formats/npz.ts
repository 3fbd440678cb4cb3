// numpy's .npz (numpy.savez stores members, numpy.savez_compressed deflates them): a zip archive of .npy files,
// one per array, each member `name.npy` holding the array saved under `name`.

import { UserError } from '../../errors.js';
import { openRegularFile } from './byte-source.js';
import { readNpyEntry } from './npy.js';
import type { TensorEntry, TensorFile } from './tensor-file.js';
import { ZipArchive } from './zip.js';

const NPZ_HINT = 'Write it with numpy.savez or numpy.savez_compressed and make sure the file is complete.';

export async function openNpz(file: string, displayPath: string): Promise<TensorFile> {
  const opened = await openRegularFile(file, displayPath);
  try {
    const archive = await ZipArchive.open(opened, displayPath, NPZ_HINT);
    const tensors: TensorEntry[] = [];
    for (const entry of archive.entries) {
      if (entry.name.endsWith('/')) continue;
      if (!entry.name.endsWith('.npy')) {
        throw new UserError(`${displayPath}: zip entry ${entry.name} is not an .npy array; an .npz holds only arrays`, NPZ_HINT);
      }
      const source = archive.entrySource(entry);
      tensors.push(await readNpyEntry(source, entry.name.slice(0, -'.npy'.length), `${displayPath} (member ${entry.name})`));
    }
    return { format: 'npz', tensors, close: opened.close };
  } catch (error) {
    await opened.close();
    throw error;
  }
}
