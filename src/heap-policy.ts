import v8 from 'node:v8';

// Live objects stay small even on a large record (about 20 MB for 10,000 artifacts or 20,000 data files), but V8's
// defaults on Node 24 size the heap for throughput: a young generation that grows to 64 MB as soon as many objects
// survive (parsing a record of 10,000 entries), and an old generation collected late. Such a verify peaked at
// 245-310 MB of RSS. V8's --optimize-for-size keeps both small: the same verify peaks at 165-185 MB; parsing a 1 MB
// record takes ~0.25 s longer, and comparing two 256 MiB tensor files ~10% (`npm run bench` prints the figures).
// V8 reads the flag as the heap grows, so setting it first thing, before any large allocation, is enough.

const SIZING_FLAG = /^--(no-)?optimize[-_]for[-_]size$/;

/** Whether node was started with the flag either way (NODE_OPTIONS cannot carry it): that choice stands. */
export function heapSizingChosen(execArgv: readonly string[]): boolean {
  return execArgv.some((arg) => SIZING_FLAG.test(arg));
}

/** Call first thing in an entry point: favour a small heap over allocation speed, unless node was told otherwise. */
export function preferSmallHeap(): void {
  if (!heapSizingChosen(process.execArgv)) v8.setFlagsFromString('--optimize-for-size');
}
