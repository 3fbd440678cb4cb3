import { readdir, readFile } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { KILLED_COMMAND_MAX_CHARS } from '../../constants.js';

// Reading Linux's process table (/proc). Every read may fail: the process may be gone, or belong to another user.

export interface ProcessStatus {
  /** One letter: `R`, `S`, `D`, `Z` (zombie: exited, only waiting for its parent to collect it), … */
  state: string;
  parent: number;
  processGroup: number;
}

/** Pure: the fields after the command name, which may itself hold spaces and parentheses. */
export function parseStat(stat: string): ProcessStatus | undefined {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const [parent, processGroup] = [Number(fields[1]), Number(fields[2])];
  if (!fields[0] || !Number.isInteger(parent) || !Number.isInteger(processGroup)) return undefined;
  return { state: fields[0], parent, processGroup };
}

/** Kernel threads (children of kthreadd, pid 2) have no argv and no environment, ever. */
export function isKernelThread(pid: number, status: ProcessStatus): boolean {
  return pid === 2 || status.parent === 2;
}

export async function processStatus(pid: number): Promise<ProcessStatus | undefined> {
  return readFile(`/proc/${pid}/stat`, 'utf8').then(parseStat, () => undefined);
}

/** A process that has not exited: zombies hold no resources and ignore signals, so they count as gone. */
export async function isRunning(pid: number): Promise<boolean> {
  const status = await processStatus(pid);
  return status !== undefined && status.state !== 'Z';
}

/** Pure: the NUL-separated argv as one line, capped so a report stays small. */
export function formatCommandLine(cmdline: Buffer): string {
  const line = cmdline.toString('utf8').replace(/\0+$/, '').replace(/\0/g, ' ').trim();
  return line.length > KILLED_COMMAND_MAX_CHARS ? `${line.slice(0, KILLED_COMMAND_MAX_CHARS - 1)}…` : line;
}

// A process in the middle of an exec shows an empty argv and environment for a moment.
const EXEC_ATTEMPTS = 10;
const EXEC_PAUSE_MS = 2;

/** The file's content once it is not empty (or after a few tries); undefined when it cannot be read. */
async function readAfterExec(file: string): Promise<Buffer | undefined> {
  let content: Buffer | undefined;
  for (let attempt = 0; attempt < EXEC_ATTEMPTS; attempt++) {
    content = await readFile(file).catch(() => undefined);
    if (content === undefined || content.length > 0) return content;
    await delay(EXEC_PAUSE_MS);
  }
  return content;
}

export async function commandLine(pid: number): Promise<string> {
  const cmdline = await readAfterExec(`/proc/${pid}/cmdline`);
  if (cmdline && cmdline.length > 0) return formatCommandLine(cmdline);
  // Gone, or still without argv: its name is the next best thing.
  const comm = await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '');
  return comm.trim() ? `[${comm.trim()}]` : `pid ${pid}`;
}

/** Pure: whether a NUL-separated environment block holds exactly `NAME=value`. */
export function environHas(environ: Buffer, entry: string): boolean {
  return environ.toString('latin1').split('\0').includes(entry);
}

/** Every pid in /proc except ours. */
export async function allPids(): Promise<number[]> {
  const names = await readdir('/proc').catch(() => [] as string[]);
  return names.filter((name) => /^\d+$/.test(name)).map(Number).filter((pid) => pid !== process.pid);
}

/** The process's environment as it was at exec; undefined when it cannot be read (another user's, or gone). */
export async function environOf(pid: number): Promise<Buffer | undefined> {
  return readAfterExec(`/proc/${pid}/environ`);
}

export function killProcess(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // ESRCH: already gone. EPERM: not ours to kill, and nothing else can be done about it.
  }
}
