import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PROBE_DECLARED_DATA_ENV, PROBE_SANDBOX_ENV, PROBE_TRACE_ENV } from '../../constants.js';
import { PROBE_MODULE_NAME, PROBE_SOURCE } from './probe-source.js';

export interface InstalledProbe {
  traceFile: string;
  /** The folder of the probe's module (a container mounts it read-only: the command cannot change the probe). */
  moduleDir: string;
  /**
   * Variables that load the probe in every Python process of the command; `pythonPath` is the record's own PYTHONPATH.
   * `visible` maps a host path to where the command sees it (inside a container).
   */
  environment(sandboxRoot: string, pythonPath: string | undefined, declaredData?: string[], visible?: (hostPath: string) => string): Record<string, string>;
  dispose(): Promise<void>;
}

/**
 * Writes the probe into a private folder outside the sandbox (or in `parent`: for a container, beside the sandbox,
 * in the one folder it mounts); the trace file is created by the first process.
 */
export async function installProbe(parent = tmpdir()): Promise<InstalledProbe> {
  const dir = await mkdtemp(path.join(parent, 'repro-gate-probe-'));
  const moduleDir = path.join(dir, 'site');
  await mkdir(moduleDir);
  await writeFile(path.join(moduleDir, PROBE_MODULE_NAME), PROBE_SOURCE);
  const traceFile = path.join(dir, 'trace.jsonl');
  return {
    traceFile,
    moduleDir,
    environment: (sandboxRoot, pythonPath, declaredData = [], visible = (hostPath) => hostPath) => ({
      PYTHONPATH: [visible(moduleDir), pythonPath].filter(Boolean).join(path.delimiter),
      [PROBE_TRACE_ENV]: visible(traceFile),
      [PROBE_SANDBOX_ENV]: sandboxRoot,
      [PROBE_DECLARED_DATA_ENV]: declaredData.map((relative) => path.join(sandboxRoot, relative)).join(path.delimiter),
    }),
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
}
