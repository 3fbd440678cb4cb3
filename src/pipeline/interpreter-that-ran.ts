import { probeInterpreter, pipFreeze } from '../environment/index.js';
import type { ProbeTrace } from '../rerun/probe/read-trace.js';

export interface RanInterpreter {
  executable: string;
  version: string;
  platform: string;
  packages: Record<string, string>;
  warnings: string[];
}

/**
 * Without a rebuilt venv, the packages to record are those of the interpreter that actually ran the training
 * (the one that ran a file of the project, else the first one), never of whatever `python3` is on PATH.
 */
export async function interpreterThatRan(trace: ProbeTrace): Promise<RanInterpreter | undefined> {
  const main = trace.processes.find((process) => process.scriptInSandbox || process.sandboxModules.length > 0) ?? trace.processes[0];
  if (!main) return undefined;
  const [interpreter, packages] = await Promise.all([probeInterpreter(main.executable), pipFreeze(main.executable)]);
  const others = [...new Set(trace.processes.filter((process) => process.prefix !== main.prefix).map((process) => process.executable))];
  const warnings = others.length > 0 ? [`the command also ran ${others.join(', ')}; only ${main.executable}'s packages are recorded`] : [];
  return { executable: main.executable, version: interpreter.version, platform: interpreter.platform, packages, warnings };
}
