import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PROBE_DECLARED_DATA_ENV, PROBE_SANDBOX_ENV, PROBE_TRACE_ENV } from '../../constants.js';
import { PROBE_MODULE_NAME, PROBE_SOURCE } from './probe-source.js';

export interface InstalledProbe {
  traceFile: string;
  /** Variables that load the probe in every Python process of the command; `pythonPath` is the record's own PYTHONPATH. */
  environment(sandboxRoot: string, pythonPath: string | undefined, declaredData?: string[]): Record<string, string>;
  dispose(): Promise<void>;
}

/** Writes the probe into a private folder outside the sandbox; the trace file is created by the first process. */
export async function installProbe(): Promise<InstalledProbe> {
  const dir = await mkdtemp(path.join(tmpdir(), 'repro-gate-probe-'));
  const moduleDir = path.join(dir, 'site');
  await mkdir(moduleDir);
  await writeFile(path.join(moduleDir, PROBE_MODULE_NAME), PROBE_SOURCE);
  const traceFile = path.join(dir, 'trace.jsonl');
  return {
    traceFile,
    environment: (sandboxRoot, pythonPath, declaredData = []) => ({
      PYTHONPATH: [moduleDir, pythonPath].filter(Boolean).join(path.delimiter),
      [PROBE_TRACE_ENV]: traceFile,
      [PROBE_SANDBOX_ENV]: sandboxRoot,
      [PROBE_DECLARED_DATA_ENV]: declaredData.map((relative) => path.join(sandboxRoot, relative)).join(path.delimiter),
    }),
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
}
