import type { EnvironmentReport } from '../report/schema.js';
import type { VenvCache } from './venv-cache.js';

export interface EnvironmentRequest {
  /** Interpreter from --python, or `python3` on PATH. */
  python: string;
  /** The record's environment.python. */
  requiredPython?: string;
  requiredPythonLine?: number;
  /** The requirements file as it is now (the rerun uses it as it is). */
  requirementsFile?: string;
  requirementsDisplayPath?: string;
  recordedPackages?: Record<string, string>;
  recordedPlatform?: string;
  cacheRoot: string;
  remoteCache?: VenvCache;
  log: (line: string) => void;
}

export interface PreparedEnvironment {
  /** Put first on PATH for the rerun; null runs the command in the current environment. */
  binDir: string | null;
  venvDir: string | null;
  /** The venv's interpreter; null in the current environment, where the probe tells which interpreter ran. */
  python: string | null;
  /** pip freeze of the venv (null in the current environment): what \`record\` writes as environment.packages. */
  packages: Record<string, string> | null;
  report: EnvironmentReport;
}

/** One small class per way of providing the rerun's Python environment (pip venv today; uv or conda later). */
export interface EnvironmentManager {
  prepare(): Promise<PreparedEnvironment>;
}
