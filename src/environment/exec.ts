import { spawn } from 'node:child_process';
import { withoutSecrets } from '../child-env.js';

export interface Captured {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The spawn failed outright (e.g. ENOENT: no such program). */
  spawnError?: NodeJS.ErrnoException;
}

/** The last line of a program's output, where tools say why they failed ('' when there is none). */
export function lastLine(text: string): string {
  return text.trim().split('\n').at(-1)?.trim() ?? '';
}

/**
 * Runs a program to completion and captures its output, without secrets in its environment; never throws, so callers
 * word the failure. Past `timeoutMs` the program is killed (SIGKILL) and `code` is null.
 */
export function capture(program: string, args: string[], env: NodeJS.ProcessEnv = withoutSecrets(process.env), cwd?: string, timeoutMs?: number): Promise<Captured> {
  return new Promise((resolve) => {
    const child = spawn(program, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs, killSignal: 'SIGKILL' });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', (spawnError: NodeJS.ErrnoException) => resolve({ code: null, stdout: '', stderr: '', spawnError }));
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(stdout).toString(), stderr: Buffer.concat(stderr).toString() }));
  });
}
