import { UserError } from '../errors.js';
import { ExitCode } from '../constants.js';
import { defaultCacheRoot } from '../environment/index.js';
import { checkRunsFlags, recordRun } from '../pipeline/record.js';
import { updateRecord } from '../pipeline/record-update.js';
import { formatDuration } from '../report/format.js';
import type { StageTiming } from '../report/schema.js';
import { numberFlag, parseCommandLine, parsePairs } from './parse-args.js';
import { terminalHooks } from './terminal-hooks.js';
import { USAGE_HINT } from './usage.js';
import { shellQuote } from '../rerun/shell-quote.js';

/** `--data PATH=MANIFEST` pairs a dataset with its manifest. */
function parseData(values: string[] | undefined) {
  return (values ?? []).map((value) => {
    const [dataPath, manifest] = value.split('=', 2) as [string, string | undefined];
    return { path: dataPath, ...(manifest ? { manifest } : {}) };
  });
}

/** One argument is taken as a shell command line; several are quoted so each stays one word. */
function commandLine(words: string[]): string {
  if (words.length === 1) return words[0]!;
  return words.map(shellQuote).join(' ');
}

/** Seeds and variables are strings in the environment; quoting keeps numbers-as-text unambiguous in YAML. */
function asStrings(pairs: Record<string, string | number>): Record<string, string> {
  return Object.fromEntries(Object.entries(pairs).map(([name, value]) => [name, String(value)]));
}

function stagesLine(stages: StageTiming[]): string {
  return `stages: ${stages.map((stage) => `${stage.stage} ${formatDuration(stage.durationMs)}`).join(' · ')}`;
}

/** `record --update RECORD...`: each record is rerun and its measured fields rewritten; prints the diff. */
async function runUpdates(records: string[], values: { python?: string; force?: boolean; runs?: number; calibrateFactor?: number; image?: string }, stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream): Promise<number> {
  let exitCode: number = ExitCode.Ok;
  for (const record of records) {
    const result = await updateRecord(record, {
      python: values.python ?? 'python3',
      cacheRoot: defaultCacheRoot(),
      force: values.force ?? false,
      runs: values.runs,
      calibrateFactor: values.calibrateFactor,
      image: values.image,
      hooks: terminalHooks(stderr),
    });
    if (result.diff) stdout.write(`${result.diff}\n`);
    for (const warning of result.warnings) stderr.write(`warning: ${warning}\n`);
    for (const line of result.determinism ?? []) stderr.write(`${line}\n`);
    stderr.write(`${result.written || result.exitCode === ExitCode.Ok ? '' : 'error: '}${result.message}\n${stagesLine(result.report.stages)}\n`);
    exitCode = Math.max(exitCode, result.exitCode);
  }
  return exitCode;
}

export async function runRecordCommand(args: string[], stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream): Promise<number> {
  const { values, positionals } = parseCommandLine(args, {
    name: { type: 'string' },
    out: { type: 'string', default: 'run.yaml' },
    artifact: { type: 'string', multiple: true },
    numeric: { type: 'string', multiple: true },
    metrics: { type: 'string' },
    data: { type: 'string', multiple: true },
    config: { type: 'string', multiple: true },
    requirements: { type: 'string' },
    installer: { type: 'string' },
    lockfile: { type: 'string' },
    group: { type: 'string', multiple: true },
    extra: { type: 'string', multiple: true },
    'current-env': { type: 'boolean' },
    image: { type: 'string' },
    network: { type: 'boolean' },
    gpu: { type: 'boolean' },
    seed: { type: 'string', multiple: true },
    var: { type: 'string', multiple: true },
    'pass-env': { type: 'string', multiple: true },
    watch: { type: 'string', multiple: true },
    timeout: { type: 'string' },
    python: { type: 'string' },
    update: { type: 'boolean' },
    force: { type: 'boolean' },
    runs: { type: 'string' },
    'calibrate-factor': { type: 'string' },
    determinism: { type: 'string' },
  });
  const runs = numberFlag(values.runs, '--runs');
  const calibrateFactor = numberFlag(values['calibrate-factor'], '--calibrate-factor');
  checkRunsFlags(runs, calibrateFactor);
  if (values.determinism !== undefined && values.determinism !== 'strict' && values.determinism !== 'default') {
    throw new UserError(`--determinism "${values.determinism}" is not a mode`, 'Use --determinism strict (deterministic algorithms, one BLAS thread), or leave it out.');
  }
  if (values.installer !== undefined && values.installer !== 'pip' && values.installer !== 'uv') {
    throw new UserError(`--installer "${values.installer}" is not an installer`, 'Use --installer uv (uv pip install) or --installer pip (the default).');
  }
  if (values.update) {
    if (positionals.length === 0) throw new UserError('record --update needs the run records to update', 'Example: repro-gate record --update run.yaml');
    if (values.determinism !== undefined) throw new UserError('--determinism does not apply with --update', 'Set `determinism: strict` in the record by hand; --update keeps what is written there.');
    const environmentFlag = (['requirements', 'installer', 'lockfile', 'group', 'extra', 'current-env', 'network', 'gpu'] as const).find((flag) => values[flag] !== undefined);
    if (environmentFlag) throw new UserError(`--${environmentFlag} does not apply with --update`, 'The record keeps its environment (only --image replaces its image): edit `environment` in run.yaml by hand (or record it again), then run record --update.');
    return runUpdates(positionals, { ...values, runs, calibrateFactor }, stdout, stderr);
  }
  if (values.force) throw new UserError('--force only applies with --update', USAGE_HINT);
  if (positionals.length === 0) throw new UserError('record needs the command to run after `--`', USAGE_HINT);
  if (!values.artifact?.length && !values.numeric?.length && !values.metrics) {
    throw new UserError('record needs at least one --artifact or --metrics: otherwise there is nothing to reproduce', USAGE_HINT);
  }
  const result = await recordRun({
    out: values.out,
    name: values.name,
    command: commandLine(positionals),
    artifacts: [...(values.artifact ?? []), ...(values.numeric ?? [])],
    numeric: values.numeric ?? [],
    metrics: values.metrics,
    data: parseData(values.data),
    config: values.config ?? [],
    requirements: values.requirements,
    installer: values.installer as 'pip' | 'uv' | undefined,
    lockfile: values.lockfile,
    groups: values.group ?? [],
    extras: values.extra ?? [],
    currentEnv: values['current-env'] ?? false,
    image: values.image,
    network: values.network,
    gpu: values.gpu,
    seeds: parsePairs(values.seed, '--seed', true),
    strict: values.determinism === 'strict',
    runs,
    calibrateFactor,
    variables: asStrings(parsePairs(values.var, '--var')),
    passEnv: values['pass-env'] ?? [],
    watch: values.watch ?? [],
    timeout: values.timeout,
    python: values.python ?? 'python3',
    cacheRoot: defaultCacheRoot(),
    hooks: terminalHooks(stderr),
  });
  for (const warning of result.warnings) stderr.write(`warning: ${warning}\n`);
  for (const line of result.determinism ?? []) stderr.write(`${line}\n`);
  stderr.write(`${stagesLine(result.stages)}\n`);
  stdout.write(`Recorded ${result.record.name} in ${result.file}\n`);
  return ExitCode.Ok;
}
