import { open, realpath } from 'node:fs/promises';
import { z } from 'zod';
import { PROBE_TRACE_MAX_BYTES } from '../../constants.js';

// The trace is written by the command's own processes, so it is untrusted input: parsed line by line with zod,
// bounded in size, and a line that does not parse is skipped.

const Path = z.string().max(4096);
const Start = z.object({
  event: z.literal('start'),
  pid: z.number().int(),
  ppid: z.number().int(),
  executable: Path,
  prefix: Path,
  version: z.string().max(40),
  script: Path.nullable(),
  script_in_sandbox: z.boolean(),
  cwd: Path,
});
const Missing = z.object({ event: z.literal('missing'), pid: z.number().int(), path: Path });
const Exit = z.object({
  event: z.literal('exit'),
  pid: z.number().int(),
  distributions: z.array(z.string().max(200)).max(5_000),
  sandbox_modules: z.array(Path).max(100),
});
const TraceLine = z.discriminatedUnion('event', [Start, Missing, Exit]);

/** One Python process of the command, as the probe saw it. */
export interface ProbedProcess {
  pid: number;
  executable: string;
  /** sys.prefix with symlinks resolved: the venv folder for a venv's interpreter. */
  prefix: string;
  version: string;
  script: string | null;
  scriptInSandbox: boolean;
  /** Distributions whose modules it imported; null when it never reached its exit handlers (os._exit, killed). */
  distributions: string[] | null;
  sandboxModules: string[];
}

export interface ProbeTrace {
  processes: ProbedProcess[];
  /** Files inside the sandbox that a process tried to read and that did not exist. */
  missingFiles: string[];
}

async function readBounded(file: string): Promise<string> {
  const handle = await open(file, 'r').catch(() => undefined);
  if (!handle) return '';
  try {
    const buffer = Buffer.alloc(Math.min((await handle.stat()).size, PROBE_TRACE_MAX_BYTES));
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    return buffer.subarray(0, bytesRead).toString('utf8');
  } finally {
    await handle.close();
  }
}

export async function readTrace(traceFile: string): Promise<ProbeTrace> {
  const processes = new Map<number, ProbedProcess>();
  const missing = new Set<string>();
  for (const text of (await readBounded(traceFile)).split('\n')) {
    if (!text) continue;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      continue;
    }
    const parsed = TraceLine.safeParse(json);
    if (!parsed.success) continue;
    const line = parsed.data;
    if (line.event === 'start') {
      processes.set(line.pid, {
        pid: line.pid,
        executable: line.executable,
        prefix: await realpath(line.prefix).catch(() => line.prefix),
        version: line.version,
        script: line.script,
        scriptInSandbox: line.script_in_sandbox,
        distributions: null,
        sandboxModules: [],
      });
    } else if (line.event === 'missing') {
      missing.add(line.path);
    } else {
      const process = processes.get(line.pid);
      if (process) Object.assign(process, { distributions: line.distributions, sandboxModules: line.sandbox_modules });
    }
  }
  return { processes: [...processes.values()], missingFiles: [...missing] };
}
