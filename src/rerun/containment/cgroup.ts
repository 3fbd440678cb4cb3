import { access, constants, mkdir, readdir, readFile, rmdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { TOOL_NAME } from '../../constants.js';
import { type CgroupCandidate, cgroupCandidates } from './cgroup-hierarchies.js';
import type { SweepSource } from './sweep.js';

// A cgroup created directly in the cgroup filesystem (root, or a delegated subtree). Unlike a process group or an
// environment variable, a process cannot leave it without write access to the hierarchy, and its children are born in it.

const REMOVE_ATTEMPTS = 20;
const REMOVE_PAUSE_MS = 25;
/** An empty cgroup of ours this old was left by a repro-gate that was killed before it could clean up. */
const STALE_AFTER_MS = 60_000;
const OUR_CGROUP = new RegExp(`^${TOOL_NAME}-[0-9a-f-]{36}$`);

export interface Cgroup extends SweepSource {
  folder: string;
  remove(): Promise<void>;
}

/** The candidates this host offers, where we may create a folder; empty when none (no cgroupfs, or not permitted). */
export async function writableCgroupParents(): Promise<CgroupCandidate[]> {
  const [mountinfo, own] = await Promise.all([readFile('/proc/self/mountinfo', 'utf8').catch(() => ''), readFile('/proc/self/cgroup', 'utf8').catch(() => '')]);
  const candidates = cgroupCandidates(mountinfo, own);
  const writable = await Promise.all(candidates.map((candidate) => access(candidate.parent, constants.W_OK).then(() => true, () => false)));
  return candidates.filter((_, i) => writable[i]);
}

/** The folder and every cgroup below it, deepest first: a command may create cgroups of its own (a nested repro-gate does). */
async function foldersDeepestFirst(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { recursive: true, withFileTypes: true }).catch(() => []);
  const below = entries.filter((entry) => entry.isDirectory()).map((entry) => path.join(entry.parentPath, entry.name));
  return [...below.sort((a, b) => b.length - a.length), folder];
}

function openCgroup(folder: string, version: 1 | 2): Cgroup {
  return {
    folder,
    // cgroup.procs lists only the processes directly in a cgroup, not in the cgroups below it.
    list: async () => {
      const folders = await foldersDeepestFirst(folder);
      const texts = await Promise.all(folders.map((each) => readFile(path.join(each, 'cgroup.procs'), 'utf8').catch(() => '')));
      return texts.flatMap((text) => text.split('\n').filter(Boolean).map(Number));
    },
    // Kernel 5.14+: kills every process in it and below at once, including any forked mid-sweep.
    killAll: version === 2 ? () => writeFile(path.join(folder, 'cgroup.kill'), '1') : undefined,
    remove: async () => {
      // The kernel lets go of a killed process a moment after the signal; until then the folder is busy.
      for (let attempt = 0; attempt < REMOVE_ATTEMPTS; attempt++) {
        for (const each of await foldersDeepestFirst(folder)) await rmdir(each).catch(() => undefined);
        if (!(await stat(folder).catch(() => undefined))) return;
        await delay(REMOVE_PAUSE_MS);
      }
    },
  };
}

/** Best effort: the kernel refuses to remove a cgroup that still has processes, so a running rerun's is never touched. */
async function removeStaleCgroups(parent: string): Promise<void> {
  const names = await readdir(parent).catch(() => [] as string[]);
  await Promise.all(
    names
      .filter((name) => OUR_CGROUP.test(name))
      .map(async (name) => {
        const folder = path.join(parent, name);
        const stats = await stat(folder).catch(() => undefined);
        if (stats && Date.now() - stats.mtimeMs > STALE_AFTER_MS) await rmdir(folder).catch(() => undefined);
      }),
  );
}

/**
 * Creates a cgroup for the run in the first candidate that accepts the process, and moves it there; the process must
 * not have started the command yet (index.ts holds it until then). Undefined when no candidate accepts it.
 */
export async function moveIntoNewCgroup(pid: number, runId: string, candidates: CgroupCandidate[]): Promise<Cgroup | undefined> {
  for (const candidate of candidates) {
    await removeStaleCgroups(candidate.parent);
    const folder = path.join(candidate.parent, `${TOOL_NAME}-${runId}`);
    try {
      await mkdir(folder);
    } catch {
      continue;
    }
    const cgroup = openCgroup(folder, candidate.version);
    try {
      await writeFile(path.join(folder, 'cgroup.procs'), String(pid));
      return cgroup;
    } catch {
      // v2 refuses a move across a boundary we may not write, or into a parent that distributes controllers.
      await cgroup.remove();
    }
  }
  return undefined;
}
