import type { NumericDType } from '../formats/tensor-file.js';

// Turns a run of little-endian element bytes into numbers the comparison loops read: float32 and float64 as
// views (no copy), everything else converted into a reusable float64 scratch array.

export type Values = Float32Array | Float64Array;

const HALF_TO_FLOAT = (() => {
  // 65,536 entries: every float16 bit pattern decoded once, so a float16 tensor converts by lookup.
  const table = new Float32Array(65536);
  for (let bits = 0; bits < 65536; bits++) {
    const sign = bits & 0x8000 ? -1 : 1;
    const exponent = (bits >> 10) & 0x1f;
    const fraction = bits & 0x3ff;
    if (exponent === 0) table[bits] = sign * fraction * 2 ** -24;
    else if (exponent === 31) table[bits] = fraction === 0 ? sign * Infinity : NaN;
    else table[bits] = sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
  }
  return table;
})();

export class Decoder {
  private scratch = new Float64Array(0);
  private readonly word = new Uint32Array(1);
  private readonly wordAsFloat = new Float32Array(this.word.buffer);

  constructor(private readonly dtype: NumericDType) {}

  /** `bytes` holds whole elements and starts at an offset aligned to the element size. */
  decode(bytes: Uint8Array): Values {
    const { buffer, byteOffset, byteLength } = bytes;
    switch (this.dtype) {
      case 'float32':
        return new Float32Array(buffer, byteOffset, byteLength / 4);
      case 'float64':
        return new Float64Array(buffer, byteOffset, byteLength / 8);
      case 'float16':
        return this.fill(new Uint16Array(buffer, byteOffset, byteLength / 2), (bits) => HALF_TO_FLOAT[bits]!);
      case 'bfloat16':
        // bfloat16 is the top half of a float32.
        return this.fill(new Uint16Array(buffer, byteOffset, byteLength / 2), (bits) => {
          this.word[0] = bits << 16;
          return this.wordAsFloat[0]!;
        });
      case 'int8':
        return this.fill(new Int8Array(buffer, byteOffset, byteLength), Number);
      case 'uint8':
      case 'bool':
        return this.fill(bytes, Number);
      case 'int16':
        return this.fill(new Int16Array(buffer, byteOffset, byteLength / 2), Number);
      case 'uint16':
        return this.fill(new Uint16Array(buffer, byteOffset, byteLength / 2), Number);
      case 'int32':
        return this.fill(new Int32Array(buffer, byteOffset, byteLength / 4), Number);
      case 'uint32':
        return this.fill(new Uint32Array(buffer, byteOffset, byteLength / 4), Number);
      case 'int64':
        return this.fill(new BigInt64Array(buffer, byteOffset, byteLength / 8), Number);
      case 'uint64':
        return this.fill(new BigUint64Array(buffer, byteOffset, byteLength / 8), Number);
    }
  }

  private fill<T extends number | bigint>(source: ArrayLike<T>, convert: (value: T) => number): Float64Array {
    if (this.scratch.length < source.length) this.scratch = new Float64Array(source.length);
    const out = this.scratch;
    for (let i = 0; i < source.length; i++) out[i] = convert(source[i]!);
    return out.subarray(0, source.length);
  }
}
