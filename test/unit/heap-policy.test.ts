import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { heapSizingChosen } from '../../src/heap-policy.js';

const policy = pathToFileURL(new URL('../../src/heap-policy.ts', import.meta.url).pathname).href;

// Objects that survive a few collections, as a record's parse makes them: V8 grows its young generation for them.
const WORKLOAD = `
const { preferSmallHeap } = await import(${JSON.stringify(policy)});
const v8 = await import('node:v8');
preferSmallHeap();
let kept = [];
for (let i = 0; i < 3_000_000; i++) { kept.push({ i, text: 'item-' + i }); if (kept.length > 200_000) kept = []; }
const newSpace = v8.getHeapSpaceStatistics().find((space) => space.space_name === 'new_space').space_size;
console.log(JSON.stringify({ newSpaceMB: newSpace / 1048576, rssMB: process.memoryUsage().rss / 1048576 }));
`;

function heapAfterWorkload(nodeFlags: string[]): { newSpaceMB: number; rssMB: number } {
  const result = spawnSync(process.execPath, [...nodeFlags, '--input-type=module', '-e', WORKLOAD], { encoding: 'utf8' });
  expect(result.status, result.stderr).toBe(0);
  return JSON.parse(result.stdout.trim().split('\n').at(-1)!) as { newSpaceMB: number; rssMB: number };
}

describe('heap policy', () => {
  it('leaves the sizing to node when it was started with --optimize-for-size or --no-optimize-for-size', () => {
    expect(heapSizingChosen(['--no-optimize-for-size'])).toBe(true);
    expect(heapSizingChosen(['--optimize_for_size'])).toBe(true);
    expect(heapSizingChosen([])).toBe(false);
    expect(heapSizingChosen(['--max-old-space-size=4096', '--enable-source-maps'])).toBe(false);
  });

  // Needs node's own TypeScript support to load the module in a fresh process (Node 24, which npm test uses).
  it.skipIf(!process.features.typescript)('keeps the young generation small, unless node was told otherwise', () => {
    const small = heapAfterWorkload([]);
    const chosen = heapAfterWorkload(['--no-optimize-for-size']);
    // Measured here: a young generation of 1-16 MB against 128 MB, and 85-95 MB of RSS against 270-350 MB.
    expect(small.newSpaceMB).toBeLessThan(chosen.newSpaceMB / 4);
    expect(small.rssMB).toBeLessThan(chosen.rssMB / 2);
  });
});
