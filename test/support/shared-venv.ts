import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { inject } from 'vitest';

// Venvs the tests use as tools or as an author's own environment (never as the environment under test): one per set
// of pins, built once per machine in its temporary folder and shared by every test file and every later run.
// Nothing may change them: a test that needs a venv it can change builds its own.

const READY = 'ready';

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

/**
 * The shared venv's python for these pins: built under a directory lock (mkdir is atomic), so parallel test files wait
 * for one build. `pip: false` (a tool's venv, where nothing runs pip): the venv gets no pip of its own, and the host's
 * installs the pins into it, which skips the ~7 s ensurepip takes here.
 */
export async function sharedVenvPython(pins: string[], options: { pip?: boolean } = {}): Promise<string> {
  const withPip = options.pip ?? true;
  const key = createHash('sha256').update([...pins, ...(withPip ? [] : ['--without-pip'])].join('\n')).digest('hex').slice(0, 12);
  const dir = path.join(inject('machineTempDir'), `repro-gate-test-venv-${key}`);
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
    if (withPip) {
      execFileSync('python3', ['-m', 'venv', building]);
      execFileSync(path.join(building, 'bin', 'python'), ['-m', 'pip', 'install', '--no-input', '-q', ...pins], { stdio: 'ignore' });
    } else {
      execFileSync('python3', ['-m', 'venv', '--without-pip', building]);
      execFileSync('python3', ['-m', 'pip', '--python', path.join(building, 'bin', 'python'), 'install', '--no-input', '-q', ...pins], { stdio: 'ignore' });
    }
    await rm(dir, { recursive: true, force: true });
    // venv scripts name their folder; the python binary itself does not, so the renamed venv's python still works.
    await rename(building, dir);
    await writeFile(path.join(dir, READY), '');
    return python;
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}
