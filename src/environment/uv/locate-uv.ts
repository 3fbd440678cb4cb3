import { mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { UV_PINNED_VERSION } from '../../constants.js';
import { UserError } from '../../errors.js';
import { keepLockFresh, waitForLock } from '../cache/index.js';
import { capture } from '../exec.js';
import { pipEnvironment } from '../pip.js';
import { toolsDirectory } from '../venv-cache.js';

const PARTIAL = '.partial-';

export interface Uv {
  executable: string;
  /** e.g. 0.13.9: part of every uv-built venv's cache key. */
  version: string;
}

async function uvAt(executable: string): Promise<Uv | undefined> {
  const result = await capture(executable, ['--version']);
  const version = result.code === 0 ? /^uv (\S+)/.exec(result.stdout.trim())?.[1] : undefined;
  return version ? { executable, version } : undefined;
}

/**
 * The uv on PATH (what astral-sh/setup-uv puts there), or else a pinned uv that repro-gate installs with the given
 * interpreter's pip into its own cache folder, once per cache: never into the user's environment.
 */
export async function locateUv(options: { cacheRoot: string; python: string; log: (line: string) => void }): Promise<Uv> {
  const onPath = await uvAt('uv');
  if (onPath) return onPath;
  const dir = path.join(toolsDirectory(options.cacheRoot), `uv-${UV_PINNED_VERSION}`);
  const executable = path.join(dir, 'bin', 'uv');
  const installed = await uvAt(executable);
  if (installed) return installed;
  const release = await waitForLock(`${dir}.lock`);
  const stopRefreshing = keepLockFresh(`${dir}.lock`);
  try {
    // Another process may have installed it while this one waited.
    const ready = await uvAt(executable);
    if (ready) return ready;
    options.log(`no uv on PATH: installing uv ${UV_PINNED_VERSION} with pip into ${dir} (put uv on PATH, e.g. with astral-sh/setup-uv, to use your own)`);
    // Installed beside its final place and renamed into it, so a killed install never leaves a broken uv behind;
    // what a killed one left is removed here, under the lock.
    const leftovers = (await readdir(path.dirname(dir))).filter((name) => name.startsWith(`${path.basename(dir)}${PARTIAL}`));
    await Promise.all(leftovers.map((name) => rm(path.join(path.dirname(dir), name), { recursive: true, force: true })));
    const staging = await mkdtemp(`${dir}${PARTIAL}`);
    try {
      const args = ['-I', '-m', 'pip', 'install', '--no-input', '--disable-pip-version-check', '--no-deps', '--target', staging, `uv==${UV_PINNED_VERSION}`];
      const result = await capture(options.python, args, pipEnvironment(options.cacheRoot));
      if (result.code !== 0) {
        throw new UserError(
          `uv is not on PATH, and installing uv ${UV_PINNED_VERSION} with pip failed (exit ${result.code}): ${result.stderr.trim().split('\n').at(-1) ?? ''}`,
          'Install uv before repro-gate runs (astral-sh/setup-uv in a workflow, or `pip install uv`), or make PyPI reachable.',
        );
      }
      await rm(dir, { recursive: true, force: true });
      await rename(staging, dir);
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
    const fresh = await uvAt(executable);
    if (!fresh) throw new UserError(`the uv installed into ${dir} does not run`, `Remove ${dir} and try again, or put uv on PATH.`);
    return fresh;
  } finally {
    stopRefreshing();
    await release();
  }
}
