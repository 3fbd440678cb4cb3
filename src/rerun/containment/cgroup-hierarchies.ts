import path from 'node:path';

// Pure: where a cgroup for the rerun could be created, from /proc/self/cgroup and /proc/self/mountinfo.
// Hosts mix cgroup v1 and v2 (and hybrids with both), so every usable hierarchy becomes a candidate, best first.

export interface CgroupCandidate {
  version: 1 | 2;
  /** The folder of our own cgroup in that hierarchy: the rerun's cgroup is created inside it, so limits set on ours still apply. */
  parent: string;
}

interface CgroupMount {
  version: 1 | 2;
  /** Controllers of a v1 hierarchy (from the super options); empty for v2. */
  controllers: string[];
  /** The cgroup path the mount shows at its mount point (not `/` in a container without a cgroup namespace). */
  root: string;
  mountPoint: string;
}

/** mountinfo escapes space, tab, newline and backslash in paths as octal. */
function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

export function parseCgroupMounts(mountinfo: string): CgroupMount[] {
  const mounts: CgroupMount[] = [];
  for (const line of mountinfo.split('\n')) {
    const [before, after] = line.split(' - ');
    if (!before || !after) continue;
    const fields = before.split(' ');
    const [fsType, , superOptions = ''] = after.split(' ');
    if (fsType !== 'cgroup' && fsType !== 'cgroup2') continue;
    const root = unescapeMountField(fields[3] ?? '/');
    const mountPoint = unescapeMountField(fields[4] ?? '');
    if (!mountPoint) continue;
    const version = fsType === 'cgroup2' ? 2 : 1;
    mounts.push({ version, controllers: version === 1 ? superOptions.split(',') : [], root, mountPoint });
  }
  return mounts;
}

/** Our cgroup path per hierarchy: `0::/path` for v2, `N:pids,…:/path` for v1, keyed `v2` or by controller. */
export function parseOwnCgroups(procSelfCgroup: string): Map<string, string> {
  const own = new Map<string, string>();
  for (const line of procSelfCgroup.split('\n')) {
    const match = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!match) continue;
    const [, id, controllers, cgroupPath] = match;
    if (id === '0' && controllers === '') own.set('v2', cgroupPath!);
    else for (const controller of controllers!.split(',')) own.set(controller, cgroupPath!);
  }
  return own;
}

/** Our cgroup's folder under a mount, or undefined when the mount does not show it. */
function folderUnder(mount: CgroupMount, ownPath: string | undefined): string | undefined {
  if (ownPath === undefined) return undefined;
  // Without a cgroup namespace, a container sees its own cgroup as the mount's root.
  const relative = path.posix.relative(mount.root, ownPath);
  if (relative.startsWith('..') || path.posix.isAbsolute(relative)) return undefined;
  return path.join(mount.mountPoint, relative);
}

/**
 * Candidates, best first: v2 (a whole-cgroup kill in one write), then the v1 `pids` and `freezer` hierarchies, which
 * exist only to track processes. Other v1 controllers are left alone: moving a process there changes its resource limits.
 */
export function cgroupCandidates(mountinfo: string, procSelfCgroup: string): CgroupCandidate[] {
  const mounts = parseCgroupMounts(mountinfo);
  const own = parseOwnCgroups(procSelfCgroup);
  const candidates: CgroupCandidate[] = [];
  const add = (version: 1 | 2, parent: string | undefined) => {
    if (parent && !candidates.some((candidate) => candidate.parent === parent)) candidates.push({ version, parent });
  };
  for (const mount of mounts.filter((m) => m.version === 2)) add(2, folderUnder(mount, own.get('v2')));
  for (const controller of ['pids', 'freezer']) {
    for (const mount of mounts.filter((m) => m.version === 1 && m.controllers.includes(controller))) add(1, folderUnder(mount, own.get(controller)));
  }
  return candidates;
}
