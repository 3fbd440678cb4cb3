import { constants } from 'node:fs';
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
const NativeLibrary = z.object({
  api: z.string().max(40),
  library: z.string().max(100),
  version: z.string().max(100).nullable(),
  threads: z.number().int().nonnegative().nullable(),
  architecture: z.string().max(100).nullable(),
});
const Native = z.object({
  libraries: z.array(NativeLibrary).max(20),
  cuda: z.string().max(40).nullable().optional(),
  cudnn: z.string().max(40).nullable().optional(),
});
const Exit = z.object({
  event: z.literal('exit'),
  pid: z.number().int(),
  distributions: z.array(z.string().max(200)).max(5_000),
  sandbox_modules: z.array(Path).max(100),
  // A malformed `native` loses the fingerprint, never the imports the line carries.
  native: Native.nullable().optional().catch(null),
});
const Calls = z.array(z.string().max(200)).max(10);
const Seeded = z.object({ event: z.literal('seeded'), pid: z.number().int(), module: z.string().max(40), calls: Calls });
const SeedFailed = z.object({ event: z.literal('seed-failed'), pid: z.number().int(), module: z.string().max(40), calls: Calls, error: z.string().max(1_000) });
const Read = z.object({ event: z.literal('read'), pid: z.number().int(), path: Path });
const ReadTruncated = z.object({ event: z.literal('read-truncated'), pid: z.number().int() });
const Listed = z.object({ event: z.literal('listed'), pid: z.number().int(), path: Path });
const ListedTruncated = z.object({ event: z.literal('listed-truncated'), pid: z.number().int() });
const Spawn = z.object({ event: z.literal('spawn'), pid: z.number().int(), what: z.string().max(1_000), probed: z.boolean() });
const TraceLine = z.discriminatedUnion('event', [Start, Missing, Exit, Seeded, SeedFailed, Read, ReadTruncated, Listed, ListedTruncated, Spawn]);

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
  /** The native thread pools (threadpoolctl) and GPU stack it had loaded at exit, when it imported a numeric library. */
  native?: NativeLibraries;
}

export type NativeLibraries = z.infer<typeof Native>;

/** What the probe did to a framework a process imported: the calls it made, or the error that stopped them. */
export interface SeedingEvent {
  pid: number;
  module: string;
  calls: string[];
  error?: string;
}

export interface ProbeTrace {
  processes: ProbedProcess[];
  seeding: SeedingEvent[];
  /** Files inside the sandbox (real paths) that some process read or imported: the training's input set. */
  readFiles: string[];
  /** A process read more files than the probe lists (or the trace itself was cut): the input set is incomplete. */
  readTruncated: boolean;
  /** Children the probe does not run in (shells, tools, isolated Pythons), the first ones: they may read files unseen. */
  unprobedChildren: string[];
  /** Files inside the sandbox that a process tried to read and that did not exist. */
  missingFiles: string[];
  /** Folders inside the sandbox (real paths) that some process listed, the import system's searches included. */
  listedFolders: string[];
  /** A listing the probe could not place (by file descriptor), too many, or a cut trace: any folder may have been listed. */
  listedTruncated: boolean;
}

/** The input set of one record: past this, it is incomplete (and the record always rerun). */
const MAX_READ_FILES = 50_000;

/** A command that starts a thousand interpreters seeds a thousand times; the first ones say what was done. */
const MAX_SEEDING_EVENTS = 200;

const MAX_LISTED_CHILDREN = 20;

/** The trace, at most PROBE_TRACE_MAX_BYTES of it; `cut` when there was more (what it lists is then incomplete). */
async function readBounded(file: string): Promise<{ text: string; cut: boolean }> {
  // The command can replace the trace (its folder is writable in a container's mount): a link is not followed, a FIFO
  // does not block the open, and anything but a regular file reads as a trace that was cut.
  const handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(() => undefined);
  if (!handle) return { text: '', cut: false };
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) return { text: '', cut: true };
    const size = stats.size;
    const buffer = Buffer.alloc(Math.min(size, PROBE_TRACE_MAX_BYTES));
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    return { text: buffer.subarray(0, bytesRead).toString('utf8'), cut: size > PROBE_TRACE_MAX_BYTES };
  } finally {
    await handle.close();
  }
}

/**
 * `onHost` maps the paths a process saw to the host's (a container's mount of the sandbox); the interpreter and its
 * prefix stay as they were, inside the container.
 */
export async function readTrace(traceFile: string, onHost?: (seen: string) => string): Promise<ProbeTrace> {
  const host = onHost ?? ((seen: string) => seen);
  const processes = new Map<number, ProbedProcess>();
  const missing = new Set<string>();
  const seeding: SeedingEvent[] = [];
  const read = new Set<string>();
  const listed = new Set<string>();
  const unprobed: string[] = [];
  const { text, cut } = await readBounded(traceFile);
  let readTruncated = cut;
  let listedTruncated = cut;
  for (const entry of text.split('\n')) {
    if (!entry) continue;
    let json: unknown;
    try {
      json = JSON.parse(entry);
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
        prefix: onHost ? line.prefix : await realpath(line.prefix).catch(() => line.prefix),
        version: line.version,
        script: line.script === null ? null : host(line.script),
        scriptInSandbox: line.script_in_sandbox,
        distributions: null,
        sandboxModules: [],
      });
    } else if (line.event === 'missing') {
      missing.add(host(line.path));
    } else if (line.event === 'read') {
      if (read.size < MAX_READ_FILES) read.add(host(line.path));
      else readTruncated = true;
    } else if (line.event === 'spawn') {
      if (!line.probed && unprobed.length < MAX_LISTED_CHILDREN) unprobed.push(line.what);
    } else if (line.event === 'read-truncated') {
      readTruncated = true;
    } else if (line.event === 'listed') {
      if (listed.size < MAX_READ_FILES) listed.add(host(line.path));
      else listedTruncated = true;
    } else if (line.event === 'listed-truncated') {
      listedTruncated = true;
    } else if (line.event === 'seeded' || line.event === 'seed-failed') {
      if (seeding.length < MAX_SEEDING_EVENTS) seeding.push({ pid: line.pid, module: line.module, calls: line.calls, ...('error' in line ? { error: line.error } : {}) });
    } else {
      const process = processes.get(line.pid);
      if (process) Object.assign(process, { distributions: line.distributions, sandboxModules: line.sandbox_modules.map(host), ...(line.native ? { native: line.native } : {}) });
    }
  }
  return { processes: [...processes.values()], seeding, readFiles: [...read], readTruncated, unprobedChildren: unprobed, missingFiles: [...missing], listedFolders: [...listed], listedTruncated };
}
