import { setTimeout as delay } from 'node:timers/promises';
import { SWEEP_MAX_MS } from '../../constants.js';
import { commandLine, isRunning, killProcess } from './process-table.js';

const SWEEP_PAUSE_MS = 10;

export interface SweepSource {
  /** The processes that belong to the run right now (they may be exiting, or zombies). */
  list(): Promise<number[]>;
  /** A kill of everything at once, where the mechanism has one (cgroup v2's `cgroup.kill`). */
  killAll?(): Promise<void>;
}

/**
 * Kills the run's processes until none is left: a process may fork while it is being killed, so the list is read
 * again after every round. Bounded in time: a process stuck in the kernel (state D) cannot be killed by anyone.
 * Returns the command line of every process it killed, in the order they were found.
 */
export async function sweep(source: SweepSource, seen = new Set<number>()): Promise<Array<{ pid: number; command: string }>> {
  const killed: Array<{ pid: number; command: string }> = [];
  const deadline = performance.now() + SWEEP_MAX_MS;
  for (;;) {
    const pids = await source.list();
    const running = (await Promise.all(pids.map(async (pid) => ((await isRunning(pid)) ? pid : undefined)))).filter((pid) => pid !== undefined);
    if (running.length === 0 || performance.now() > deadline) return killed;
    // Command lines first: after the kill they are gone.
    const fresh = running.filter((pid) => !seen.has(pid));
    const commands = await Promise.all(fresh.map(commandLine));
    fresh.forEach((pid, i) => {
      seen.add(pid);
      killed.push({ pid, command: commands[i]! });
    });
    await source.killAll?.().catch(() => undefined);
    for (const pid of running) killProcess(pid);
    await delay(SWEEP_PAUSE_MS);
  }
}
