import { mkdir, symlink } from 'node:fs/promises';
import path from 'node:path';
import { UV_PINNED_VERSION } from '../../src/constants.js';
import { sharedVenvPython } from './shared-venv.js';
import { runSharedFolder } from './temp/run-shared.js';

/**
 * A folder holding only `uv` (the pinned release, installed with pip into a shared tool venv), to put on PATH the way
 * astral-sh/setup-uv does. The venv's own bin folder would put its python first on PATH too.
 */
export async function uvOnPath(): Promise<string> {
  const python = await sharedVenvPython([`uv==${UV_PINNED_VERSION}`]);
  const folder = runSharedFolder('uv-bin');
  await mkdir(folder, { recursive: true });
  await symlink(path.join(path.dirname(python), 'uv'), path.join(folder, 'uv')).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EEXIST') throw error;
  });
  return `${folder}${path.delimiter}${process.env.PATH ?? ''}`;
}
