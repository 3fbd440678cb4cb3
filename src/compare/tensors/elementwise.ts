import type { Values } from './decode.js';
import type { NumericTolerance } from './tolerance.js';

/** How far one tensor is from another, element by element: |a − e| ≤ abs + rel·|e| passes. */
export interface ElementwiseResult {
  total: number;
  mismatched: number;
  /** Largest |a − e| over elements where both are finite (0 when all are equal). */
  maxAbs: number;
  /** Largest |a − e| / |e| over those elements (Infinity where e is 0 and a is not). */
  maxRel: number;
  /** Flat index (in storage order) of the first element beyond tolerance, or null. */
  firstMismatch: number | null;
  /** Every byte equal: the tensor is the baseline's, bit for bit. */
  bitIdentical: boolean;
}

export class ElementwiseAccumulator {
  private mismatched = 0;
  private maxAbs = 0;
  private maxRel = 0;
  private firstMismatch: number | null = null;
  private bitIdentical = true;

  constructor(
    private readonly tolerance: NumericTolerance,
    private total = 0,
  ) {}

  /** Numbers at element offset `start`; `expected` and `actual` have the same length. */
  addValues(expected: Values, actual: Values, start: number): void {
    this.bitIdentical = false;
    // Branch-free first: float noise makes every element differ, and per-element branches would mispredict. The
    // largest excess over the relative part tells whether any element is beyond tolerance; a NaN anywhere poisons
    // the maxima, and only then (or on a mismatch, to count it and find the first) is the piece walked element by element.
    const { abs, rel } = this.tolerance;
    let maxAbs = 0;
    let maxRel = 0;
    let worstExcess = -Infinity;
    for (let i = 0; i < actual.length; i++) {
      const e = expected[i]!;
      const difference = Math.abs(actual[i]! - e);
      const magnitude = Math.abs(e);
      maxAbs = Math.max(maxAbs, difference);
      maxRel = Math.max(maxRel, difference / magnitude);
      worstExcess = Math.max(worstExcess, difference - rel * magnitude);
    }
    if (worstExcess <= abs && Number.isFinite(maxAbs) && !Number.isNaN(maxRel)) {
      this.maxAbs = Math.max(this.maxAbs, maxAbs);
      this.maxRel = Math.max(this.maxRel, maxRel);
      return;
    }
    this.addCheckingEach(expected, actual, start);
  }

  private addCheckingEach(expected: Values, actual: Values, start: number): void {
    const { abs, rel, equalNan } = this.tolerance;
    let { maxAbs, maxRel } = this;
    for (let i = 0; i < actual.length; i++) {
      const a = actual[i]!;
      const e = expected[i]!;
      if (a === e) continue;
      if (a !== a || e !== e) {
        if (!(equalNan && a !== a && e !== e)) this.mismatch(start + i);
        continue;
      }
      const difference = Math.abs(a - e);
      // Infinity − Infinity is NaN and Infinity − x is Infinity: both fail the bound below, as they must.
      if (difference - difference === 0) {
        const relative = difference / Math.abs(e);
        if (difference > maxAbs) maxAbs = difference;
        if (relative > maxRel) maxRel = relative;
      }
      if (!(difference <= abs + rel * Math.abs(e))) this.mismatch(start + i);
    }
    this.maxAbs = maxAbs;
    this.maxRel = maxRel;
  }

  /**
   * Exact comparison of whole elements by their bytes (integers under an exact tolerance, where a 64-bit value can
   * exceed a double's precision, and raw dtypes); `numbers`, when the dtype has them, give the figures.
   */
  addBytes(expected: Uint8Array, actual: Uint8Array, itemSize: number, start: number, numbers?: { expected: Values; actual: Values }): void {
    this.bitIdentical = false;
    for (let element = 0, offset = 0; offset < actual.length; element++, offset += itemSize) {
      let same = true;
      for (let k = 0; k < itemSize; k++) {
        if (actual[offset + k] !== expected[offset + k]) {
          same = false;
          break;
        }
      }
      if (same) continue;
      this.mismatch(start + element);
      if (numbers) {
        const e = numbers.expected[element]!;
        const difference = Math.abs(numbers.actual[element]! - e);
        this.maxAbs = Math.max(this.maxAbs, difference);
        this.maxRel = Math.max(this.maxRel, difference / Math.abs(e));
      }
    }
  }

  count(elements: number): void {
    this.total += elements;
  }

  result(): ElementwiseResult {
    return { total: this.total, mismatched: this.mismatched, maxAbs: this.maxAbs, maxRel: this.maxRel, firstMismatch: this.firstMismatch, bitIdentical: this.bitIdentical };
  }

  private mismatch(index: number): void {
    this.mismatched++;
    this.firstMismatch ??= index;
  }
}
