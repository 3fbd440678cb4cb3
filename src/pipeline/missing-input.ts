import { lstat, realpath } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../errors.js';
import { isUnderAny, leadsOutside } from '../record/paths.js';
import { outsideWritesError, type SandboxedRun } from './sandboxed-run.js';

// A file that is in the user's working tree but not in the sandbox (git ignores it, and it was not passed with
// --data) makes `record` succeed where every `verify` would fail. At record time it is named, with the fix.

/** Paths a non-Python tool reported missing, from the messages of coreutils, shells and most C programs. */
function missingInLog(logTail: string): string[] {
  const found = new Set<string>();
  for (const match of logTail.matchAll(/No such file or directory: '([^'\n]+)'/g)) found.add(match[1]!);
  for (const match of logTail.matchAll(/(?:^|\s)'?([^\s':]+)'?: No such file or directory/gm)) found.add(match[1]!);
  return [...found];
}

async function existsInCheckout(repoRoot: string, repoRelative: string): Promise<boolean> {
  return lstat(path.join(repoRoot, repoRelative)).then(
    () => true,
    () => false,
  );
}

/** `fromLog`: also the paths a failed run's log names (a non-Python tool); the probe's own list is exact. */
async function leftOutInput(run: SandboxedRun, repoRoot: string, workdir: string, fromLog: boolean, outputs: readonly string[]): Promise<string | undefined> {
  const root = await realpath(run.root);
  const candidates = [
    ...run.trace.missingFiles.map((file) => path.relative(root, file)),
    ...(fromLog ? missingInLog(run.result.logTail).map((file) => path.relative(root, path.resolve(root, workdir, file))) : []),
  ]
    .filter((relative) => relative && !leadsOutside(relative))
    // A training that resumes from its own earlier output (out/checkpoint.pt) is not missing an input.
    .filter((relative) => !isUnderAny(relative, outputs));
  for (const candidate of candidates) {
    if (await existsInCheckout(repoRoot, candidate)) return candidate.split(path.sep).join('/');
  }
  return undefined;
}

/** The one message for a run that cannot be recorded: a left-out input, a failure, a timeout, or the wrong interpreter. */
export async function explainFailedRun(run: SandboxedRun, repoRoot: string, workdir: string, logFile: string, outputs: readonly string[] = []): Promise<UserError | undefined> {
  const { result } = run;
  if (run.outsideWrites.length > 0) return outsideWritesError(run.outsideWrites);
  if (result.timedOut) return new UserError('the command timed out and was killed; no record was written', `Raise --timeout; the log is ${logFile}.`);
  // Also when the run succeeded without it (it caught the error): the probe saw the read fail.
  const input = await leftOutInput(run, repoRoot, workdir, result.exitCode !== 0, outputs);
  if (input) {
    return new UserError(
      `the command could not open ${input}: it is in your working tree, but git ignores it and it was not passed with --data, so verify would never see it; no record was written`,
      `Pass it with --data ${input} (or commit it).`,
    );
  }
  if (result.exitCode !== 0) {
    return new UserError(
      `the command failed (${result.signal ? `killed by ${result.signal}` : `exit status ${result.exitCode}`}); no record was written`,
      `Fix the command first; its log is ${logFile}.`,
    );
  }
  if (run.environmentUse.problem) {
    const { message, hint } = run.environmentUse.problem;
    return new UserError(`${message}; no record was written`, hint);
  }
  return undefined;
}
