import { execFileSync } from 'node:child_process';
import { sharedVenvPython } from './shared-venv.js';

// One venv with the libraries that write real tensor files (numpy, safetensors, CPU torch): the parsers' fixtures are
// written by the real libraries. torch is pinned to 2.13.0, the CPU build pip takes from a file on the machine:
// anything else pulls a CUDA build.

// safetensors.torch imports packaging, which safetensors does not declare.
export const TENSOR_TOOLS_PINS = ['numpy==2.2.6', 'packaging==26.4', 'safetensors==0.6.2', 'torch==2.13.0'];

export const tensorToolsPython = (): Promise<string> => sharedVenvPython(TENSOR_TOOLS_PINS, { pip: false });

/** Runs a Python snippet in the shared venv (fixtures are written this way), with argv after the script. */
export async function runTensorPython(script: string, args: string[] = []): Promise<string> {
  return execFileSync(await tensorToolsPython(), ['-c', script, ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
}
