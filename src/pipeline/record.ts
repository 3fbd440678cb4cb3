import { mkdir, mkdtemp, readFile, realpath, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { flattenMetrics, parseMetricsJson } from '../compare/metrics-file.js';
import { LOG_FILE_NAME, RECORD_VERSION } from '../constants.js';
import { pipFreeze, probeInterpreter } from '../environment/index.js';
import { UserError } from '../errors.js';
import { findRepoRoot, hasUncommittedChanges, headCommit } from '../git.js';
import { sha256Path } from '../hashing/sha256.js';
import { readManifest } from '../inputs/manifest.js';
import { type ResolvedPath, resolveInside } from '../record/paths.js';
import { type RunRecord, RunRecordSchema } from '../record/schema.js';
import { rerunEnvironment, runCommand } from '../rerun/index.js';
import { writeFileAtomic } from '../write-file-atomic.js';
import type { PipelineHooks } from './hooks.js';

export interface RecordOptions {
  out: string;
  name?: string;
  command: string;
  artifacts: string[];
  metrics?: string;
  data: Array<{ path: string; manifest?: string }>;
  config: string[];
  requirements?: string;
  seeds: Record<string, string | number>;
  variables: Record<string, string>;
  timeout?: string;
  python: string;
  hooks: PipelineHooks;
}

export interface RecordResult {
  file: string;
  record: RunRecord;
  warnings: string[];
}

/** Record paths are given relative to the shell's folder and stored relative to the record's folder. */
function makeResolver(recordDir: string, repoRoot: string) {
  return async (value: string, flag: string): Promise<ResolvedPath & { recordRelative: string }> => {
    const fromCwd = path.resolve(value);
    const resolved = await resolveInside(recordDir, repoRoot, path.relative(recordDir, fromCwd) || '.', flag);
    return { ...resolved, recordRelative: path.relative(recordDir, resolved.absolute).split(path.sep).join('/') || '.' };
  };
}

async function modifiedTime(file: string): Promise<number | undefined> {
  try {
    return (await stat(file)).mtimeMs;
  } catch {
    return undefined;
  }
}

function defaultName(recordDir: string): string {
  return path.basename(recordDir).toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'run';
}

async function hashEntries<T extends { absolute: string; recordRelative: string }>(entries: T[]) {
  return Promise.all(entries.map(async (entry) => ({ path: entry.recordRelative, sha256: await sha256Path(entry.absolute) })));
}

/**
 * `repro-gate record`: runs the command in the current environment and writes a complete run record.
 * The record is validated against the same schema `verify` uses before it is written (atomically).
 */
export async function recordRun(options: RecordOptions): Promise<RecordResult> {
  const out = path.resolve(options.out);
  await mkdir(path.dirname(out), { recursive: true });
  const recordDir = await realpath(path.dirname(out));
  const gitRoot = await findRepoRoot(recordDir);
  const repoRoot = gitRoot ? await realpath(gitRoot) : recordDir;
  const resolve = makeResolver(recordDir, repoRoot);
  const warnings: string[] = [];

  const [workdir, artifacts, metrics, data, config, requirements] = await Promise.all([
    resolve(process.cwd(), 'the current folder'),
    Promise.all(options.artifacts.map((p) => resolve(p, '--artifact'))),
    options.metrics ? resolve(options.metrics, '--metrics') : undefined,
    Promise.all(
      options.data.map(async (entry) => ({
        data: await resolve(entry.path, '--data'),
        manifest: entry.manifest ? await resolve(entry.manifest, '--data (manifest)') : undefined,
      })),
    ),
    Promise.all(options.config.map((p) => resolve(p, '--config'))),
    options.requirements ? resolve(options.requirements, '--requirements') : undefined,
  ]);
  const outputs = [...artifacts, ...(metrics ? [metrics] : [])];
  const before = await Promise.all(outputs.map((output) => modifiedTime(output.absolute)));

  const logDir = await mkdtemp(path.join(tmpdir(), 'repro-gate-record-'));
  const seeds = options.seeds;
  const result = await options.hooks.group('record: run', () =>
    runCommand({
      command: options.command,
      cwd: process.cwd(),
      env: rerunEnvironment({ base: process.env, binDir: null, venvDir: null, variables: options.variables, seeds }),
      timeoutMs: Number.POSITIVE_INFINITY,
      logFile: path.join(logDir, LOG_FILE_NAME),
      onOutput: (chunk) => options.hooks.output(chunk),
    }),
  );
  if (result.exitCode !== 0) {
    throw new UserError(
      `the command failed (${result.signal ? `killed by ${result.signal}` : `exit status ${result.exitCode}`}); no record was written`,
      `Fix the command first; its log is ${path.join(logDir, LOG_FILE_NAME)}.`,
    );
  }
  const after = await Promise.all(outputs.map((output) => modifiedTime(output.absolute)));
  outputs.forEach((output, i) => {
    if (after[i] === undefined || after[i] === before[i]) {
      throw new UserError(
        `the command did not ${after[i] === undefined ? 'produce' : 'rewrite'} ${output.recordRelative}`,
        'Only outputs written by this run can be recorded; check the --artifact and --metrics paths.',
      );
    }
  });

  const [interpreter, commit, artifactHashes, dataHashes, configHashes, requirementsHash, metricValues] = await Promise.all([
    probeInterpreter(options.python),
    gitRoot ? headCommit(repoRoot) : undefined,
    hashEntries(artifacts),
    hashEntries(data.map((entry) => entry.data)),
    hashEntries(config),
    requirements ? sha256Path(requirements.absolute) : undefined,
    metrics ? readFile(metrics.absolute, 'utf8').then((text) => flattenMetrics(parseMetricsJson(text)).values) : undefined,
  ]);
  const packages = await pipFreeze(options.python);

  for (const [i, entry] of data.entries()) {
    if (!entry.manifest) continue;
    const manifest = await readManifest(entry.manifest.absolute, entry.manifest.recordRelative);
    if (manifest.content_hash !== undefined && manifest.content_hash !== `sha256:${dataHashes[i]!.sha256}`) {
      throw new UserError(
        `data manifest ${entry.manifest.recordRelative} has content_hash ${manifest.content_hash}, but ${entry.data.recordRelative} hashes to sha256:${dataHashes[i]!.sha256}`,
        'Update the manifest (or the data) so they agree before recording.',
      );
    }
  }
  if (gitRoot && (await hasUncommittedChanges(repoRoot))) {
    warnings.push(`the working tree has uncommitted changes, so code.commit (${commit?.slice(0, 12)}) does not fully describe this run; commit them together with the record`);
  }

  const record: RunRecord = {
    version: RECORD_VERSION,
    name: options.name ?? defaultName(recordDir),
    command: options.command,
    ...(workdir.recordRelative !== '.' ? { workdir: workdir.recordRelative } : {}),
    ...(options.timeout ? { timeout: options.timeout } : {}),
    ...(commit ? { code: { commit } } : {}),
    environment: {
      // major.minor: a runner's setup-python gives the latest patch, which rarely changes results.
      python: interpreter.version.split('.').slice(0, 2).join('.'),
      ...(requirements ? { requirements: requirements.recordRelative, requirements_sha256: requirementsHash } : {}),
      packages,
      platform: interpreter.platform,
      ...(Object.keys(options.variables).length > 0 ? { variables: options.variables } : {}),
    },
    ...(Object.keys(seeds).length > 0 ? { seeds } : {}),
    ...(configHashes.length > 0 ? { config: configHashes } : {}),
    ...(data.length > 0
      ? { data: data.map((entry, i) => ({ ...dataHashes[i]!, ...(entry.manifest ? { manifest: entry.manifest.recordRelative } : {}) })) }
      : {}),
    ...(artifactHashes.length > 0 ? { artifacts: artifactHashes } : {}),
    ...(metrics && metricValues ? { metrics: { path: metrics.recordRelative, values: metricValues } } : {}),
  };
  const validated = RunRecordSchema.safeParse(record);
  if (!validated.success) {
    const issue = validated.error.issues[0];
    throw new UserError(`the recorded run is not a valid record: ${issue?.path.join('.')}: ${issue?.message}`, 'Check the options you passed.');
  }
  await writeFileAtomic(out, stringify(validated.data, { lineWidth: 0 }));
  return { file: out, record: validated.data, warnings };
}
