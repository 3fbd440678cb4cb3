import path from 'node:path';
import type { TensorFile } from './tensor-file.js';

/** Which reader a numeric artifact needs, by its file name: the formats `compare: numeric` accepts. */
const FORMAT_BY_EXTENSION: Readonly<Record<string, TensorFile['format']>> = {
  '.npy': 'npy',
  '.npz': 'npz',
  '.safetensors': 'safetensors',
  '.pt': 'torch',
  '.pth': 'torch',
  '.json': 'json',
  '.csv': 'csv',
  '.pkl': 'pickle',
  '.pickle': 'pickle',
  '.joblib': 'pickle',
};

export const NUMERIC_FORMAT_EXTENSIONS = Object.keys(FORMAT_BY_EXTENSION);

export function formatOf(file: string): TensorFile['format'] | undefined {
  return FORMAT_BY_EXTENSION[path.extname(file).toLowerCase()];
}

export function isNumericFormatPath(file: string): boolean {
  return formatOf(file) !== undefined;
}
