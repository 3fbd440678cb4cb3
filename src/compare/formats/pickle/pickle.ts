import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { UserError } from '../../../errors.js';
import { elementChunks, fileRangeSource, openRegularFile, readPrefix, type OpenedFile } from '../byte-source.js';
import { tensorByteLength } from '../safetensors.js';
import { type DType, isNumericDType, itemSizeOf, NUMERIC_DTYPES, type TensorEntry, type TensorFile } from '../tensor-file.js';
import { PICKLE_HELPER_EXIT_FAILURE, PICKLE_HELPER_SOURCE } from './pickle-helper-source.js';

// A pickle or joblib file (scikit-learn and friends) is read by the Python helper, run by the rebuilt venv's
// interpreter in the sandbox: unpickling runs the file's code, and only the project's own environment can import its
// classes. The helper writes an index and the tensors' bytes into a folder made here; both are as untrusted as the
// model (the model's code ran in that process), so the index is validated against the bytes file before anything
// is read, like any other file format.

/** Runs the venv's python with `args`, in the sandbox and with the rerun's environment; `stderr` may be truncated by the caller. */
export type PythonRunner = (args: string[]) => Promise<{ exitCode: number | null; stderr: string }>;

/** The helper's own bound, with room for the parameters listed beside the tensors. */
const MAX_INDEX_ENTRIES = 200_000;
const MAX_INDEX_BYTES = 64 * 1024 * 1024;
const MAX_NAME_CHARS = 10_000;
const MAX_ITEM_SIZE = 1024 * 1024;
const MAX_DIMENSIONS = 64;
const MAX_REASON_CHARS = 1_000;

const IndexSchema = z.object({
  format: z.literal('pickle'),
  tensors: z
    .array(
      z.object({
        name: z.string().min(1).max(MAX_NAME_CHARS),
        dtype: z.union([z.enum(NUMERIC_DTYPES), z.templateLiteral(['raw:', z.string().min(1).max(100)])]),
        shape: z.array(z.int().nonnegative()).max(MAX_DIMENSIONS),
        itemsize: z.int().min(1).max(MAX_ITEM_SIZE),
        offset: z.int().nonnegative(),
        length: z.int().nonnegative(),
      }),
    )
    .max(MAX_INDEX_ENTRIES),
  parameters: z
    .record(z.string().max(MAX_NAME_CHARS), z.string())
    .refine((parameters) => Object.keys(parameters).length <= MAX_INDEX_ENTRIES, `more than ${MAX_INDEX_ENTRIES} parameters`),
});
type IndexEntry = z.infer<typeof IndexSchema>['tensors'][number];

const PICKLE_HINT =
  'The file must be a pickle or joblib dump that the pinned environment can load: pin every package the model needs (scikit-learn, its dependencies, your own modules in the repository), or compare it with `compare: exact`.';

function helperFailed(displayPath: string, reason: string, hint = PICKLE_HINT): UserError {
  return new UserError(`${displayPath}: the model could not be read: ${reason}`, hint);
}

/** The helper's failure line (its last line of stderr: libraries may print warnings before it), bounded. */
function failureReason(exitCode: number | null, stderr: string): string {
  const line = stderr.trimEnd().split('\n').at(-1)?.trim() ?? '';
  const reason = line.length > MAX_REASON_CHARS ? `${line.slice(0, MAX_REASON_CHARS)}…` : line;
  if (exitCode === PICKLE_HELPER_EXIT_FAILURE && reason) return reason;
  const how = exitCode === null ? 'was killed by a signal' : `exited with code ${exitCode}`;
  return reason ? `the reading helper ${how}: ${reason}` : `the reading helper ${how}`;
}

async function readIndex(outDir: string, displayPath: string): Promise<z.infer<typeof IndexSchema>> {
  const file = await openRegularFile(path.join(outDir, 'index.json'), `${displayPath} (the helper's index)`);
  let text: string;
  try {
    const { size } = file.source;
    if (size > MAX_INDEX_BYTES) throw helperFailed(displayPath, `the helper's index is ${size} bytes, over the ${MAX_INDEX_BYTES}-byte limit`);
    text = Buffer.from(await readPrefix(file.source, size)).toString('utf8');
  } finally {
    await file.close();
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw helperFailed(displayPath, `the helper's index is not valid JSON (${(error as Error).message})`);
  }
  const index = IndexSchema.safeParse(parsed);
  if (!index.success) {
    const issue = index.error.issues[0];
    throw helperFailed(displayPath, `the helper's index is invalid at ${issue?.path.join('.') || 'the top level'}: ${issue?.message}`);
  }
  return index.data;
}

/** `dataPath` names the helper's bytes file in read errors; `displayPath` names the model in every other message. */
function describeEntries(entries: IndexEntry[], data: OpenedFile, dataPath: string, displayPath: string): TensorEntry[] {
  const dataBytes = data.source.size;
  const names = new Set<string>();
  const tensors = entries.map((entry): TensorEntry => {
    const problem = (what: string) => helperFailed(displayPath, `the helper's index entry "${entry.name}" ${what}`);
    const dtype = entry.dtype as DType;
    if (names.has(entry.name)) throw problem('appears twice');
    names.add(entry.name);
    if (isNumericDType(dtype) && itemSizeOf(dtype) !== entry.itemsize) throw problem(`gives ${dtype} an item size of ${entry.itemsize}`);
    if (tensorByteLength(entry.itemsize, entry.shape) !== entry.length) {
      throw problem(`has shape [${entry.shape.join(', ')}] of ${entry.itemsize}-byte items but a length of ${entry.length} bytes`);
    }
    if (entry.offset + entry.length > dataBytes) {
      throw problem(`ends at byte ${entry.offset + entry.length}, past the ${dataBytes} bytes the helper wrote`);
    }
    return {
      name: entry.name,
      dtype,
      shape: entry.shape,
      itemSize: entry.itemsize,
      byteLength: entry.length,
      chunks: () => elementChunks(fileRangeSource(data.handle, entry.offset, entry.length, dataPath), 0, entry.itemsize, false),
    };
  });
  refuseSharedBytes(entries, displayPath);
  return tensors;
}

/**
 * The helper writes each tensor's bytes once, one after another; entries that share bytes would let a small file
 * pose as a huge model, its few bytes read and compared once per entry.
 */
function refuseSharedBytes(entries: IndexEntry[], displayPath: string): void {
  const byOffset = entries.filter((entry) => entry.length > 0).sort((a, b) => a.offset - b.offset);
  for (let index = 1; index < byOffset.length; index++) {
    const [previous, entry] = [byOffset[index - 1]!, byOffset[index]!];
    // Ranges that do not overlap their neighbour end in order, so neighbours are all that need checking.
    if (entry.offset < previous.offset + previous.length) {
      throw helperFailed(
        displayPath,
        `the helper's index entries "${previous.name}" (bytes ${previous.offset} to ${previous.offset + previous.length}) and "${entry.name}" (from byte ${entry.offset}) share bytes`,
      );
    }
  }
}

export async function openPickle(file: string, displayPath: string, run: PythonRunner): Promise<TensorFile> {
  const outDir = await mkdtemp(path.join(tmpdir(), 'repro-gate-pickle-'));
  // Closed here when anything fails before the TensorFile that owns it is returned.
  let openedData: OpenedFile | undefined;
  try {
    // -B: no bytecode written into the venv, which is checked unchanged after the helper ran.
    const result = await run(['-I', '-B', '-c', PICKLE_HELPER_SOURCE, file, outDir]);
    if (result.exitCode !== 0) {
      const reason = failureReason(result.exitCode, result.stderr);
      const missing = /No module named '([^']+)'/.exec(reason)?.[1];
      throw missing
        ? helperFailed(displayPath, reason, `The model needs the module "${missing}", which the pinned environment does not have: add the package that provides it to the requirements (or, for a module of your own, make sure it is committed).`)
        : helperFailed(displayPath, reason);
    }
    const index = await readIndex(outDir, displayPath);
    const tensorsPath = `${displayPath} (the helper's tensors)`;
    const data = await openRegularFile(path.join(outDir, 'tensors.bin'), tensorsPath);
    openedData = data;
    const tensors = describeEntries(index.tensors, data, tensorsPath, displayPath);
    return {
      format: 'pickle',
      tensors,
      parameters: index.parameters,
      async close() {
        await data.close();
        await rm(outDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await openedData?.close();
    await rm(outDir, { recursive: true, force: true });
    throw error;
  }
}
