import { z } from 'zod';
import { RECORD_VERSION } from '../constants.js';

// The run record, version 1. Field names are the public format: never rename them.
// Every object is strict so that a typo is an error instead of a silently disabled check.

export const Sha256Hex = z
  .string()
  .regex(/^[0-9a-f]{64}$/, 'must be a sha256: 64 lowercase hex characters');

export const RelativePath = z
  .string()
  .min(1, 'must not be empty')
  .describe('Path relative to the folder that holds the record; must stay inside the repository.');

export const RecordName = z.string().regex(/^[a-z0-9._-]+$/, 'must match [a-z0-9._-]+').max(100);

export const Duration = z
  .string()
  .regex(/^\d+(\.\d+)?(s|m|h)$/, 'must be a number followed by s, m or h, e.g. 90s, 20m, 2h');

const MetricValue = z.union([z.number(), z.nan()]);

const Tolerance = z
  .object({
    abs: z.number().nonnegative().optional().describe('Allowed absolute difference.'),
    rel: z.number().nonnegative().optional().describe('Allowed difference relative to |recorded|.'),
  })
  .strict();

const Threshold = z
  .object({
    min: z.number().optional().describe('The rerun value must be >= min.'),
    max: z.number().optional().describe('The rerun value must be <= max.'),
  })
  .strict()
  .refine((t) => t.min !== undefined || t.max !== undefined, 'needs min, max or both')
  .refine((t) => t.min === undefined || t.max === undefined || t.min <= t.max, 'min must not exceed max');

const HashedFile = z.object({ path: RelativePath, sha256: Sha256Hex }).strict();

const DataInput = z
  .object({
    path: RelativePath.describe('A file, or a directory hashed like `sha256sum` over its sorted files.'),
    sha256: Sha256Hex,
    manifest: RelativePath.optional().describe('Optional data manifest (dataset_name, content_hash, record_count, ...).'),
  })
  .strict();

const PackageName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'must be a Python package name');

const Environment = z
  .object({
    python: z
      .string()
      .regex(/^\d+\.\d+(\.\d+)?$/, 'must be a Python version like "3.11" or "3.11.7" (quote it in YAML)')
      .optional(),
    requirements: RelativePath.optional().describe('pip requirements file installed into a fresh venv.'),
    requirements_sha256: Sha256Hex.optional(),
    packages: z.record(PackageName, z.string().min(1)).optional().describe('pip freeze at record time.'),
    platform: z.string().min(1).optional().describe('sysconfig.get_platform() at record time, e.g. linux-x86_64.'),
    variables: z
      .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name'), z.string())
      .optional(),
  })
  .strict()
  .superRefine((env, ctx) => {
    if (env.requirements !== undefined && env.python === undefined) {
      ctx.addIssue({ code: 'custom', path: ['python'], message: 'is required when requirements is set' });
    }
    if (env.requirements !== undefined && env.requirements_sha256 === undefined) {
      ctx.addIssue({ code: 'custom', path: ['requirements_sha256'], message: 'is required when requirements is set' });
    }
    if (env.requirements === undefined && env.requirements_sha256 !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['requirements'], message: 'is required when requirements_sha256 is set' });
    }
  });

export const RunRecordSchema = z
  .object({
    version: z.literal(RECORD_VERSION),
    name: RecordName,
    command: z.string().min(1).describe('Run with `sh -c` from workdir.'),
    workdir: RelativePath.optional(),
    timeout: Duration.optional(),
    code: z
      .object({ commit: z.string().regex(/^[0-9a-f]{7,64}$/, 'must be a git commit hash').optional() })
      .strict()
      .optional(),
    environment: Environment.optional(),
    seeds: z
      .record(z.string().regex(/^[A-Za-z0-9_]+$/, 'must be [A-Za-z0-9_]+'), z.union([z.number().int(), z.string()]))
      .optional(),
    config: z.array(HashedFile).optional(),
    data: z.array(DataInput).optional(),
    artifacts: z.array(HashedFile).optional(),
    metrics: z
      .object({
        path: RelativePath.describe('JSON object written by the command; nested keys flatten with ".".'),
        values: z.record(z.string().min(1), MetricValue),
      })
      .strict()
      .optional(),
    tolerance: z
      .object({ default: Tolerance.optional(), metrics: z.record(z.string().min(1), Tolerance).optional() })
      .strict()
      .optional(),
    thresholds: z.record(z.string().min(1), Threshold).optional(),
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
    for (const name of Object.keys(record.tolerance?.metrics ?? {})) {
      if (!(name in (record.metrics?.values ?? {}))) {
        ctx.addIssue({
          code: 'custom',
          path: ['tolerance', 'metrics', name],
          message: `names no metric in metrics.values (known: ${Object.keys(record.metrics?.values ?? {}).join(', ') || 'none'})`,
        });
      }
    }
    if (record.thresholds && !record.metrics) {
      ctx.addIssue({ code: 'custom', path: ['thresholds'], message: 'needs metrics.path to read the rerun values from' });
    }
  });

export type RunRecord = z.infer<typeof RunRecordSchema>;
export type ToleranceSpec = z.infer<typeof Tolerance>;
export type ThresholdSpec = z.infer<typeof Threshold>;
