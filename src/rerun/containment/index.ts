import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';
import { KILLED_LISTED_MAX } from '../../constants.js';
import { type Cgroup, moveIntoNewCgroup, writableCgroupParents } from './cgroup.js';
import { markedProcesses, markerEnvironment } from './marker.js';
import { sweep } from './sweep.js';
import { type SystemdScope, systemdScope, systemdScopeAvailable } from './systemd-scope.js';

// Picks how the rerun's processes are tracked, so that none outlives it: a cgroup where one can be created
// (the cgroup filesystem, else the user's systemd), else an environment marker. The marker is set in every case.

/**
 * `cgroup`: a process cannot leave it unless it may write to the cgroup tree itself (a rerun running as root, or as
 * the owner of a systemd user scope, can). `marker`: a process that drops the variable (`env -u`) escapes.
 */
export type ContainmentKind = 'cgroup' | 'marker';

export interface ContainedProcess {
  child: ChildProcessByStdio<Writable | null, Readable, Readable>;
  kind: ContainmentKind;
  /** Kills every process of the run still running; returns their command lines (the first ones). */
  sweep(): Promise<string[]>;
  /** Removes the cgroup, if one was created. */
  dispose(): Promise<void>;
}

export interface StartOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
}

// The command waits for one line on stdin before it starts, so it is in the cgroup before it can fork;
// then it runs with stdin on /dev/null, as it would have without the wait.
const HELD_START = 'read -r _ && exec "$@" </dev/null';

type Tracker = Cgroup | SystemdScope | undefined;

// Its own process group, so that a timeout can signal the whole tree at once.
function spawnPiped(argv: string[], options: StartOptions) {
  return spawn(argv[0]!, argv.slice(1), { cwd: options.cwd, env: options.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
}

async function startInCgroupfs(argv: string[], options: StartOptions, runId: string) {
  const parents = await writableCgroupParents();
  if (parents.length === 0) return undefined;
  const child = spawn('/bin/sh', ['-c', HELD_START, 'sh', ...argv], { cwd: options.cwd, env: options.env, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
  const cgroup = await moveIntoNewCgroup(child.pid!, runId, parents);
  child.stdin.on('error', () => undefined);
  child.stdin.end('\n');
  return { child, tracker: cgroup };
}

async function start(argv: string[], options: StartOptions, runId: string): Promise<{ child: ContainedProcess['child']; tracker: Tracker }> {
  const inCgroupfs = await startInCgroupfs(argv, options, runId);
  if (inCgroupfs) return inCgroupfs;
  if (await systemdScopeAvailable()) {
    const scope = systemdScope(runId);
    return { child: spawnPiped(scope.wrap(argv), options), tracker: scope };
  }
  return { child: spawnPiped(argv, options), tracker: undefined };
}

/** Starts `argv` in its own process group, tracked by a cgroup where possible and by the marker always. */
export async function startContained(argv: string[], options: StartOptions): Promise<ContainedProcess> {
  const runId = randomUUID();
  const env = { ...options.env, ...markerEnvironment(runId) };
  const { child, tracker } = await start(argv, { ...options, env }, runId);
  return {
    child,
    kind: tracker ? 'cgroup' : 'marker',
    sweep: async () => {
      const seen = new Set<number>();
      const killed = tracker ? await sweep(tracker, seen) : [];
      // Also under a cgroup: a process moved out of it by someone with the right to do so still carries the marker.
      killed.push(...(await sweep(markedProcesses(runId, child.pid!), seen)));
      return killed.slice(0, KILLED_LISTED_MAX).map((process) => process.command);
    },
    dispose: async () => {
      await tracker?.remove();
    },
  };
}
