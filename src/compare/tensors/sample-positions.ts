import { FINGERPRINT_SAMPLE_COUNT } from '../../constants.js';

/**
 * The fixed pseudo-random element positions a sampled fingerprint keeps: a function of the element count only, so
 * record and verify pick the same ones. Sorted ascending for a single streaming pass; every element when there are
 * no more than the sample count.
 */
export function samplePositions(count: number, sampleCount = FINGERPRINT_SAMPLE_COUNT): Float64Array {
  if (count <= sampleCount) return Float64Array.from({ length: count }, (_, i) => i);
  // splitmix64 on 32-bit halves would be overkill: mulberry32 seeded by the count spreads positions evenly enough.
  let state = (count % 4294967296) ^ 0x9e3779b9;
  const next = () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const chosen = new Set<number>();
  while (chosen.size < sampleCount) chosen.add(Math.floor(next() * count));
  return Float64Array.from(chosen).sort();
}
