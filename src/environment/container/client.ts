import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { withoutSecrets } from '../../child-env.js';
import { CONTAINER_COMMAND_TIMEOUT_MS } from '../../constants.js';
import { type Captured, capture } from '../exec.js';
import type { ContainerRuntime } from './runtime.js';

// Every call of the runtime's client goes through here: by the absolute path found when the runtime was chosen,
// from the file system's root (never the checkout), with the host's own environment, and with a deadline. The
// containers repro-gate starts are tracked by name, so none outlives it: a deadline, an interruption (SIGINT,
// SIGTERM) or the end of the command removes them.

const live = new Map<string, ContainerRuntime>();

const removal = (name: string) => ['rm', '--force', '--volumes', name];
/** Where the client runs: the file system's root, never the checkout (nothing a pull request wrote is near it). */
export const neutralFolder = () => path.parse(process.cwd()).root;

function removeNow(name: string, runtime: ContainerRuntime): void {
  spawnSync(runtime.program, removal(name), { stdio: 'ignore', timeout: 30_000, env: withoutSecrets(process.env), cwd: neutralFolder() });
}

function onInterrupt(signal: NodeJS.Signals): void {
  for (const [name, runtime] of live) removeNow(name, runtime);
  live.clear();
  stopListening();
  // As if repro-gate had not listened: the signal's default action (the process ends).
  process.kill(process.pid, signal);
}

function stopListening(): void {
  process.removeListener('SIGINT', onInterrupt);
  process.removeListener('SIGTERM', onInterrupt);
}

/** Removes the container `name` however repro-gate ends, until the returned function says it is gone. */
export function trackContainer(runtime: ContainerRuntime, name: string): () => void {
  if (live.size === 0) {
    process.on('SIGINT', onInterrupt);
    process.on('SIGTERM', onInterrupt);
  }
  live.set(name, runtime);
  return () => {
    live.delete(name);
    if (live.size === 0) stopListening();
  };
}

/** `docker …` / `podman …` to completion; past the deadline the client is killed (and a named container removed). */
export async function runtimeCommand(runtime: ContainerRuntime, args: string[], options: { timeoutMs?: number; container?: string } = {}): Promise<Captured> {
  const untrack = options.container ? trackContainer(runtime, options.container) : undefined;
  try {
    const result = await capture(runtime.program, args, withoutSecrets(process.env), neutralFolder(), options.timeoutMs ?? CONTAINER_COMMAND_TIMEOUT_MS);
    if (result.code === null && options.container) await removeContainer(runtime, options.container);
    return result;
  } finally {
    untrack?.();
  }
}

/** Kills and removes a container with its anonymous volumes; a container that is already gone is fine. */
export async function removeContainer(runtime: ContainerRuntime, name: string): Promise<void> {
  await capture(runtime.program, removal(name), withoutSecrets(process.env), neutralFolder(), CONTAINER_COMMAND_TIMEOUT_MS);
}
