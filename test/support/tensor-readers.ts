import { createHash } from 'node:crypto';
import { expect, it } from 'vitest';
import { TENSOR_CHUNK_BYTES, type TensorEntry, type TensorFile } from '../../src/compare/formats/tensor-file.js';
import { UserError } from '../../src/errors.js';

// What the tensor readers' tests share: a reader's output streamed and summarised the way the fixture scripts
// describe each tensor (so the two compare with toEqual), and the one way a bad file must fail.

/** A tensor as a fixture script reports it: the sha256 and length of its elements little-endian in storage order. */
export interface ExpectedTensor {
  name: string;
  dtype: string;
  shape: number[];
  sha256: string;
  byteLength: number;
}

/** A tensor as a reader yielded it, with the size of every chunk it streamed. */
export interface ReadTensor extends ExpectedTensor {
  itemSize: number;
  chunkSizes: number[];
}

/** Everything a reader yields, every chunk streamed and hashed, the file closed (twice: that must be safe). */
export async function readAll(file: TensorFile): Promise<ReadTensor[]> {
  try {
    const tensors: ReadTensor[] = [];
    for (const tensor of file.tensors) {
      const hash = createHash('sha256');
      const chunkSizes: number[] = [];
      for await (const chunk of tensor.chunks()) {
        hash.update(chunk);
        chunkSizes.push(chunk.length);
      }
      const { name, dtype, shape, itemSize, byteLength } = tensor;
      tensors.push({ name, dtype, shape, itemSize, byteLength, sha256: hash.digest('hex'), chunkSizes });
    }
    return tensors;
  } finally {
    await file.close();
    await file.close();
  }
}

/** The fields of a read tensor that a fixture script reports. */
const summary = ({ name, dtype, shape, sha256, byteLength }: ExpectedTensor): ExpectedTensor => ({ name, dtype, shape, sha256, byteLength });

/** The chunks add up to the tensor, each non-empty, within TENSOR_CHUNK_BYTES and made of whole elements. */
export function expectWellChunked(tensor: ReadTensor): void {
  expect(tensor.chunkSizes.reduce((sum, size) => sum + size, 0)).toBe(tensor.byteLength);
  for (const size of tensor.chunkSizes) {
    expect(size).toBeGreaterThan(0);
    expect(size).toBeLessThanOrEqual(TENSOR_CHUNK_BYTES);
    expect(size % tensor.itemSize).toBe(0);
  }
}

/** The reader yielded exactly the tensors the fixture script reports, in that order, each in well-formed chunks. */
export function expectAsReported(read: ReadTensor[], reported: ExpectedTensor[]): void {
  expect(read.map(summary)).toEqual(reported);
  read.forEach(expectWellChunked);
}

/** One tensor's bytes, concatenated, and the size of each chunk they came in (copied: a reader may reuse its chunks). */
export async function bytesOf(tensor: TensorEntry): Promise<{ bytes: Buffer; chunkSizes: number[] }> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of tensor.chunks()) chunks.push(chunk.slice());
  return { bytes: Buffer.concat(chunks), chunkSizes: chunks.map((chunk) => chunk.length) };
}

/** The error `opening` fails with, which must be a UserError (never a crash or another error type). */
export async function rejection(opening: Promise<unknown>): Promise<UserError> {
  const error = await opening.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(UserError);
  return error as UserError;
}

/** The UserError a bad file fails with, whether while opening or while its tensors are streamed. */
export async function readFailure(opening: Promise<TensorFile>): Promise<UserError> {
  return rejection(opening.then(readAll));
}

/**
 * One test a case [file name, phrase]: the bad file, shown as `shown/as/<name>`, fails while opening or streaming with
 * a UserError whose message names it and holds the phrase, and whose hint says what to do.
 */
export function refusesEachBadFile(cases: Array<[string, string]>, open: (name: string, displayPath: string) => Promise<TensorFile>): void {
  it.each(cases)('%s fails with a UserError naming it (%s)', async (name, phrase) => {
    const displayPath = `shown/as/${name}`;
    const error = await readFailure(open(name, displayPath));
    expect(error.message).toContain(displayPath);
    expect(error.message).toContain(phrase);
    expect(error.hint).toBeTruthy();
  });
}
