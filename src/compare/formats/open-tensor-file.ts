import { UserError } from '../../errors.js';
import { openCsvTable } from './csv-table.js';
import { formatOf, NUMERIC_FORMAT_EXTENSIONS } from './format-of.js';
import { openJsonTable } from './json-table.js';
import { openNpy } from './npy.js';
import { openNpz } from './npz.js';
import { openPickle, type PythonRunner } from './pickle/pickle.js';
import { openSafetensors } from './safetensors.js';
import type { TensorFile } from './tensor-file.js';
import { openTorch } from './torch/torch.js';

type Opener = (file: string, displayPath: string, runPython: PythonRunner) => Promise<TensorFile>;

const OPENERS: Record<TensorFile['format'], Opener> = {
  npy: openNpy,
  npz: openNpz,
  safetensors: openSafetensors,
  torch: openTorch,
  json: openJsonTable,
  csv: openCsvTable,
  pickle: openPickle,
};

/**
 * Opens a numeric artifact with the reader its name calls for. Pickles need the project's own classes, so they are
 * read by a Python helper through `runPython` (the rebuilt environment, in the sandbox); every other format is read here.
 */
export async function openTensorFile(file: string, displayPath: string, runPython: PythonRunner): Promise<TensorFile> {
  const format = formatOf(file);
  if (format === undefined) {
    throw new UserError(`${displayPath} is not a tensor file repro-gate can read`, `compare: numeric reads ${NUMERIC_FORMAT_EXTENSIONS.join(', ')} files.`);
  }
  return OPENERS[format](file, displayPath, runPython);
}
