import { RUN_ID_ENV } from '../../constants.js';
import { allPids, environHas, environOf, isKernelThread, processStatus } from './process-table.js';
import type { SweepSource } from './sweep.js';

// The fallback where no cgroup can be created (GitHub's runner does the same with RUNNER_TRACKING_ID): every process
// of the run inherits a variable holding the run's unique id. A process that drops it (`env -u`, `env -i`) escapes.

export function markerEnvironment(runId: string): Record<string, string> {
  return { [RUN_ID_ENV]: runId };
}

/**
 * The processes carrying the run's marker, plus those still in the command's process group (a member that dropped the
 * marker but kept the group). Processes whose environment cannot be read (another user's) are not ours.
 */
export function markedProcesses(runId: string, processGroup: number): SweepSource {
  const entry = `${RUN_ID_ENV}=${runId}`;
  return {
    list: async () => {
      const pids = await allPids();
      const marked = await Promise.all(
        pids.map(async (pid) => {
          const status = await processStatus(pid);
          if (!status || status.state === 'Z' || isKernelThread(pid, status)) return undefined;
          if (status.processGroup === processGroup) return pid;
          const environ = await environOf(pid);
          return environ && environHas(environ, entry) ? pid : undefined;
        }),
      );
      return marked.filter((pid) => pid !== undefined);
    },
  };
}
