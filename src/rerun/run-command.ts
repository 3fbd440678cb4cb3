import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { once } from 'node:events';
import { KILL_GRACE_MS, LOG_TAIL_LINES, LOG_TAIL_MAX_CHARS } from '../constants.js';
import { LogTail } from './log-tail.js';

export interface RunCommandOptions {
  command: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  logFile: string;
  onOutput?: (chunk: Buffer) => void;
}

export interface CommandResult {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  durationMs: number;
  logTail: string;
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
 * Runs `sh -c command` in its own process group, streaming output live, to the log file and to a tail.
 * A timeout terminates the whole tree (SIGTERM, then SIGKILL after a grace period); after a normal exit,
 * anything the command left running in the background is killed too.
 * A command sh cannot start ends with sh's own exit status 127, like in a terminal.
 */
export async function runCommand(options: RunCommandOptions): Promise<CommandResult> {
  await mkdir(path.dirname(options.logFile), { recursive: true });
  const log = createWriteStream(options.logFile);
  const tail = new LogTail(LOG_TAIL_LINES, LOG_TAIL_MAX_CHARS);
  const started = performance.now();
  const child = spawn('sh', ['-c', options.command], { cwd: options.cwd, env: options.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const pid = child.pid!;
  const onChunk = (chunk: Buffer) => {
    log.write(chunk);
    tail.push(chunk);
    options.onOutput?.(chunk);
  };
  child.stdout.on('data', onChunk);
  child.stderr.on('data', onChunk);

  let timedOut = false;
  let killTimer: NodeJS.Timeout | undefined;
  const timer = Number.isFinite(options.timeoutMs)
    ? setTimeout(() => {
        timedOut = true;
        killGroup(pid, 'SIGTERM');
        killTimer = setTimeout(() => killGroup(pid, 'SIGKILL'), KILL_GRACE_MS);
      }, options.timeoutMs)
    : undefined;

  const closed = once(child, 'close');
  const [exitCode, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  clearTimeout(timer);
  clearTimeout(killTimer);
  // Background children still hold the output pipes open; they die with the group, then the pipes close.
  killGroup(pid, 'SIGKILL');
  await closed;
  log.end();
  await once(log, 'close');
  return { exitCode, signal, timedOut, durationMs: performance.now() - started, logTail: tail.text() };
}
