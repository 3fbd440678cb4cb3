import { PROGRESS_AFTER_ENV, PROGRESS_AFTER_MS, PROGRESS_EVERY_MS } from '../constants.js';
import { hashPool, type PoolCounters } from '../hashing/pool/hash-pool.js';
import { formatSize } from '../environment/cache/size-notation.js';
import type { PipelineHooks } from './hooks.js';

// Progress of long hashing and copying: a stage that keeps the hash pool busy for more than PROGRESS_AFTER_MS gets a
// line (files done of those queued, bytes, throughput), then one at most every PROGRESS_EVERY_MS in a log, or one
// line updated in place in a terminal. A stage that hashes nothing, or finishes quickly, prints nothing.

/** How often a terminal's one line is redrawn. */
const TERMINAL_EVERY_MS = 500;

export interface ProgressReading {
  files: number;
  total: number;
  bytes: number;
  elapsedMs: number;
}

/** Pure: "12,345 of 20,000 files · 312 MiB · 104 MiB/s". */
export function formatProgress(reading: ProgressReading): string {
  const rate = reading.elapsedMs > 0 ? reading.bytes / (reading.elapsedMs / 1000) : 0;
  return `${reading.files.toLocaleString('en-US')} of ${reading.total.toLocaleString('en-US')} files · ${formatSize(reading.bytes)} · ${formatSize(rate)}/s`;
}

/** The wait before the first line: PROGRESS_AFTER_MS, or a whole number of ms in PROGRESS_AFTER_ENV (tests). */
export function progressAfterMs(env: NodeJS.ProcessEnv = process.env): number {
  const given = Number(env[PROGRESS_AFTER_ENV]);
  return env[PROGRESS_AFTER_ENV] !== undefined && Number.isSafeInteger(given) && given >= 0 ? given : PROGRESS_AFTER_MS;
}

function since(start: PoolCounters, now: PoolCounters): Omit<ProgressReading, 'elapsedMs'> {
  return { files: now.completed - start.completed, total: now.submitted - start.submitted, bytes: now.bytes - start.bytes };
}

/** Runs `work`, reporting the hash pool's progress through `hooks.progress` while it is long. */
export async function withProgress<T>(label: string, hooks: PipelineHooks, work: () => Promise<T>): Promise<T> {
  const counters = hashPool().counters;
  const start = { ...counters };
  const started = performance.now();
  const afterMs = progressAfterMs();
  const everyMs = hooks.updatesInPlace ? TERMINAL_EVERY_MS : PROGRESS_EVERY_MS;
  let shownAt: number | undefined;
  const show = (final: boolean) => {
    const reading = { ...since(start, counters), elapsedMs: performance.now() - started };
    hooks.progress(`${label}: ${formatProgress(reading)}`, final);
  };
  const timer = setInterval(() => {
    const now = performance.now();
    // Only while work of this stage's is under way: a stage that hashed one file and then waits (pip) shows nothing.
    if (now - started < afterMs || since(start, counters).total === 0 || counters.completed === counters.submitted) return;
    if (shownAt !== undefined && now - shownAt < everyMs) return;
    shownAt = now;
    show(false);
  }, Math.max(10, Math.min(afterMs, TERMINAL_EVERY_MS)));
  timer.unref();
  try {
    return await work();
  } finally {
    clearInterval(timer);
    // Once a line was shown, the last one says where it ended.
    if (shownAt !== undefined) show(true);
  }
}
