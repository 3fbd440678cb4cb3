import type { Values } from './decode.js';

/** Summary statistics of a tensor's finite elements, kept in the record so verify can describe a change without the original file. */
export interface TensorStatistics {
  count: number;
  nonfinite: number;
  min: number | null;
  max: number | null;
  mean: number | null;
  l2: number;
}

export class StatisticsAccumulator {
  private count = 0;
  private nonfinite = 0;
  private min = Infinity;
  private max = -Infinity;
  private sum = 0;
  private sumOfSquares = 0;

  add(values: Values): void {
    this.count += values.length;
    // Branch-free first: on real weights min/max branches mispredict half the time. A NaN or ±Infinity anywhere makes
    // the sum non-finite, and only then is the piece walked again element by element.
    let { min, max } = this;
    let sum = 0;
    let sumOfSquares = 0;
    for (let i = 0; i < values.length; i++) {
      const value = values[i]!;
      min = Math.min(min, value);
      max = Math.max(max, value);
      sum += value;
      sumOfSquares += value * value;
    }
    if (Number.isFinite(sum) && Number.isFinite(sumOfSquares)) {
      Object.assign(this, { min, max, sum: this.sum + sum, sumOfSquares: this.sumOfSquares + sumOfSquares });
      return;
    }
    this.addCheckingEach(values);
  }

  private addCheckingEach(values: Values): void {
    let { min, max, sum, sumOfSquares, nonfinite } = this;
    for (let i = 0; i < values.length; i++) {
      const value = values[i]!;
      // value - value is 0 for finite numbers and NaN for NaN and ±Infinity: one branch covers all three.
      if (value - value === 0) {
        if (value < min) min = value;
        if (value > max) max = value;
        sum += value;
        sumOfSquares += value * value;
      } else nonfinite++;
    }
    Object.assign(this, { min, max, sum, sumOfSquares, nonfinite });
  }

  result(): TensorStatistics {
    const finite = this.count - this.nonfinite;
    return {
      count: this.count,
      nonfinite: this.nonfinite,
      min: finite > 0 ? this.min : null,
      max: finite > 0 ? this.max : null,
      mean: finite > 0 ? this.sum / finite : null,
      l2: Math.sqrt(this.sumOfSquares),
    };
  }
}
