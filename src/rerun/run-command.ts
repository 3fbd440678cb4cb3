import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { KILL_GRACE_MS, LOG_TAIL_LINES, LOG_TAIL_MAX_CHARS, OUTPUT_CLOSE_GRACE_MS } from '../constants.js';
import { type ContainmentKind, startContained } from './containment/index.js';
import { LogTail } from './log-tail.js';

export interface RunCommandOptions {
  command: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  logFile: string;
  onOutput?: (chunk: Buffer) => void;
  /** Runs the shell through something else (a container runtime's client); default: directly. */
  launcher?: CommandLauncher;
}

/** What actually starts: the program line for `argv`, and how to stop what it started outside its process tree. */
export interface Launch {
  argv: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Called once the command ended (and at once on a timeout): removes what outlives the client, such as a container. */
  stop?: (timedOut: boolean) => Promise<void>;
}

export type CommandLauncher = (argv: string[], cwd: string, env: NodeJS.ProcessEnv, timeoutMs: number) => Launch;

export interface CommandResult {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  durationMs: number;
  logTail: string;
  /** How the command's processes were tracked (see src/rerun/containment). */
  containment: ContainmentKind;
  /** Command lines of processes still running when the command ended or timed out, killed then. */
  killed: string[];
}

/** Signals the whole process group; the group may already be gone. */
function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: nothing left to kill.
  }
}

/**
 * Runs `sh -c command` in its own process group (and its own cgroup where possible), streaming output live, to the
 * log file and to a tail. A timeout terminates the whole tree (SIGTERM, then SIGKILL after a grace period); after the
 * command ends, every process it left behind is killed, daemons included.
 * A command sh cannot start ends with sh's own exit status 127, like in a terminal.
 */
export async function runCommand(options: RunCommandOptions): Promise<CommandResult> {
  await mkdir(path.dirname(options.logFile), { recursive: true });
  const log = createWriteStream(options.logFile);
  const tail = new LogTail(LOG_TAIL_LINES, LOG_TAIL_MAX_CHARS);
  const started = performance.now();
  // By absolute path: the record's variables may set PATH to anything, and a shell that cannot start would crash.
  const shell = ['/bin/sh', '-c', options.command];
  const launch = options.launcher?.(shell, options.cwd, options.env, options.timeoutMs) ?? { argv: shell, cwd: options.cwd, env: options.env };
  const contained = await startContained(launch.argv, { cwd: launch.cwd, env: launch.env });
  const { child } = contained;
  const pid = child.pid!;
  const onChunk = (chunk: Buffer) => {
    log.write(chunk);
    tail.push(chunk);
    options.onOutput?.(chunk);
  };
  child.stdout.on('data', onChunk);
  child.stderr.on('data', onChunk);

  let timedOut = false;
  let stopping: Promise<void> | undefined;
  let killTimer: NodeJS.Timeout | undefined;
  const timer = Number.isFinite(options.timeoutMs)
    ? setTimeout(() => {
        timedOut = true;
        stopping = launch.stop?.(true);
        killGroup(pid, 'SIGTERM');
        killTimer = setTimeout(() => killGroup(pid, 'SIGKILL'), KILL_GRACE_MS);
      }, options.timeoutMs)
    : undefined;

  const closed = once(child, 'close').then(() => true);
  const [exitCode, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  clearTimeout(timer);
  clearTimeout(killTimer);
  // After a timeout, removed once more: a container still being created when it was first removed exists only now.
  await stopping;
  await launch.stop?.(false);
  const killed = await contained.sweep();
  killGroup(pid, 'SIGKILL');
  // A process that escaped every tracker may still hold the output pipes: they are closed from our side after a grace.
  // Unreferenced: once the pipes close, the pending grace must not keep the process alive.
  if (!(await Promise.race([closed, delay(OUTPUT_CLOSE_GRACE_MS, false, { ref: false })]))) {
    child.stdout.destroy();
    child.stderr.destroy();
  }
  await contained.dispose();
  log.end();
  await once(log, 'close');
  return { exitCode, signal, timedOut, durationMs: performance.now() - started, logTail: tail.text(), containment: contained.kind, killed };
}
