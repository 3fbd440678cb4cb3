import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { TOOL_NAME } from '../../constants.js';
import { parseCgroupMounts } from './cgroup-hierarchies.js';
import type { SweepSource } from './sweep.js';

// Without write access to the cgroup filesystem (a normal user on a desktop), the user's systemd can still put the
// command in a scope of its own: `systemd-run --user --scope` moves itself into a new cgroup, then execs the command.

const run = promisify(execFile);
const PROBE_TIMEOUT_MS = 5_000;

const SCOPE_FLAGS = ['--user', '--scope', '--quiet', '--collect'];

let available: Promise<boolean> | undefined;

/** Whether the user's systemd answers (it needs a session bus), tried once per process with a command that does nothing. */
export function systemdScopeAvailable(): Promise<boolean> {
  available ??= run('systemd-run', [...SCOPE_FLAGS, '--', 'true'], { timeout: PROBE_TIMEOUT_MS }).then(
    () => true,
    () => false,
  );
  return available;
}

export interface SystemdScope extends SweepSource {
  /** The command line to spawn instead of `argv`: the same process, inside the scope. */
  wrap(argv: string[]): string[];
  remove(): Promise<void>;
}

export function systemdScope(runId: string): SystemdScope {
  const unit = `${TOOL_NAME}-${runId}.scope`;
  const systemctl = (...args: string[]) => run('systemctl', ['--user', ...args], { timeout: PROBE_TIMEOUT_MS });
  return {
    wrap: (argv) => ['systemd-run', ...SCOPE_FLAGS, `--unit=${unit}`, '--', ...argv],
    list: async () => {
      // The scope is gone (collected) once it is empty; then nothing is left to list.
      const { stdout } = await systemctl('show', '--property=ControlGroup', '--value', unit).catch(() => ({ stdout: '' }));
      const controlGroup = stdout.trim();
      if (!controlGroup) return [];
      const mountinfo = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
      const unified = parseCgroupMounts(mountinfo).find((mount) => mount.version === 2 && mount.root === '/');
      if (!unified) return [];
      const text = await readFile(path.join(unified.mountPoint, controlGroup, 'cgroup.procs'), 'utf8').catch(() => '');
      return text.split('\n').filter(Boolean).map(Number);
    },
    killAll: async () => {
      await systemctl('kill', '--signal=SIGKILL', unit);
    },
    remove: async () => {
      await systemctl('stop', unit).catch(() => undefined);
    },
  };
}
