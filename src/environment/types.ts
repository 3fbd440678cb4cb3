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
  /** Where pip runs (the sandbox's copy of the repository), so relative paths in the requirements resolve there. */
  installDir?: string;
  requirementsDisplayPath?: string;
  recordedPackages?: Record<string, string>;
  recordedPlatform?: string;
  cacheRoot: string;
  remoteCache?: VenvCache;
  log: (line: string) => void;
  /** Where a failed build leaves its full log (pip's whole output): the record's evidence folder. Without it, only the message tells. */
  logDir?: string;
}

export interface PreparedEnvironment {
  /** Put first on PATH for the rerun; null runs the command in the current environment. */
  binDir: string | null;
  venvDir: string | null;
  /** The venv's interpreter; null in the current environment, where the probe tells which interpreter ran. */
  python: string | null;
  /** pip freeze of the venv (null in the current environment): what \`record\` writes as environment.packages. */
  packages: Record<string, string> | null;
  /** For a venv built by this run: saves it to the second-level cache (called after a rerun left it intact). */
  saveToRemoteCache?: () => Promise<void>;
  /** Removes a venv that was built for this run only (requirements that install the project itself). */
  dispose?: () => Promise<void>;
  report: EnvironmentReport;
}

/** One small class per way of providing the rerun's Python environment (pip venv today; uv or conda later). */
export interface EnvironmentManager {
  prepare(): Promise<PreparedEnvironment>;
}
