import { access, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { VENV_COMPLETE_MARKER } from '../../constants.js';
import type { EnvironmentReport } from '../../report/schema.js';
import { cacheBound, enforceCacheBound, keepLockFresh, markUsed, type ProtectedCache, waitForLock } from '../cache/index.js';
import { type Freeze, frozenPackages, storeFreeze } from '../frozen-packages.js';
import { assertPythonMatches, type Interpreter, probeInterpreter } from '../interpreter.js';
import { diffPackages } from '../package-diff.js';
import type { EnvironmentManager, EnvironmentRequest, PreparedEnvironment } from '../types.js';
import { changesSinceSealed, makeFilesReadOnly, sealVenv } from '../venv-integrity.js';
import { downloadFolders, venvDirectory, venvLockFile } from '../venv-cache.js';

type Source = 'built' | 'local-cache' | 'remote-cache';
type VenvReport = NonNullable<EnvironmentReport['venv']>;

/** What one installer decides for one record: the venv's key, and whether it may be cached at all. */
export interface VenvPlan {
  key: string;
  /** Requirements that install the project itself: the venv is built for this run only, never cached. */
  thisRunOnly: boolean;
  /** What the reader should know about this build (installer, uv version). */
  describe: Pick<VenvReport, 'installer' | 'uvVersion'>;
}

/**
 * What the rerun can reach in the cache folder (it finds it from the venv's path) that later builds trust without
 * checking: repro-gate's uv, and the download caches (uv copies its unpacked files into venvs as they are). A download
 * cache the user set (PIP_CACHE_DIR, UV_CACHE_DIR) is theirs: other processes may write to it while the rerun runs.
 */
export function protectedCache(cacheRoot: string): ProtectedCache {
  const own = downloadFolders(cacheRoot).filter((folder) => !(folder.userVariable && process.env[folder.userVariable]));
  return { root: cacheRoot, folders: own.map((folder) => folder.dir) };
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

/**
 * A fresh venv, cached by key; each installer (pip, uv pip, uv sync) is one small subclass that says how the venv
 * is keyed, built and listed. Venvs are not relocatable, so each one is built in place at its final path, and the
 * completion marker is written last: a folder without it is half-built.
 */
export abstract class CachedVenvManager implements EnvironmentManager {
  constructor(protected readonly request: EnvironmentRequest) {}

  /** The key and cacheability of this record's venv; called once the interpreter is known and checked. */
  protected abstract plan(interpreter: Interpreter): Promise<VenvPlan>;
  /** Creates the venv at `dir` and installs into it; the base class seals it. */
  protected abstract install(dir: string, interpreter: Interpreter): Promise<void>;
  protected abstract readonly freeze: Freeze;
  /** What the rerun needs besides the venv (a uv project's own code on the path). */
  protected rerunAdditions(_dir: string): Pick<PreparedEnvironment, 'importPaths' | 'variables' | 'toolBinDir'> {
    return {};
  }

  async prepare(): Promise<PreparedEnvironment> {
    const { python, requiredPython, recordedPackages, recordedPlatform, cacheRoot } = this.request;
    const started = performance.now();
    const interpreter = await probeInterpreter(python);
    assertPythonMatches(requiredPython, interpreter, python, this.request.requiredPythonLine);
    const plan = await this.plan(interpreter);
    const { key, thisRunOnly } = plan;
    const dir = thisRunOnly ? await mkdtemp(path.join(tmpdir(), 'repro-gate-venv-')) : venvDirectory(cacheRoot, key);
    const source = thisRunOnly ? await this.buildForThisRunOnly(key, dir, interpreter) : await this.obtain(key, dir, interpreter);
    const frozen = await frozenPackages(dir, this.freeze);
    const packages = recordedPackages ? diffPackages(recordedPackages, frozen) : null;
    const { remoteCache, log } = this.request;
    return {
      binDir: path.join(dir, 'bin'),
      venvDir: dir,
      python: path.join(dir, 'bin', 'python'),
      packages: frozen,
      ...this.rerunAdditions(dir),
      protectedCache: protectedCache(cacheRoot),
      // Saved only after a rerun that left it intact (see src/environment/venv-integrity.ts).
      saveToRemoteCache:
        source === 'built' && remoteCache && !thisRunOnly
          ? async () => {
              // As sealed, not only as the rerun found it: nothing (a process left by the build) changed it since.
              const changed = await changesSinceSealed(dir);
              if (changed.length > 0) return log(`venv cache save skipped: the venv changed since it was built (${changed.slice(0, 3).join(', ')})`);
              await remoteCache.save(key, dir).catch((error: unknown) => log(`venv cache save skipped: ${(error as Error).message}`));
            }
          : undefined,
      dispose: thisRunOnly ? () => rm(dir, { recursive: true, force: true }) : undefined,
      report: {
        python: { required: requiredPython, actual: interpreter.version },
        platform: { recorded: recordedPlatform, actual: interpreter.platform },
        venv: { key, source, durationMs: Math.round(performance.now() - started), ...plan.describe },
        packages,
      },
    };
  }

  private async obtain(key: string, dir: string, interpreter: Interpreter): Promise<Source> {
    // Read before anything is built, so a bad REPRO_GATE_CACHE_MAX_SIZE fails at once, not after minutes of installing.
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
    // An exclusive lock file, so two verifies building the same key never corrupt each other's venv.
    const lockFile = venvLockFile(dir);
    const release = await waitForLock(lockFile);
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
   * The installer's work, the stored package list, then the completion marker (which also dates the venv's last use).
   * Any failure removes the folder before the error goes on, so a failed build leaves nothing behind in the cache.
   */
  private async build(key: string, dir: string, interpreter: Interpreter): Promise<void> {
    await mkdir(path.dirname(dir), { recursive: true });
    try {
      await this.install(dir, interpreter);
      await storeFreeze(dir, this.freeze);
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
}
