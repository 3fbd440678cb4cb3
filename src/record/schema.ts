import path from 'node:path';
import { z } from 'zod';
import { isSecretVariable } from '../child-env.js';
import { MAX_CODE_FILES, MAX_METRIC_NAME_CHARS, MAX_METRICS, MAX_TENSOR_NAME_CHARS, MAX_TENSORS, RECORD_VERSION, RELATIVE_PATH_MAX, TIMER_MAX_MS, UV_LOCKFILE_NAME } from '../constants.js';
import { isNumericFormatPath, NUMERIC_FORMAT_EXTENSIONS } from '../compare/formats/format-of.js';
import { NUMERIC_DTYPES } from '../compare/formats/tensor-file.js';
import { parseDuration } from '../rerun/duration.js';
import { PINNED_IMAGE_PATTERN, unpinnedReason } from '../environment/container/image-reference.js';
import { MachineFingerprintSchema } from '../environment/machine/schema.js';

// The run record, version 1. Field names are the public format: never rename them.
// Every object is strict so that a typo is an error instead of a silently disabled check.

export const Sha256Hex = z
  .string()
  .regex(/^[0-9a-f]{64}$/, 'must be a sha256: 64 lowercase hex characters');

export const RelativePath = z
  .string()
  .min(1, 'must not be empty')
  // Linux's PATH_MAX: a longer path names nothing that can exist, and resolving one part by part costs its length squared.
  .max(RELATIVE_PATH_MAX, `must be at most ${RELATIVE_PATH_MAX} characters, the longest path Linux accepts`)
  .describe('Path relative to the folder that holds the record; must stay inside the repository.');

export const RecordName = z
  .string()
  .regex(/^[a-z0-9._-]+$/, 'must match [a-z0-9._-]+')
  .max(100)
  // The name is a folder of the evidence: `..` would write beside it.
  .refine((name) => name !== '.' && name !== '..', 'must not be . or ..');

const DURATION_PATTERN = /^\d+(\.\d+)?(s|m|h)$/;

/** Carries the timer's limit itself, so `timeout` in a record and `record --timeout` are refused alike. */
export const Duration = z
  .string()
  .regex(DURATION_PATTERN, 'must be a number followed by s, m or h, e.g. 90s, 20m, 2h')
  .refine((text) => !DURATION_PATTERN.test(text) || parseDuration(text) > 0, 'must be more than 0: a zero timeout would stop the command at once')
  .refine(
    (text) => !DURATION_PATTERN.test(text) || parseDuration(text) <= TIMER_MAX_MS,
    `must be at most ${Math.floor(TIMER_MAX_MS / 3_600_000)}h (about 24.8 days, the longest a timer can wait; a longer one would fire at once)`,
  );

const MetricValue = z.union([z.number(), z.nan()], { error: 'must be a number (or .nan)' });

export const MetricName = z
  .string()
  .min(1)
  .max(MAX_METRIC_NAME_CHARS, `must be at most ${MAX_METRIC_NAME_CHARS} characters`);

// `.nan` and `.inf` are numbers to YAML; a bound that is not finite would pass or fail everything.
const FINITE_NONNEGATIVE = 'must be a finite number ≥ 0';
const FINITE = 'must be a finite number';

const Tolerance = z
  .object({
    abs: z.number({ error: FINITE_NONNEGATIVE }).nonnegative(FINITE_NONNEGATIVE).optional().describe('Allowed absolute difference.'),
    rel: z.number({ error: FINITE_NONNEGATIVE }).nonnegative(FINITE_NONNEGATIVE).optional().describe('Allowed difference relative to |recorded|.'),
  })
  .strict();

export const Threshold = z
  .object({
    min: z.number({ error: FINITE }).optional().describe('The rerun value must be >= min.'),
    max: z.number({ error: FINITE }).optional().describe('The rerun value must be <= max.'),
  })
  .strict()
  .refine((t) => t.min !== undefined || t.max !== undefined, 'needs min, max or both')
  .refine((t) => t.min === undefined || t.max === undefined || t.min <= t.max, 'min must not exceed max');

const HashedFile = z.object({ path: RelativePath, sha256: Sha256Hex }).strict();

const TensorFingerprint = z
  .object({
    name: z.string().min(1).max(MAX_TENSOR_NAME_CHARS),
    dtype: z.union([z.enum(NUMERIC_DTYPES), z.templateLiteral(['raw:', z.string().min(1).max(200)], { error: 'must be a numeric dtype or raw:<type>' })]),
    shape: z.array(z.number().int().nonnegative()).max(64),
    sha256: Sha256Hex,
    count: z.number().int().nonnegative(),
    nonfinite: z.number().int().nonnegative().optional(),
    min: z.number().nullable().optional(),
    max: z.number().nullable().optional(),
    mean: z.number().nullable().optional(),
    l2: z.number().optional(),
    samples: z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64').optional(),
  })
  .strict();

const ArtifactContent = z
  .object({
    format: z.string().min(1).max(40),
    tensors: z.array(TensorFingerprint).max(MAX_TENSORS, `must list at most ${MAX_TENSORS} tensors`),
    parameters: z.record(z.string().max(MAX_TENSOR_NAME_CHARS), z.string().max(10_000)).optional(),
  })
  .strict()
  .describe('Measured by record: one fingerprint per tensor (dtype, shape, sha256, statistics), so verify can tell which tensors changed and how.');

const NUMERIC_ONLY_FIELDS = ['tolerance', 'tensors', 'equal_nan', 'fingerprint', 'content'] as const;

const Artifact = HashedFile.extend({
  compare: z
    .enum(['exact', 'numeric', 'report'])
    .optional()
    .describe('exact (default): the bytes must match. numeric: tensor by tensor, within tolerance (per-dtype defaults). report: shown when it changes (a plot, a log), never gating.'),
  tolerance: Tolerance.optional().describe('compare: numeric only. |rerun − recorded| ≤ abs + rel·|recorded| for every element; unset fields take the dtype default.'),
  tensors: z.record(z.string().min(1), Tolerance).optional().describe('compare: numeric only. Per-tensor tolerance by glob on the tensor name (`classifier.*`); the first match wins.'),
  equal_nan: z.boolean().optional().describe('compare: numeric only. NaN equals NaN (default false).'),
  fingerprint: z
    .enum(['stats', 'sampled'])
    .optional()
    .describe('compare: numeric only. sampled: also keep 4,096 elements per tensor, so a rerun can be judged without a baseline file.'),
  content: ArtifactContent.optional(),
})
  .strict()
  .superRefine((artifact, ctx) => {
    if (artifact.compare === 'numeric') {
      if (!isNumericFormatPath(artifact.path)) {
        ctx.addIssue({ code: 'custom', path: ['compare'], message: `numeric needs a tensor file (${NUMERIC_FORMAT_EXTENSIONS.join(', ')}); ${artifact.path} is none of them` });
      }
      return;
    }
    for (const field of NUMERIC_ONLY_FIELDS) {
      if (artifact[field] !== undefined) ctx.addIssue({ code: 'custom', path: [field], message: 'only applies with compare: numeric (it would be ignored here)' });
    }
  });

const DataInput = z
  .object({
    path: RelativePath.describe('A file, or a directory hashed like `sha256sum` over its sorted files.'),
    sha256: Sha256Hex,
    manifest: RelativePath.optional().describe('Optional data manifest (dataset_name, content_hash, record_count, ...).'),
  })
  .strict();

// `+` appears in system package names (libstdc++6), listed for an image without pip; never in Python's.
const PackageName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._+-]*$/, 'must be a Python package name');
const DependencyGroupName = z.string().max(200).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'must be a dependency group or extra name (letters, digits, ., _ and -)');

const Environment = z
  .object({
    image: z
      .string()
      .superRefine((text, ctx) => {
        const reason = unpinnedReason(text);
        if (reason) ctx.addIssue({ code: 'custom', message: reason });
      })
      .meta({ pattern: PINNED_IMAGE_PATTERN })
      .optional()
      .describe('A container image pinned by digest (name@sha256:…): the command reruns in a container of it (docker, else podman), the sandbox mounted at /repro-gate, as the invoking user.'),
    network: z.boolean().optional().describe('With an image: true lets the rerun reach the network (default false: a reproducible run downloads nothing).'),
    gpu: z.boolean().optional().describe('With an image: true passes the host\'s GPUs into the container (docker --gpus all, podman CDI nvidia.com/gpu=all).'),
    python: z
      .string({
        // YAML reads an unquoted 3.10 as the number 3.1: say so, rather than "expected string".
        error: (issue) => (issue.input === undefined ? undefined : 'must be a Python version in quotes, like "3.11" (unquoted, YAML reads 3.10 as the number 3.1)'),
      })
      .regex(/^\d+\.\d+(\.\d+)?$/, 'must be a Python version like "3.11" or "3.11.7" (quote it in YAML)')
      .optional(),
    requirements: RelativePath.optional().describe('pip requirements file installed into a fresh venv.'),
    requirements_sha256: Sha256Hex.optional(),
    installer: z
      .enum(['pip', 'uv'])
      .optional()
      .describe('What installs the requirements file: pip (the default) or `uv pip install` (faster; uv ignores pip.conf and PIP_* variables).'),
    lockfile: RelativePath.refine((file) => path.posix.basename(file) === UV_LOCKFILE_NAME, `must be a uv lockfile, named ${UV_LOCKFILE_NAME} (with pyproject.toml beside it)`)
      .optional()
      .describe('A uv project\'s lock: the rerun\'s venv is `uv sync --frozen` of its dependencies (after `uv lock --check`); the project\'s own code is imported from the sandbox\'s copy of the checkout, never installed.'),
    lockfile_sha256: Sha256Hex.optional(),
    uv: z
      .object({
        groups: z.array(DependencyGroupName).max(100).optional().describe('Dependency groups synced besides the project\'s dependencies (none by default, not even dev).'),
        extras: z.array(DependencyGroupName).max(100).optional().describe('Optional dependencies (extras) synced.'),
      })
      .strict()
      .optional(),
    packages: z.record(PackageName, z.string().min(1)).optional().describe('pip freeze at record time (inside the image: its pip freeze, or dpkg-query where it has no pip).'),
    platform: z.string().min(1).optional().describe('sysconfig.get_platform() at record time, e.g. linux-x86_64.'),
    machine: MachineFingerprintSchema.optional(),
    variables: z
      .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name'), z.string())
      .optional(),
    pass_env: z
      .array(
        z
          .string()
          .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name')
          .refine((name) => !isSecretVariable(name), 'names one of the job\'s own tokens, which a rerun never gets'),
      )
      .optional()
      .describe('Host variables the rerun may see, e.g. HF_TOKEN (their values are never recorded); everything else is withheld.'),
  })
  .strict()
  .superRefine((env, ctx) => {
    for (const name of Object.keys(env.variables ?? {})) {
      if (name.startsWith('REPRO_GATE_')) ctx.addIssue({ code: 'custom', path: ['variables', name], message: 'REPRO_GATE_* names are repro-gate\'s own (the probe reads them): use another name' });
    }
    if (env.requirements !== undefined && env.python === undefined) {
      ctx.addIssue({ code: 'custom', path: ['python'], message: 'is required when requirements is set' });
    }
    if (env.requirements !== undefined && env.requirements_sha256 === undefined) {
      ctx.addIssue({ code: 'custom', path: ['requirements_sha256'], message: 'is required when requirements is set' });
    }
    if (env.requirements === undefined && env.requirements_sha256 !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['requirements'], message: 'is required when requirements_sha256 is set' });
    }
    if (env.lockfile !== undefined && env.requirements !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['lockfile'], message: 'and requirements exclude each other: a uv project\'s environment is its lock (remove requirements)' });
    }
    if (env.lockfile !== undefined && env.python === undefined) {
      ctx.addIssue({ code: 'custom', path: ['python'], message: 'is required when lockfile is set' });
    }
    if (env.lockfile !== undefined && env.lockfile_sha256 === undefined) {
      ctx.addIssue({ code: 'custom', path: ['lockfile_sha256'], message: 'is required when lockfile is set' });
    }
    if (env.lockfile === undefined && env.lockfile_sha256 !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['lockfile'], message: 'is required when lockfile_sha256 is set' });
    }
    if (env.lockfile !== undefined) {
      // `uv run` in the rerun must use the rebuilt venv as it is, reading no config or env file the record does not hash.
      for (const name of Object.keys(env.variables ?? {}).filter((variable) => variable.startsWith('UV_'))) {
        ctx.addIssue({ code: 'custom', path: ['variables', name], message: 'UV_* variables are repro-gate\'s own in a uv project\'s rerun (`uv run` uses the rebuilt venv as it is): use another name' });
      }
      for (const [i, name] of (env.pass_env ?? []).entries()) {
        if (name.startsWith('UV_')) ctx.addIssue({ code: 'custom', path: ['pass_env', i], message: 'UV_* variables are repro-gate\'s own in a uv project\'s rerun: they cannot be passed from the host' });
      }
    }
    if (env.image !== undefined && env.lockfile !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['lockfile'], message: 'cannot be used with image: inside an image, list the packages in requirements (installed into a venv in the image)' });
    }
    if (env.image !== undefined && env.installer === 'uv') {
      ctx.addIssue({ code: 'custom', path: ['installer'], message: 'uv is not used inside an image: requirements are installed with the image\'s pip (remove installer)' });
    }
    for (const key of ['network', 'gpu'] as const) {
      if (env[key] !== undefined && env.image === undefined) ctx.addIssue({ code: 'custom', path: [key], message: 'applies to a container image only: set image (name@sha256:…)' });
    }
    if (env.uv !== undefined && env.lockfile === undefined) {
      ctx.addIssue({ code: 'custom', path: ['uv'], message: 'applies to a uv project only: set lockfile (uv.lock)' });
    }
    if (env.installer !== undefined && env.requirements === undefined) {
      ctx.addIssue({ code: 'custom', path: ['installer'], message: 'applies to a requirements file only (a lockfile is always installed with uv)' });
    }
  });

type FieldPathStart = Array<string | number>;

/** The same path listed twice would be checked twice and could disagree with itself (an artifact read as drift). */
function addDuplicatePathIssues(ctx: z.core.$RefinementCtx, list: 'config' | 'data' | 'artifacts', entries: ReadonlyArray<{ path: string }>): void {
  const first = new Map<string, number>();
  for (const [i, entry] of entries.entries()) {
    const key = path.posix.normalize(entry.path).replace(/\/+$/, '');
    const earlier = first.get(key);
    if (earlier === undefined) first.set(key, i);
    else ctx.addIssue({ code: 'custom', path: [list, i, 'path'], message: `repeats ${list}[${earlier}] (${entries[earlier]!.path}): list each path once` });
  }
}

export const RunRecordSchema = z
  .object({
    version: z.literal(RECORD_VERSION),
    name: RecordName,
    command: z.string().min(1).describe('Run with `sh -c` from workdir.'),
    workdir: RelativePath.optional(),
    timeout: Duration.optional(),
    code: z
      .object({
        commit: z.string().regex(/^[0-9a-f]{7,64}$/, 'must be a git commit hash').optional(),
        dirty: z
          .boolean()
          .optional()
          .describe('Written by record: true when the working tree differed from code.commit (besides the record, its outputs and data), so the code that ran is not the commit\'s. verify --at recorded refuses such a record.'),
        files: z
          .array(HashedFile)
          .max(MAX_CODE_FILES, `must list at most ${MAX_CODE_FILES} files`)
          .optional()
          .describe('Learned by record: the repository files the training read or imported (relative to the repository root), each with its sha256. verify --affected reruns the record only when one of them changed.'),
        listed: z
          .array(
            z
              .string()
              .min(1)
              .max(4_096)
              .refine((folder) => folder === '.' || (!folder.startsWith('/') && !folder.split('/').some((part) => part === '' || part === '.' || part === '..')), 'must be a folder relative to the repository root (`.` for the root itself)'),
          )
          .max(MAX_CODE_FILES, `must list at most ${MAX_CODE_FILES} folders`)
          .optional()
          .describe('Learned by record: the repository folders the training listed (directory scans, glob, and the import system searching its path; `.` is the root). verify --affected counts a file added or removed since code.commit only in one of these, or in a new folder inside one. Without it, every added file counts.'),
        watch: z
          .array(
            z
              .string()
              .min(1)
              .max(1_000)
              .refine((glob) => !glob.startsWith('/') && !glob.startsWith('./') && !glob.split('/').includes('..'), 'must be a glob relative to the repository root, without ./, .. or a leading /'),
          )
          .max(1_000)
          .optional()
          .describe('Globs (relative to the repository root) of inputs the probe cannot see (read by a C extension or a non-Python tool): a change to a matching file since code.commit makes the record affected.'),
      })
      .strict()
      .optional(),
    environment: Environment.optional(),
    seeds: z
      .record(z.string().regex(/^[A-Za-z0-9_]+$/, 'must be [A-Za-z0-9_]+'), z.union([z.number().int(), z.string()]))
      .optional(),
    apply_seeds: z
      .boolean()
      .optional()
      .describe('true: the rerun probe applies the seeds in every Python process when it imports the framework (random.seed, numpy.random.seed, torch.manual_seed, tf.random.set_seed); otherwise they are only exported as REPRO_SEED_*.'),
    determinism: z
      .enum(['default', 'strict'])
      .optional()
      .describe('strict: torch.use_deterministic_algorithms(True), cuDNN deterministic, CUBLAS_WORKSPACE_CONFIG, PYTHONHASHSEED, one OMP/MKL/OpenBLAS thread (unless variables set them).'),
    config: z.array(HashedFile).optional(),
    data: z.array(DataInput).optional(),
    artifacts: z.array(Artifact).optional(),
    metrics: z
      .object({
        path: RelativePath.describe('JSON object written by the command; nested keys flatten with ".".'),
        values: z.record(MetricName, MetricValue),
      })
      .strict()
      .optional(),
    tolerance: z
      .object({ default: Tolerance.optional(), metrics: z.record(MetricName, Tolerance).optional() })
      .strict()
      .optional(),
    thresholds: z.record(MetricName, Threshold).optional(),
  })
  .strict()
  .superRefine((record, ctx) => {
    const metricCount = Object.keys(record.metrics?.values ?? {}).length;
    if ((record.artifacts?.length ?? 0) === 0 && metricCount === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['artifacts'],
        message: 'at least one artifact or metric is required, otherwise there is nothing to reproduce',
      });
    }
    const values = record.metrics?.values ?? {};
    // Named once, and only the first few: a record with 40k metrics must not put all of them into each message.
    const names = Object.keys(values);
    const known = names.length === 0 ? 'none' : `${names.slice(0, 10).join(', ')}${names.length > 10 ? `, and ${names.length - 10} more` : ''}`;
    for (const name of Object.keys(record.tolerance?.metrics ?? {})) {
      if (!Object.hasOwn(values, name)) {
        ctx.addIssue({ code: 'custom', path: ['tolerance', 'metrics', name], message: `names no metric in metrics.values (known: ${known})` });
      }
    }
    // Each of these becomes a list in every report: bounded here, so a report is never refused by its own schema.
    const perMetric: Array<[FieldPathStart, number]> = [
      [['metrics', 'values'], metricCount],
      [['tolerance', 'metrics'], Object.keys(record.tolerance?.metrics ?? {}).length],
      [['thresholds'], Object.keys(record.thresholds ?? {}).length],
    ];
    for (const [fieldPath, count] of perMetric) {
      if (count > MAX_METRICS) {
        ctx.addIssue({ code: 'custom', path: fieldPath, message: `holds ${count} entries; at most ${MAX_METRICS} metrics are compared (keep the ones that tell whether the model reproduced)` });
      }
    }
    addDuplicatePathIssues(ctx, 'config', record.config ?? []);
    addDuplicatePathIssues(ctx, 'data', record.data ?? []);
    addDuplicatePathIssues(ctx, 'artifacts', record.artifacts ?? []);
    if (record.thresholds && !record.metrics) {
      ctx.addIssue({ code: 'custom', path: ['thresholds'], message: 'needs metrics.path to read the rerun values from' });
    }
  });

export type RunRecord = z.infer<typeof RunRecordSchema>;
export type ToleranceSpec = z.infer<typeof Tolerance>;
export type ArtifactSpec = z.infer<typeof Artifact>;
export type ThresholdSpec = z.infer<typeof Threshold>;
