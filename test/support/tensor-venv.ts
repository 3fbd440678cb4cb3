import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

// One venv with the libraries that write real tensor files (numpy, safetensors, CPU torch), built once per machine
// and shared by every test file and every later run: the parsers' fixtures are written by the real libraries.
// torch is pinned to 2.13.0, the CPU build pip takes from a file on the machine: anything else pulls a CUDA build.

// safetensors.torch imports packaging, which safetensors does not declare.
export const TENSOR_TOOLS_PINS = ['numpy==2.2.6', 'packaging==26.4', 'safetensors==0.6.2', 'torch==2.13.0'];

const READY = 'ready';

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

/** The shared venv's python: built under a directory lock (mkdir is atomic), so parallel test files wait for one build. */
export async function tensorToolsPython(): Promise<string> {
  const key = createHash('sha256').update(TENSOR_TOOLS_PINS.join('\n')).digest('hex').slice(0, 12);
  const dir = path.join(tmpdir(), `repro-gate-test-tensor-venv-${key}`);
  const python = path.join(dir, 'bin', 'python');
  const lock = `${dir}.lock`;
  for (;;) {
    if (await exists(path.join(dir, READY))) return python;
    try {
      await mkdir(lock);
      break;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
  try {
    if (await exists(path.join(dir, READY))) return python;
    const building = `${dir}.building-${process.pid}`;
    await rm(building, { recursive: true, force: true });
    execFileSync('python3', ['-m', 'venv', building]);
    execFileSync(path.join(building, 'bin', 'python'), ['-m', 'pip', 'install', '--no-input', '-q', ...TENSOR_TOOLS_PINS], { stdio: 'ignore' });
    await rm(dir, { recursive: true, force: true });
    // venv scripts name their folder; the python binary itself does not, so the renamed venv's python still works.
    await rename(building, dir);
    await writeFile(path.join(dir, READY), '');
    return python;
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

/** Runs a Python snippet in the shared venv (fixtures are written this way), with argv after the script. */
export async function runTensorPython(script: string, args: string[] = []): Promise<string> {
  return execFileSync(await tensorToolsPython(), ['-c', script, ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
}
