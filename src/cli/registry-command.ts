import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ExitCode } from '../constants.js';
import { defaultCacheRoot } from '../environment/index.js';
import { UserError } from '../errors.js';
import { verifyRecords } from '../pipeline/verify.js';
import { checkRegistry, policyProblems } from '../registry/check-registry.js';
import { DEFAULT_REGISTRY_DIR } from '../registry/names.js';
import { promoteVersion } from '../registry/promote.js';
import { publishVersion } from '../registry/publish.js';
import { registryPasses, renderRegistryMarkdown, renderRegistryTerminal, type RegistryView } from '../registry/report.js';
import type { Rerun } from '../registry/verification.js';
import { writeFileAtomic } from '../write-file-atomic.js';
import { parseCommandLine } from './parse-args.js';
import { terminalHooks } from './terminal-hooks.js';
import { COMMAND_USAGE } from './usage.js';

// `registry publish | check | promote`: the registry's three commands over src/registry.

const registryOption = { registry: { type: 'string' } } as const;
const shown = (dir: string) => dir.replace(/\/+$/, '') || '/';

async function runPublish(args: string[], stdout: NodeJS.WritableStream): Promise<number> {
  const { values, positionals } = parseCommandLine(args, { ...registryOption, model: { type: 'string' }, version: { type: 'string' } });
  const [recordFile, ...extra] = positionals;
  if (recordFile === undefined || extra.length > 0) throw new UserError('registry publish takes one run record', COMMAND_USAGE.registry);
  if (values.model === undefined || values.version === undefined) throw new UserError('registry publish needs --model NAME and --version X.Y.Z', COMMAND_USAGE.registry);
  const published = await publishVersion({ recordFile, registryDir: values.registry ?? DEFAULT_REGISTRY_DIR, model: values.model, version: values.version });
  stdout.write(`published ${values.model} ${values.version}: ${published.dir} (${published.files} files, checksum.txt included)\n`);
  return ExitCode.Ok;
}

async function runCheck(args: string[], stdout: NodeJS.WritableStream): Promise<number> {
  const { values, positionals } = parseCommandLine(args, { ...registryOption, base: { type: 'string' }, markdown: { type: 'string' } });
  if (positionals.length > 0) throw new UserError(`registry check takes no arguments (got ${positionals[0]})`, COMMAND_USAGE.registry);
  if (values.base === '') throw new UserError('--base needs a git ref (a branch, tag or commit)', COMMAND_USAGE.registry);
  const registryDir = values.registry ?? DEFAULT_REGISTRY_DIR;
  const check = await checkRegistry(registryDir, shown(registryDir), values.base);
  const view: RegistryView = { problems: [...check.problems, ...policyProblems(check.toJudge)], promotions: [], base: values.base };
  if (values.markdown !== undefined) await writeFileAtomic(values.markdown, `${renderRegistryMarkdown(view)}\n`);
  stdout.write(`${renderRegistryTerminal(view)}\n`);
  return registryPasses(view) ? ExitCode.Ok : ExitCode.Drift;
}

/** Reruns the version's record as `verify --at recorded` would, with the same defaults; the record's report. */
function rerunner(python: string | undefined, stderr: NodeJS.WritableStream): Rerun {
  return async (recordFile) => {
    const evidenceDir = await mkdtemp(path.join(tmpdir(), 'repro-gate-evidence-'));
    // At the recorded commit: the version is what that commit's code built, whatever the checkout's code is now.
    const report = await verifyRecords([recordFile], { python: python ?? 'python3', cacheRoot: defaultCacheRoot(), evidenceDir, keepArtifacts: false, hooks: terminalHooks(stderr), atRecorded: true });
    stderr.write(`Logs and evidence of the rerun: ${evidenceDir}\n`);
    return report.records[0]!;
  };
}

async function runPromote(args: string[], stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream): Promise<number> {
  const { values, positionals } = parseCommandLine(args, {
    ...registryOption,
    to: { type: 'string' },
    reason: { type: 'string' },
    report: { type: 'string' },
    actor: { type: 'string' },
    python: { type: 'string' },
  });
  const [model, version, ...extra] = positionals;
  if (model === undefined || version === undefined || extra.length > 0) throw new UserError('registry promote takes a model and a version', COMMAND_USAGE.registry);
  if (values.to === undefined || values.reason === undefined) throw new UserError('registry promote needs --to ALIAS and --reason TEXT', COMMAND_USAGE.registry);
  const registryDir = values.registry ?? DEFAULT_REGISTRY_DIR;
  const outcome = await promoteVersion({
    registryDir,
    shownDir: shown(registryDir),
    model,
    version,
    alias: values.to,
    reason: values.reason,
    actor: values.actor,
    reportFile: values.report,
    rerun: rerunner(values.python, stderr),
  });
  stdout.write(`${renderRegistryTerminal({ problems: [], promotions: [outcome.view] })}\n`);
  const done = outcome.finished ? `finished the interrupted promotion: ${values.to} now points to ${version}` : `promoted: ${values.to} now points to ${version}`;
  stdout.write(`${outcome.view.passes ? done : `refused: ${values.to} still points to ${outcome.view.from ?? 'nothing'}`}\n`);
  return outcome.view.passes ? ExitCode.Ok : ExitCode.Drift;
}

export async function runRegistryCommand(args: string[], stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream): Promise<number> {
  const [subcommand, ...rest] = args;
  switch (subcommand) {
    case 'publish':
      return runPublish(rest, stdout);
    case 'check':
      return runCheck(rest, stdout);
    case 'promote':
      return runPromote(rest, stdout, stderr);
    default:
      throw new UserError(subcommand ? `unknown registry command "${subcommand}"` : 'registry needs a command: publish, check or promote', COMMAND_USAGE.registry);
  }
}
