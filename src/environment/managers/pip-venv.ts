import { access, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { VENV_COMPLETE_MARKER } from '../../constants.js';
import { sha256File } from '../../hashing/sha256.js';
import { cacheBound, enforceCacheBound, keepLockFresh, markUsed, tryLock } from '../cache/index.js';
import { capture } from '../exec.js';
import { assertPythonMatches, type Interpreter, probeInterpreter } from '../interpreter.js';
import { diffPackages } from '../package-diff.js';
import { pipInstall } from '../pip.js';
import { frozenPackages, storeFreeze } from '../frozen-packages.js';
import { changesSinceSealed, makeFilesReadOnly, sealVenv } from '../venv-integrity.js';
import { requirementsInstallLocalPaths } from '../local-requirements.js';
import type { EnvironmentManager, EnvironmentRequest, PreparedEnvironment } from '../types.js';
import { venvCacheKey, venvDirectory, venvLockFile } from '../venv-cache.js';
import { UserError } from '../../errors.js';

type Source = 'built' | 'local-cache' | 'remote-cache';

const LOCK_WAIT_MS = 250;

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

/**
 * A fresh venv with `pip install -r requirements`, cached by key. Venvs are not relocatable, so each one is built
 * in place at its final path, and the completion marker is written last: a folder without it is half-built.
 */
export class PipVenvManager implements EnvironmentManager {
  constructor(
    private readonly request: EnvironmentRequest & { requirementsFile: string },
  ) {}

  async prepare(): Promise<PreparedEnvironment> {
    const { python, requiredPython, requirementsFile, recordedPackages, recordedPlatform, cacheRoot } = this.request;
    const started = performance.now();
    const [interpreter, requirementsSha256] = await Promise.all([probeInterpreter(python), sha256File(requirementsFile)]);
    assertPythonMatches(requiredPython, interpreter, python, this.request.requiredPythonLine);
    const key = venvCacheKey({ requirementsSha256, pythonVersion: interpreter.version, platform: interpreter.platform });
    const local = await requirementsInstallLocalPaths(requirementsFile);
    const dir = local ? await mkdtemp(path.join(tmpdir(), 'repro-gate-venv-')) : venvDirectory(cacheRoot, key);
    if (local) this.request.log(`${this.request.requirementsDisplayPath ?? requirementsFile} installs the project itself: the venv is built for this run only, never cached`);
    const source = local ? await this.buildForThisRunOnly(key, dir, interpreter) : await this.obtain(key, dir, interpreter);
    const venvPython = path.join(dir, 'bin', 'python');
    const frozen = await frozenPackages(dir);
    const packages = recordedPackages ? diffPackages(recordedPackages, frozen) : null;
    const { remoteCache, log } = this.request;
    return {
      binDir: path.join(dir, 'bin'),
      venvDir: dir,
      python: venvPython,
      packages: frozen,
      // Saved only after a rerun that left it intact (see src/environment/venv-integrity.ts).
      saveToRemoteCache:
        source === 'built' && remoteCache && !local
          ? () => remoteCache.save(key, dir).catch((error: unknown) => log(`venv cache save skipped: ${(error as Error).message}`))
          : undefined,
      dispose: local ? () => rm(dir, { recursive: true, force: true }) : undefined,
      report: {
        python: { required: requiredPython, actual: interpreter.version },
        platform: { recorded: recordedPlatform, actual: interpreter.platform },
        venv: { key, source, durationMs: Math.round(performance.now() - started) },
        packages,
      },
    };
  }

  private async obtain(key: string, dir: string, interpreter: Interpreter): Promise<Source> {
    // Read before anything is built, so a bad REPRO_GATE_CACHE_MAX_SIZE fails at once, not after minutes of pip.
    const bound = cacheBound();
    if (await this.intact(key, dir)) {
      await markUsed(dir);
      this.request.log(`venv ${key}: reused from the local cache`);
      return 'local-cache';
    }
    const source = await this.obtainLocked(key, dir, interpreter);
    // Once this venv's lock is released: eviction takes each evicted venv's own lock, and keeps this one.
    if (source !== 'local-cache') await enforceCacheBound(this.request.cacheRoot, bound, key, this.request.log);
    return source;
  }

  private async obtainLocked(key: string, dir: string, interpreter: Interpreter): Promise<Source> {
    const marker = path.join(dir, VENV_COMPLETE_MARKER);
    const lockFile = venvLockFile(dir);
    const release = await this.lock(lockFile);
    const stopRefreshing = keepLockFresh(lockFile);
    try {
      // Another process may have finished building it while this one waited for the lock.
      if (await this.intact(key, dir)) {
        await markUsed(dir);
        return 'local-cache';
      }
      await rm(dir, { recursive: true, force: true });
      if (this.request.remoteCache && (await this.request.remoteCache.restore(key, dir)) && (await exists(marker))) {
        // Restored files get new inode times: the restored venv is what gets sealed.
        await sealVenv(dir);
        await markUsed(dir);
        this.request.log(`venv ${key}: restored from the remote cache`);
        return 'remote-cache';
      }
      await rm(dir, { recursive: true, force: true });
      await this.build(key, dir, interpreter);
      this.request.log(`venv ${key}: built`);
      return 'built';
    } finally {
      stopRefreshing();
      await release();
    }
  }

  /**
   * `python -m venv`, `pip install`, then the completion marker (which also dates the venv's last use). Any failure
   * removes the folder before the error goes on, so a failed build leaves nothing behind in the cache.
   */
  private async build(key: string, dir: string, interpreter: Interpreter): Promise<void> {
    const requirements = this.request.requirementsDisplayPath ?? this.request.requirementsFile;
    this.request.log(`building a venv with Python ${interpreter.version} from ${requirements}`);
    await mkdir(path.dirname(dir), { recursive: true });
    try {
      const created = await capture(interpreter.executable, ['-I', '-m', 'venv', dir]);
      if (created.code !== 0) {
        throw new UserError(`the environment failed to build: python -m venv exited ${created.code}: ${created.stderr.trim()}`, 'Install the venv module for this interpreter (e.g. apt install python3-venv).');
      }
      await pipInstall(path.join(dir, 'bin', 'python'), this.request.requirementsFile, requirements, this.request.cacheRoot, this.request.logDir, this.request.installDir);
      await storeFreeze(dir);
      await makeFilesReadOnly(dir);
      await sealVenv(dir);
      await writeFile(path.join(dir, VENV_COMPLETE_MARKER), `${key}\n`);
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
  }

  private async buildForThisRunOnly(key: string, dir: string, interpreter: Interpreter): Promise<Source> {
    await rm(dir, { recursive: true, force: true });
    await this.build(key, dir, interpreter);
    return 'built';
  }

  /** A complete venv whose files are exactly as they were when it was built; a changed one is rebuilt, never trusted. */
  private async intact(key: string, dir: string): Promise<boolean> {
    if (!(await exists(path.join(dir, VENV_COMPLETE_MARKER)))) return false;
    const changed = await changesSinceSealed(dir);
    if (changed.length === 0) return true;
    this.request.log(`venv ${key}: changed since it was built (${changed.slice(0, 3).join(', ')}${changed.length > 3 ? ', …' : ''}); rebuilding it`);
    return false;
  }

  /** An exclusive lock file, so two verifies building the same key never corrupt each other's venv. */
  private async lock(lockFile: string): Promise<() => Promise<void>> {
    await mkdir(path.dirname(lockFile), { recursive: true });
    // The cache's own lock (a stale one, left by a killed build, is broken), retried until it is free.
    for (;;) {
      const release = await tryLock(lockFile);
      if (release) return release;
      await sleep(LOCK_WAIT_MS);
    }
  }
}
