import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { mapConcurrently } from '../../src/map-concurrently.js';

describe('mapConcurrently', () => {
  it('maps every item in order, starting the next as one ends, never more than the limit at once', async () => {
    let running = 0;
    let most = 0;
    const items = Array.from({ length: 50 }, (_, i) => i);
    const results = await mapConcurrently(
      items,
      async (item) => {
        running += 1;
        most = Math.max(most, running);
        // Uneven durations: a window that waited for its slowest item would not keep 4 running.
        await sleep((item * 7) % 5);
        running -= 1;
        return item * 2;
      },
      4,
    );
    expect(results).toEqual(items.map((item) => item * 2));
    expect(most).toBe(4);
  });

  it('starts nothing after a failure, and throws only once the items under way have ended', async () => {
    const started: number[] = [];
    const ended: number[] = [];
    const failing = mapConcurrently(
      Array.from({ length: 20 }, (_, i) => i),
      async (item) => {
        started.push(item);
        if (item === 2) throw new Error('item 2 failed');
        await sleep(20);
        ended.push(item);
        return item;
      },
      3,
    );
    await expect(failing).rejects.toThrow('item 2 failed');
    // 0 and 1 were under way when 2 failed: they ended before the error reached the caller, and nothing else started.
    expect(started).toEqual([0, 1, 2]);
    expect(ended.sort()).toEqual([0, 1]);
  });

  it('returns an empty list for no items, and refuses a limit that would run nothing', async () => {
    expect(await mapConcurrently([], async () => 1)).toEqual([]);
    for (const limit of [0, -1, Number.NaN, 1.5]) await expect(mapConcurrently([1], async (item) => item, limit)).rejects.toThrow(RangeError);
  });
});
