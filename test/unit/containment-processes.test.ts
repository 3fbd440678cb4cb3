import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rmdir, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { RUN_ID_ENV } from '../../src/constants.js';
import { writableCgroupParents } from '../../src/rerun/containment/cgroup.js';
import { startContained } from '../../src/rerun/containment/index.js';
import { markedProcesses } from '../../src/rerun/containment/marker.js';
import { sweep } from '../../src/rerun/containment/sweep.js';
import { runCommand } from '../../src/rerun/run-command.js';
import { daemonTokens, pidsMatching } from '../support/daemon-tokens.js';

// Real processes, real cgroups where this machine allows them: nothing a rerun starts outlives it, and a process that
// escapes every tracker cannot hang the rerun by holding its output open.

const newToken = daemonTokens('repro-gate-test');

async function run(command: string, timeoutMs = 20_000) {
  const dir = await mkdtemp(path.join(tmpdir(), 'repro-gate-containment-'));
  return runCommand({ command, cwd: dir, env: { PATH: process.env.PATH }, timeoutMs, logFile: path.join(dir, 'rerun.log') });
}

describe('runCommand containment', () => {
  it('kills a setsid daemon that holds stdout, reports it, and returns at once', async () => {
    const token = newToken();
    const result = await run(`echo started; setsid sh -c 'sleep 300; true ${token}' & echo done`);
    expect(result.exitCode).toBe(0);
    expect(result.logTail).toMatch(/started\ndone/);
    expect(result.durationMs).toBeLessThan(1_500);
    expect(result.killed.some((command) => command.includes(token))).toBe(true);
    expect(pidsMatching(token)).toEqual([]);
    expect(result.containment).toBe((await writableCgroupParents()).length > 0 ? 'cgroup' : 'marker');
  });

  it('gives the command the marker, which it cannot override', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'repro-gate-containment-'));
    const result = await runCommand({
      command: `echo "marker=$${RUN_ID_ENV}"`,
      cwd: dir,
      env: { PATH: process.env.PATH, [RUN_ID_ENV]: 'chosen-by-the-caller' },
      timeoutMs: 20_000,
      logFile: path.join(dir, 'rerun.log'),
    });
    expect(result.logTail).toMatch(/^marker=[0-9a-f-]{36}$/m);
    expect(result.killed).toEqual([]);
  });

  it('on timeout, kills the tree and the daemons too', async () => {
    const token = newToken();
    const result = await run(`setsid sh -c 'sleep 300; true ${token}' & sleep 300`, 300);
    expect(result.timedOut).toBe(true);
    expect(result.durationMs).toBeLessThan(2_500);
    expect(result.killed.some((command) => command.includes(token))).toBe(true);
    expect(pidsMatching(token)).toEqual([]);
  });

  it('runs in a cgroup of its own, removed afterwards, when this host allows one', async (context) => {
    if ((await writableCgroupParents()).length === 0) context.skip();
    const dir = await mkdtemp(path.join(tmpdir(), 'repro-gate-containment-'));
    const contained = await startContained(['sh', '-c', 'cat /proc/self/cgroup'], { cwd: dir, env: { PATH: process.env.PATH } });
    let output = '';
    contained.child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await once(contained.child, 'close');
    await contained.sweep();
    await contained.dispose();
    expect(contained.kind).toBe('cgroup');
    const ours = output.split('\n').find((line) => /repro-gate-[0-9a-f-]{36}$/.test(line));
    expect(ours).toBeDefined();
    const cgroupPath = ours!.split(':')[2]!;
    const parents = await writableCgroupParents();
    expect(parents.some((parent) => existsSync(path.join(parent.parent, path.basename(cgroupPath))))).toBe(false);
  });

  it('kills and removes cgroups the command created inside its own', async (context) => {
    const [parent] = await writableCgroupParents();
    if (!parent) context.skip();
    const token = newToken();
    const result = await run(
      `name=$(grep -o 'repro-gate-[0-9a-f-]*' /proc/self/cgroup | head -n 1); d='${parent!.parent}'/$name; echo "cgroup=$name"; mkdir "$d/inner" && ` +
        `env -u ${RUN_ID_ENV} setsid sh -c 'echo $$ > "$1/inner/cgroup.procs"; sleep 300; true ${token}' sh "$d" & sleep 0.2`,
    );
    const name = /cgroup=(repro-gate-[0-9a-f-]{36})/.exec(result.logTail)?.[1];
    expect(name).toBeDefined();
    expect(result.killed.some((command) => command.includes(token))).toBe(true);
    expect(pidsMatching(token)).toEqual([]);
    expect(existsSync(path.join(parent!.parent, name!))).toBe(false);
  });

  it('removes an empty cgroup left by a repro-gate that was killed, but not a fresh one', async (context) => {
    const [parent] = await writableCgroupParents();
    if (!parent) context.skip();
    const stale = path.join(parent!.parent, `repro-gate-${randomUUID()}`);
    const fresh = path.join(parent!.parent, `repro-gate-${randomUUID()}`);
    await Promise.all([mkdir(stale), mkdir(fresh)]);
    const longAgo = new Date(Date.now() - 3_600_000);
    await utimes(stale, longAgo, longAgo);
    try {
      await run('true');
      expect(existsSync(stale)).toBe(false);
      expect(existsSync(fresh)).toBe(true);
    } finally {
      await Promise.all([rmdir(stale).catch(() => undefined), rmdir(fresh).catch(() => undefined)]);
    }
  });

  // Only root can move a process out of a cgroup; with the marker dropped too, nothing tracks it any more.
  it.runIf(process.getuid?.() === 0)('does not hang on a process that escaped every tracker and holds stdout', async () => {
    const token = newToken();
    const parents = await writableCgroupParents();
    const leave = parents.map((parent) => `echo \\$\\$ > '${parent.parent}/cgroup.procs';`).join(' ');
    const result = await run(
      `env -u ${RUN_ID_ENV} setsid sh -c "${leave} touch escaped; sleep 300; true ${token}" & ` +
        `while [ ! -e escaped ]; do sleep 0.02; done; echo main-done`,
    );
    expect(result.exitCode).toBe(0);
    expect(result.logTail).toMatch(/main-done/);
    // The grace for the pipes, not the daemon's 300 s.
    expect(result.durationMs).toBeLessThan(5_000);
    expect(pidsMatching(token).length).toBeGreaterThan(0);
  });
});

describe('the marker sweep', () => {
  it('kills exactly the processes carrying the run id, whatever their session', async () => {
    const runId = randomUUID();
    const [marked, unmarked] = [newToken(), newToken()];
    const start = (token: string, env: NodeJS.ProcessEnv) =>
      spawn('setsid', ['sh', '-c', `sleep 300; true ${token}`], { env: { PATH: process.env.PATH, ...env }, stdio: 'ignore', detached: true });
    const children = [start(marked, { [RUN_ID_ENV]: runId }), start(unmarked, { [RUN_ID_ENV]: 'another-run' })];
    while (pidsMatching(marked).length === 0 || pidsMatching(unmarked).length === 0) await delay(10);

    const killed = await sweep(markedProcesses(runId, -1));
    expect(killed.map((process) => process.command).sort()).toEqual([`sh -c sleep 300; true ${marked}`, 'sleep 300']);
    expect(pidsMatching(marked)).toEqual([]);
    expect(pidsMatching(unmarked).length).toBe(1);
    for (const child of children) child.kill('SIGKILL');
    expect((await readFile('/proc/self/environ')).includes(runId)).toBe(false);
  });
});
