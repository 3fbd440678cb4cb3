import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';

// Every temporary folder of a test run (the tests' own and those of the CLI, pip and Python they start) lives under
// one folder made here and removed when the run ends, passed or failed: a run leaves no venvs or repositories behind.

declare module 'vitest' {
  export interface ProvidedContext {
    /** Removed when the run ends. */
    testRunRoot: string;
    /** The machine's temporary folder, for the few things kept between runs (see shared-venv.ts). */
    machineTempDir: string;
  }
}

let runRoot: string | undefined;

export function setup(project: TestProject): void {
  runRoot = mkdtempSync(path.join(tmpdir(), 'repro-gate-test-run-'));
  // Open to every user, sticky, as /tmp is: some tests run the CLI as nobody.
  chmodSync(runRoot, 0o1777);
  project.provide('testRunRoot', runRoot);
  project.provide('machineTempDir', tmpdir());
}

export function teardown(): void {
  if (runRoot) rmSync(runRoot, { recursive: true, force: true });
}
