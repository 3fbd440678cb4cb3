import type { VenvEntry } from './inventory.js';

export interface EvictionPolicy {
  /** Evict until the cache's total is at most this. */
  maxBytes: number;
  /** A venv never to evict: the one just built. */
  keep?: string;
  /** Venvs used at or after this time are kept: another process may still be running a rerun in them. */
  protectUsedSinceMs?: number;
}

/**
 * Which complete venvs to evict, least recently used first, so the total falls within the bound. Venvs whose
 * lock is held (being built or evicted elsewhere) are never chosen. Pure, so the order is testable on its own.
 */
export function planEviction(venvs: VenvEntry[], totalBytes: number, policy: EvictionPolicy): VenvEntry[] {
  const candidates = venvs
    .filter((venv) => venv.lastUsedMs !== null && venv.key !== policy.keep && venv.lock !== 'held')
    .filter((venv) => policy.protectUsedSinceMs === undefined || venv.lastUsedMs! < policy.protectUsedSinceMs)
    .sort((a, b) => a.lastUsedMs! - b.lastUsedMs! || a.key.localeCompare(b.key));
  const evict: VenvEntry[] = [];
  let total = totalBytes;
  for (const venv of candidates) {
    if (total <= policy.maxBytes) break;
    evict.push(venv);
    total -= venv.bytes;
  }
  return evict;
}
