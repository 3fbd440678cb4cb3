// PyTorch's element types, as an archive names them: a legacy typed storage class (torch.FloatStorage), or for
// dtypes added since (uint16, float8_e4m3fn, …) an UntypedStorage paired with the dtype (torch.uint16).

import type { DType } from '../tensor-file.js';

export interface TorchElementType {
  dtype: DType;
  itemSize: number;
}

const numeric = (dtype: DType, itemSize: number): TorchElementType => ({ dtype, itemSize });

const TYPED_STORAGES: Record<string, TorchElementType> = {
  FloatStorage: numeric('float32', 4),
  DoubleStorage: numeric('float64', 8),
  HalfStorage: numeric('float16', 2),
  BFloat16Storage: numeric('bfloat16', 2),
  LongStorage: numeric('int64', 8),
  IntStorage: numeric('int32', 4),
  ShortStorage: numeric('int16', 2),
  CharStorage: numeric('int8', 1),
  ByteStorage: numeric('uint8', 1),
  BoolStorage: numeric('bool', 1),
};

// Typed storages without a numeric meaning here: compared by bytes, so only their width matters.
const RAW_TYPED_STORAGE_BYTES: Record<string, number> = {
  ComplexFloatStorage: 8,
  ComplexDoubleStorage: 16,
  QInt8Storage: 1,
  QUInt8Storage: 1,
  QInt32Storage: 4,
  QUInt4x2Storage: 1,
  QUInt2x4Storage: 1,
};

const NUMERIC_TORCH_DTYPES: Record<string, TorchElementType> = {
  float32: numeric('float32', 4),
  float64: numeric('float64', 8),
  float16: numeric('float16', 2),
  bfloat16: numeric('bfloat16', 2),
  int64: numeric('int64', 8),
  int32: numeric('int32', 4),
  int16: numeric('int16', 2),
  int8: numeric('int8', 1),
  uint8: numeric('uint8', 1),
  uint16: numeric('uint16', 2),
  uint32: numeric('uint32', 4),
  uint64: numeric('uint64', 8),
  bool: numeric('bool', 1),
};

const RAW_TORCH_DTYPE_BYTES: Record<string, number> = {
  complex32: 4,
  complex64: 8,
  complex128: 16,
  float8_e5m2: 1,
  float8_e4m3fn: 1,
  float8_e5m2fnuz: 1,
  float8_e4m3fnuz: 1,
  float8_e8m0fnu: 1,
  float4_e2m1fn_x2: 1,
  bits8: 1,
  bits16: 2,
  bits1x8: 1,
  bits2x4: 1,
  bits4x2: 1,
};

/** A legacy typed storage class (`FloatStorage`); undefined for one this table does not know. */
export function typedStorageElement(storageType: string): TorchElementType | undefined {
  const raw = RAW_TYPED_STORAGE_BYTES[storageType];
  return TYPED_STORAGES[storageType] ?? (raw === undefined ? undefined : { dtype: `raw:${storageType}`, itemSize: raw });
}

/** A torch dtype's name (`uint16`, `float8_e4m3fn`); one this table does not know is compared as bytes. */
export function dtypeElement(dtypeName: string): TorchElementType {
  return NUMERIC_TORCH_DTYPES[dtypeName] ?? { dtype: `raw:${dtypeName}`, itemSize: RAW_TORCH_DTYPE_BYTES[dtypeName] ?? 1 };
}
