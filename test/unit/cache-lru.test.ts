import { describe, expect, it } from 'vitest';
import { planEviction } from '../../src/environment/cache/eviction-plan.js';
import type { VenvEntry } from '../../src/environment/cache/index.js';

const HOUR = 3_600_000;
const NOW = Date.UTC(2026, 0, 1);

function venv(key: string, hoursAgo: number, bytes: number, lock: VenvEntry['lock'] = 'free'): VenvEntry {
  return { key, dir: `/cache/venvs/${key}`, bytes, lastUsedMs: NOW - hoursAgo * HOUR, lock };
}

const keys = (entries: VenvEntry[]) => entries.map((entry) => entry.key);

describe('least-recently-used eviction plan', () => {
  const venvs = [venv('b-middle', 5, 300), venv('c-newest', 1, 300), venv('a-oldest', 30, 300)];

  it('evicts oldest first, and only until the total is within the bound', () => {
    expect(keys(planEviction(venvs, 900, { maxBytes: 900 }))).toEqual([]);
    expect(keys(planEviction(venvs, 900, { maxBytes: 899 }))).toEqual(['a-oldest']);
    expect(keys(planEviction(venvs, 900, { maxBytes: 600 }))).toEqual(['a-oldest']);
    expect(keys(planEviction(venvs, 900, { maxBytes: 599 }))).toEqual(['a-oldest', 'b-middle']);
    expect(keys(planEviction(venvs, 900, { maxBytes: 0 }))).toEqual(['a-oldest', 'b-middle', 'c-newest']);
  });

  it('counts bytes that are not venvs (pip downloads) in the total without evicting them', () => {
    expect(keys(planEviction(venvs, 900 + 500, { maxBytes: 900 }))).toEqual(['a-oldest', 'b-middle']);
  });

  it('never evicts the venv just built, even when it is the oldest', () => {
    expect(keys(planEviction(venvs, 900, { maxBytes: 0, keep: 'a-oldest' }))).toEqual(['b-middle', 'c-newest']);
  });

  it('never evicts a venv whose lock is held; a stale lock does not protect it', () => {
    const locked = [venv('a-oldest', 30, 300, 'held'), venv('b-middle', 5, 300, 'stale'), venv('c-newest', 1, 300)];
    expect(keys(planEviction(locked, 900, { maxBytes: 300 }))).toEqual(['b-middle', 'c-newest']);
  });

  it('keeps venvs used since the protection time (perhaps still running), even past the bound', () => {
    expect(keys(planEviction(venvs, 900, { maxBytes: 0, protectUsedSinceMs: NOW - 2 * HOUR }))).toEqual(['a-oldest', 'b-middle']);
  });

  it('breaks ties in last use by key, so the order is the same on every run', () => {
    const tied = [venv('z', 3, 100), venv('m', 3, 100), venv('a', 3, 100)];
    expect(keys(planEviction(tied, 300, { maxBytes: 100 }))).toEqual(['a', 'm']);
  });

  it('leaves folders without a last use (half-built) to the pruner', () => {
    const halfBuilt: VenvEntry = { ...venv('half', 100, 300), lastUsedMs: null };
    expect(keys(planEviction([halfBuilt, ...venvs], 1200, { maxBytes: 0 }))).toEqual(['a-oldest', 'b-middle', 'c-newest']);
  });
});
