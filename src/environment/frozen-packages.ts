import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { VENV_FREEZE_FILE } from '../constants.js';
import { pipFreeze } from './pip.js';

// `pip freeze` of a venv costs a Python start and pip's import (most of a cached venv's preparation). A cached venv
// never changes once sealed (its fingerprint, which covers this file, is checked on every reuse), so its freeze is
// taken once, when it is built, and read back afterwards.

const Frozen = z.record(z.string().max(200), z.string().max(200));

/** Lists a venv's packages: pip's freeze, or uv's for a venv without pip. */
export type Freeze = (dir: string) => Promise<Record<string, string>>;

export const freezeWithPip: Freeze = (dir) => pipFreeze(path.join(dir, 'bin', 'python'));

/** Written into a venv being built, before it is sealed. */
export async function storeFreeze(dir: string, freeze: Freeze): Promise<void> {
  await writeFile(path.join(dir, VENV_FREEZE_FILE), JSON.stringify(await freeze(dir)));
}

/** The venv's packages: as stored when it was built, or (a venv built before this file existed) listed again. */
export async function frozenPackages(dir: string, freeze: Freeze): Promise<Record<string, string>> {
  const text = await readFile(path.join(dir, VENV_FREEZE_FILE), 'utf8').catch(() => undefined);
  let stored: ReturnType<typeof Frozen.safeParse> | undefined;
  try {
    stored = text === undefined ? undefined : Frozen.safeParse(JSON.parse(text));
  } catch {
    stored = undefined;
  }
  return stored?.success ? stored.data : freeze(dir);
}
