import { mkdir, open, rm, stat, utimes } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

// A build lock's holder refreshes its mtime while it works, so a lock left by a killed process is recognised
// within minutes instead of blocking the next build for as long as the longest build could take.
export const LOCK_HEARTBEAT_MS = 20_000;
export const LOCK_STALE_MS = 2 * 60_000;
const LOCK_WAIT_MS = 250;

export type LockState = 'free' | 'held' | 'stale';

export async function lockState(lockFile: string, now = Date.now()): Promise<LockState> {
  const stats = await stat(lockFile).catch(() => null);
  if (!stats) return 'free';
  return now - stats.mtimeMs > LOCK_STALE_MS ? 'stale' : 'held';
}

/** Keeps a held lock fresh until the returned function is called. */
export function keepLockFresh(lockFile: string): () => void {
  const timer = setInterval(() => {
    const now = new Date();
    utimes(lockFile, now, now).catch(() => undefined);
  }, LOCK_HEARTBEAT_MS);
  timer.unref();
  return () => clearInterval(timer);
}

/** Takes the lock if nobody holds it (a stale one is broken); never waits. Returns its release, or null. */
export async function tryLock(lockFile: string): Promise<(() => Promise<void>) | null> {
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      const handle = await open(lockFile, 'wx');
      await handle.close();
      return () => rm(lockFile, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if ((await lockState(lockFile)) !== 'stale') return null;
      await rm(lockFile, { force: true });
    }
  }
  return null;
}

/** Waits until the lock is free and takes it (a stale one, left by a killed build, is broken). */
export async function waitForLock(lockFile: string): Promise<() => Promise<void>> {
  await mkdir(path.dirname(lockFile), { recursive: true });
  for (;;) {
    const release = await tryLock(lockFile);
    if (release) return release;
    await sleep(LOCK_WAIT_MS);
  }
}
