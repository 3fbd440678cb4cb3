// Every name that crosses a boundary (exit codes, env vars, cache keys, markers, file names) lives here.

export const TOOL_NAME = 'repro-gate';
export const TOOL_VERSION = '0.1.0';

export const ExitCode = {
  Ok: 0,
  Drift: 1,
  Error: 2,
} as const;

export const RECORD_VERSION = 1;
export const REPORT_SCHEMA_VERSION = 1;

export const DEFAULT_TIMEOUT = '60m';
/** Seeds are exported to the rerun as REPRO_SEED_<NAME>. */
export const SEED_ENV_PREFIX = 'REPRO_SEED_';

/** Where the CLI keeps rebuilt venvs; the action restores/saves the same folder with @actions/cache. */
export const CACHE_DIR_ENV = 'REPRO_GATE_CACHE_DIR';
/** Bump when the venv layout changes so old cache entries are not reused. */
export const VENV_CACHE_VERSION = 'v1';
export const VENV_CACHE_PREFIX = `${TOOL_NAME}-venv-${VENV_CACHE_VERSION}`;
/** Written last into a venv; a folder without it is a half-built venv and is rebuilt. */
export const VENV_COMPLETE_MARKER = '.repro-gate-complete';

/** Lines of the rerun's output kept for the report. */
export const LOG_TAIL_LINES = 60;
export const LOG_TAIL_MAX_CHARS = 8_000;
export const LOG_FILE_NAME = 'rerun.log';

/** Grace between SIGTERM and SIGKILL when a rerun times out. */
export const KILL_GRACE_MS = 2_000;

export const REPORT_JSON_NAME = 'report.json';
export const REPORT_MARKDOWN_NAME = 'report.md';
/** `mode: registry`'s verdict in its evidence folder. */
export const REGISTRY_MARKDOWN_NAME = 'registry.md';

/** GitHub's hard limit on an issue comment body. */
export const COMMENT_MAX_CHARS = 65_536;
/** GitHub's limit on a job summary (GITHUB_STEP_SUMMARY) per step. */
export const SUMMARY_MAX_BYTES = 1024 * 1024;
/** Hidden marker that identifies a sticky comment; suffixed with the job and record-set identity. */
export const COMMENT_MARKER_PREFIX = '<!-- repro-gate:sticky';
/** The hidden marker that finds a scheduled audit's issue among the repository's open issues. */
export const AUDIT_MARKER_PREFIX = '<!-- repro-gate:audit';
export const AUDIT_ISSUE_TITLE = 'repro-gate audit: records no longer reproduce at their recorded commits';
export const EVIDENCE_ARTIFACT_PREFIX = 'repro-gate-evidence';

/** The rerun probe: a `sitecustomize` on the command's PYTHONPATH appends JSON lines to this file (see src/rerun/probe). */
export const PROBE_TRACE_ENV = 'REPRO_GATE_TRACE';
/** The sandbox root, so the probe can tell the project's files from the rest. */
export const PROBE_SANDBOX_ENV = 'REPRO_GATE_SANDBOX';
/** At most this much of a trace is read: the command controls what it writes there. */
export const PROBE_TRACE_MAX_BYTES = 16 * 1024 * 1024;
/** What verify writes into a drifting record's evidence: the record its rerun implies. */
export const UPDATED_RECORD_NAME = 'run.updated.yaml';
/** A changed text config up to this size is shown as a diff against its recorded version. */
export const CONFIG_DIFF_MAX_BYTES = 1024 * 1024;

/** Bounds the cache folder (venvs plus pip's downloads); past it, the least recently used venvs are evicted. */
export const CACHE_MAX_SIZE_ENV = 'REPRO_GATE_CACHE_MAX_SIZE';
export const DEFAULT_CACHE_MAX_SIZE = '10GiB';
/** pip's own variable for its download cache; when the user sets it, venv builds use theirs instead of ours. */
export const PIP_CACHE_DIR_ENV = 'PIP_CACHE_DIR';
/** uv's own variable for its download cache; as with pip's, the user's setting wins over ours. */
export const UV_CACHE_DIR_ENV = 'UV_CACHE_DIR';
/** The uv that repro-gate installs with pip into its cache folder when none is on PATH (the one the tests use too). */
export const UV_PINNED_VERSION = '0.13.9';
/** A uv project's lockfile: the only name uv reads, with pyproject.toml beside it. */
export const UV_LOCKFILE_NAME = 'uv.lock';
export const PYPROJECT_NAME = 'pyproject.toml';
/** uv's own settings file. */
export const UV_CONFIG_NAME = 'uv.toml';
/** Where a re-executed repro-gate finds the secrets it shed from its environment block (a 0600 file, deleted on read). */
export const SECRETS_HANDOFF_ENV = 'REPRO_GATE_SECRETS_HANDOFF';
/** Every process of a rerun inherits this variable, holding the run's unique id, so leftovers can be found where no cgroup can be created. */
export const RUN_ID_ENV = 'REPRO_GATE_RUN_ID';
/** How long the kill sweep after a rerun keeps going when processes refuse to die (stuck in the kernel). */
export const SWEEP_MAX_MS = 2_000;
/** After the rerun and its sweep, how long to wait for the output pipes to close before closing them from our side. */
export const OUTPUT_CLOSE_GRACE_MS = 2_000;
/** The report lists at most this many processes killed after the command ended, each command line capped. */
export const KILLED_LISTED_MAX = 20;
export const KILLED_COMMAND_MAX_CHARS = 200;
/** A run record larger than this is refused before it is read: parsing YAML costs many times its size in memory. */
export const RECORD_MAX_BYTES = 16 * 1024 * 1024;
/** YAML aliases (`*name`) may expand to at most this many nodes: a "billion laughs" record is refused, not expanded. */
export const RECORD_MAX_ALIAS_COUNT = 100;
/** A metrics file larger than this is refused before it is read; the variable raises (or lowers) the bound. */
export const METRICS_MAX_SIZE_ENV = 'REPRO_GATE_METRICS_MAX_SIZE';
export const DEFAULT_METRICS_MAX_SIZE = '64MiB';
/** At most this many metrics in a record or a metrics file: a report holds recorded and new ones, each with its verdict. */
export const MAX_METRICS = 500_000;
/** Elements a `fingerprint: sampled` artifact keeps per tensor, at fixed pseudo-random positions. */
export const FINGERPRINT_SAMPLE_COUNT = 4096;
/** Tensors one numeric artifact may hold (a large language model has a few thousand). */
export const MAX_TENSORS = 100_000;
export const MAX_TENSOR_NAME_CHARS = 1_000;
/** The log of the Python helper that reads pickled models, in the record's evidence folder. */
export const NUMERIC_HELPER_LOG_NAME = 'pickle-reader.log';
/** Reading a pickled model takes seconds; a helper stuck longer (or a record with no timeout) is stopped here. */
export const HELPER_TIMEOUT_MS = 10 * 60 * 1000;
/** Tensors the comment's table shows, the largest deviations first; the rest are counted. */
export const TENSOR_TABLE_ROWS = 20;
/** The longest path a record may name (Linux's PATH_MAX, 4096 bytes with its terminating NUL). */
export const RELATIVE_PATH_MAX = 4095;
/** A flattened metric name longer than this is refused rather than carried into every report and comment. */
export const MAX_METRIC_NAME_CHARS = 1_000;
/** The longest a Node.js timer can wait (2^31-1 ms, about 24.8 days); a longer timeout would fire at once. */
export const TIMER_MAX_MS = 2 ** 31 - 1;
/** A failed `pip install` keeps pip's whole output here, in the record's evidence folder. */
export const PIP_INSTALL_LOG_NAME = 'pip-install.log';
export const UV_INSTALL_LOG_NAME = 'uv-install.log';
/** The fingerprint of a complete venv, taken when it was built (or restored) and checked on every reuse. */
export const VENV_FINGERPRINT_FILE = '.repro-gate-fingerprint.json';
/** Past this many changed lines a diff is not read, and computing it would take minutes (Myers is O(N·D)). */
export const DIFF_MAX_EDIT_LENGTH = 2_000;
/** The probe's seeding plan (`numpy=7,torch=3`): set only when the record applies seeds or asks for strict determinism. */
export const PROBE_SEED_PLAN_ENV = 'REPRO_GATE_SEED_PLAN';
/** `strict`: the probe turns on each framework's deterministic algorithms. */
export const PROBE_DETERMINISM_ENV = 'REPRO_GATE_DETERMINISM';
/** `record --runs` and `verify --runs` run the command at most this many times: each run is a whole training. */
export const MAX_RECORD_RUNS = 50;
/** The venv's `pip freeze`, taken when it is built and sealed with it (src/environment/frozen-packages.ts). */
export const VENV_FREEZE_FILE = '.repro-gate-freeze.json';
/** The record's declared data (and manifests), in the sandbox: the probe does not list their files among the files read. */
export const PROBE_DECLARED_DATA_ENV = 'REPRO_GATE_DECLARED_DATA';
/** Files a record's learned input set (`code.files`) may hold; a training that reads more is always rerun. */
export const MAX_CODE_FILES = 20_000;

/** Threads that hash and copy files (default: one per core). */
export const HASH_THREADS_ENV = 'REPRO_GATE_HASH_THREADS';
/** Long hashing or copying prints progress after this long (ms), then at most every PROGRESS_EVERY_MS in a log. */
export const PROGRESS_AFTER_MS = 2_000;
export const PROGRESS_EVERY_MS = 5_000;
/** Overrides PROGRESS_AFTER_MS (tests show progress on small inputs with it). */
export const PROGRESS_AFTER_ENV = 'REPRO_GATE_PROGRESS_AFTER_MS';

/** Chooses the container runtime (docker or podman) over the default: docker when its daemon answers, else podman. */
export const CONTAINER_RUNTIME_ENV = 'REPRO_GATE_CONTAINER_RUNTIME';
/** Where the sandbox (the copy of the repository, its HOME and TMPDIR) is mounted inside a container. */
export const CONTAINER_SANDBOX_DIR = '/repro-gate';
/** Where a record's requirements are installed inside its image (a derived image, cached by the runtime). */
export const CONTAINER_VENV_DIR = '/opt/repro-gate-venv';
/** The repository of the derived images that hold a record's venv, tagged by their cache key. */
export const CONTAINER_VENV_IMAGE = 'localhost/repro-gate-venv';
/** Names every container repro-gate starts, so a leftover one is recognizable (`docker ps --filter name=…`). */
export const CONTAINER_NAME_PREFIX = 'repro-gate-';
/** The longest a call of the container runtime's client may take (a pull, an inspect), but for reruns and builds. */
export const CONTAINER_COMMAND_TIMEOUT_MS = 10 * 60 * 1000;
/** The longest a venv build inside an image may take (pip downloading and building from source). */
export const CONTAINER_BUILD_TIMEOUT_MS = 60 * 60 * 1000;
/** After a rerun's own timeout, Podman's conmon kills a container repro-gate could not remove itself (it was killed). */
export const CONTAINER_DEADLINE_GRACE_S = 60;
