import { describe, expect, it } from 'vitest';
import { KILLED_COMMAND_MAX_CHARS } from '../../src/constants.js';
import { cgroupCandidates, parseOwnCgroups } from '../../src/rerun/containment/cgroup-hierarchies.js';
import { environHas, formatCommandLine, parseStat } from '../../src/rerun/containment/process-table.js';

// The pure parts of containment: where a cgroup can go on v1, v2 and hybrid hosts, and reading /proc's formats.

const HYBRID_MOUNTINFO = [
  '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
  '32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu',
  '35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
  '37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer',
  '39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids',
  '40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd',
  '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
].join('\n');

describe('cgroupCandidates', () => {
  it('on a hybrid host: v2 first, then the v1 pids and freezer hierarchies, never a resource controller', () => {
    const own = '9:name=systemd:/\n8:pids:/\n6:freezer:/\n4:memory:/process_api/69\n1:cpu:/\n0::/\n';
    expect(cgroupCandidates(HYBRID_MOUNTINFO, own)).toEqual([
      { version: 2, parent: '/sys/fs/cgroup/unified' },
      { version: 1, parent: '/sys/fs/cgroup/pids' },
      { version: 1, parent: '/sys/fs/cgroup/freezer' },
    ]);
  });

  it('on a pure v2 host: inside our own cgroup, so the limits set on it still apply', () => {
    const mountinfo = '30 24 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate';
    const own = '0::/system.slice/actions.runner.service\n';
    expect(cgroupCandidates(mountinfo, own)).toEqual([{ version: 2, parent: '/sys/fs/cgroup/system.slice/actions.runner.service' }]);
  });

  it('in a v1 container without a cgroup namespace: the mount shows our cgroup as its root', () => {
    const mountinfo = '700 690 0:36 /docker/abc /sys/fs/cgroup/pids ro,nosuid - cgroup cgroup rw,pids';
    expect(cgroupCandidates(mountinfo, '8:pids:/docker/abc\n')).toEqual([{ version: 1, parent: '/sys/fs/cgroup/pids' }]);
    // A mount that does not show our cgroup at all offers nothing.
    expect(cgroupCandidates(mountinfo, '8:pids:/elsewhere\n')).toEqual([]);
  });

  it('offers nothing without cgroup mounts, and reads controllers lists', () => {
    expect(cgroupCandidates('', '0::/\n')).toEqual([]);
    expect(parseOwnCgroups('4:cpu,cpuacct:/a\n0::/b\n')).toEqual(
      new Map([
        ['cpu', '/a'],
        ['cpuacct', '/a'],
        ['v2', '/b'],
      ]),
    );
  });

  it('unescapes mount points with spaces', () => {
    const mountinfo = '41 31 0:38 / /mnt/my\\040cgroups rw - cgroup2 cgroup2 rw';
    expect(cgroupCandidates(mountinfo, '0::/\n')).toEqual([{ version: 2, parent: '/mnt/my cgroups' }]);
  });
});

describe('/proc formats', () => {
  it('reads state and process group after a command name holding spaces and parentheses', () => {
    expect(parseStat('4242 (my (odd) name) S 1 4240 4240 0 -1 4194560')).toEqual({ state: 'S', parent: 1, processGroup: 4240 });
    expect(parseStat('4243 (sleep) Z 1 77 77 0')).toEqual({ state: 'Z', parent: 1, processGroup: 77 });
    expect(parseStat('garbage')).toBeUndefined();
  });

  it('joins argv into one capped line', () => {
    expect(formatCommandLine(Buffer.from('sh\0-c\0sleep 300\0'))).toBe('sh -c sleep 300');
    const long = formatCommandLine(Buffer.from(`sh\0-c\0${'x'.repeat(1000)}\0`));
    expect(long).toHaveLength(KILLED_COMMAND_MAX_CHARS);
    expect(long.endsWith('…')).toBe(true);
  });

  it('matches the marker as a whole entry only', () => {
    const environ = Buffer.from('PATH=/bin\0REPRO_GATE_RUN_ID=abc\0HOME=/root\0');
    expect(environHas(environ, 'REPRO_GATE_RUN_ID=abc')).toBe(true);
    expect(environHas(environ, 'REPRO_GATE_RUN_ID=ab')).toBe(false);
    expect(environHas(Buffer.from('X_REPRO_GATE_RUN_ID=abc\0'), 'REPRO_GATE_RUN_ID=abc')).toBe(false);
    expect(environHas(Buffer.from('A=1\0REPRO_GATE_RUN_ID=abc'), 'REPRO_GATE_RUN_ID=abc')).toBe(true);
  });
});
