import type { ContainerRuntime } from './container/runtime.js';
import type { EnvironmentReport } from '../report/schema.js';
import type { ProtectedCache } from './cache/protected-folders.js';
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
  /** `environment.installer`: what installs the requirements file (pip unless the record says uv). */
  installer?: 'pip' | 'uv';
  /** `environment.lockfile`: a uv project, synced from its lock (the paths are the sandbox's copy). */
  lockfile?: UvProjectRequest;
  /** `environment.image`: the command runs in a container of this image (pinned by digest). */
  image?: ContainerImageRequest;
  recordedPackages?: Record<string, string>;
  recordedPlatform?: string;
  cacheRoot: string;
  remoteCache?: VenvCache;
  log: (line: string) => void;
  /** Where a failed build leaves its full log (pip's whole output): the record's evidence folder. Without it, only the message tells. */
  logDir?: string;
}

export interface UvProjectRequest {
  /** The sandbox's copy of uv.lock; pyproject.toml is beside it. */
  file: string;
  /** The lockfile as the record names it (relative to the repository root). */
  displayPath: string;
  groups: string[];
  extras: string[];
  /** The line of `environment.lockfile` in the record, for messages about the lock. */
  line?: number;
}

export interface ContainerImageRequest {
  /** The pinned reference, `name@sha256:…`. */
  reference: string;
  /** The line of `environment.image` in the record, for messages about the image. */
  line?: number;
  network: boolean;
  gpu: boolean;
}

/** How the rerun starts its container: everything but the sandbox, which the run mounts. */
export interface ContainerEnvironment {
  runtime: ContainerRuntime;
  /** The image ID to run (the record's image, or the derived image holding its venv). */
  image: string;
  network: boolean;
  gpu: boolean;
  /** The image's own PATH: the rerun's PATH starts from it, never from the host's. */
  path: string;
}

export interface PreparedEnvironment {
  /**
   * Set when the command runs in a container: then binDir, venvDir and python are paths inside the container, and
   * nothing of the host's environment reaches the command.
   */
  container?: ContainerEnvironment;
  /** Put first on PATH for the rerun; null runs the command in the current environment. */
  binDir: string | null;
  venvDir: string | null;
  /** The venv's interpreter; null in the current environment, where the probe tells which interpreter ran. */
  python: string | null;
  /** pip freeze of the venv (null in the current environment): what \`record\` writes as environment.packages. */
  packages: Record<string, string> | null;
  /** Folders (relative to the sandbox's root) put first on the rerun's PYTHONPATH: a uv project's own code, from the sandbox's copy (never installed). */
  importPaths?: string[];
  /** Variables the rerun gets, over the record's own: for `uv run` to use this venv as it is. */
  variables?: Record<string, string>;
  /** Put last on the rerun's PATH: the folder of a uv that repro-gate installed (a command may call `uv run`). */
  toolBinDir?: string;
  /**
   * Folders of the cache that later builds trust and the rerun could reach (repro-gate's uv, the download caches):
   * fingerprinted around the rerun, and removed when it changed them (src/environment/cache/protected-folders.ts).
   */
  protectedCache?: ProtectedCache;
  /** For a venv built by this run: saves it to the second-level cache (called after a rerun left it intact). */
  saveToRemoteCache?: () => Promise<void>;
  /** Removes a venv that was built for this run only (requirements that install the project itself). */
  dispose?: () => Promise<void>;
  report: EnvironmentReport;
}

/** One small class per way of providing the rerun's Python environment (pip or uv venvs, a uv project's lock; conda later). */
export interface EnvironmentManager {
  prepare(): Promise<PreparedEnvironment>;
}
