import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { OUTPUT_CLOSE_GRACE_MS, RUN_ID_ENV } from '../../src/constants.js';
import { writableCgroupParents } from '../../src/rerun/containment/cgroup.js';
import { type Report, ReportSchema } from '../../src/report/schema.js';
import { CLI, type CliResult, git, runCli } from '../support/fixture-repo.js';
import { daemonTokens, pidsMatching } from '../support/daemon-tokens.js';
import { snapshotTree } from '../support/tree-snapshot.js';

// Issue 9 through the bundled CLI (run `npm run package` first): a rerun that leaves daemons behind, or whose outputs
// are special files, neither hangs verify nor survives it. The records need no Python: the command writes the artifact.

const HI_SHA256 = createHash('sha256').update('hi\n').digest('hex');
const WRITE_ARTIFACT = 'mkdir -p out && echo hi > out/a.txt';
/**
 * A verify that waits neither for a daemon nor for the pipes' grace (nor lets the grace timer hold the process at exit)
 * takes about half a second here; each of those mistakes costs at least the grace itself.
 */
const QUICK_MS = OUTPUT_CLOSE_GRACE_MS;
/** Where a process escaped every tracker, verify waits the grace for the pipes, once. */
const AFTER_GRACE_MS = 2 * OUTPUT_CLOSE_GRACE_MS + 2_000;

const newToken = daemonTokens('repro-gate-daemon');

/** A git repository whose run.yaml runs `command` and expects out/a.txt to hold "hi". */
async function repoWithCommand(command: string): Promise<string> {
  const root = await mkdtemp(path.join(tmpdir(), 'repro-gate-runaway-'));
  await writeFile(path.join(root, '.gitignore'), 'out/\n');
  await writeFile(path.join(root, 'run.yaml'), stringify({ version: 1, name: 'daemon', command, timeout: '60s', artifacts: [{ path: 'out/a.txt', sha256: HI_SHA256 }] }));
  git(root, 'init', '-q');
  git(root, 'add', '-A');
  git(root, 'commit', '-qm', 'record');
  return root;
}

/** Whether this test runs as root and may run the CLI as `nobody`, who can create no cgroup: the marker's case. */
const canRunAsNobody = (() => {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', 'true']);
    return true;
  } catch {
    return false;
  }
})();

/** The bundled CLI as `runCli` runs it, but as the unprivileged user `nobody`. */
function runCliAsNobody(args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<CliResult> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, CLI, ...args], {
      cwd: options.cwd,
      env: { ...process.env, NO_COLOR: '1', ...options.env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr, durationMs: performance.now() - started }));
  });
}

/** Verifies, proves the tree (.git included) is byte-identical afterwards, and reads the JSON report; leaves nothing in /tmp. */
async function verify(command: string, options: { asNobody?: boolean } = {}) {
  const root = await repoWithCommand(command);
  const out = await mkdtemp(path.join(tmpdir(), 'repro-gate-out-'));
  try {
    if (options.asNobody) execFileSync('chown', ['-R', 'nobody:nogroup', root, out]);
    const before = await snapshotTree(root);
    const args = ['verify', '--json', path.join(out, 'report.json'), '--evidence-dir', path.join(out, 'evidence'), '--keep-artifacts', 'run.yaml'];
    const env = { REPRO_GATE_CACHE_DIR: path.join(out, 'cache'), HOME: out };
    const result = await (options.asNobody ? runCliAsNobody : runCli)(args, { cwd: root, env });
    expect(await snapshotTree(root)).toEqual(before);
    expect(result.stderr).not.toMatch(/at .*\.js:\d+/);
    const report: Report = ReportSchema.parse(JSON.parse(await readFile(path.join(out, 'report.json'), 'utf8')));
    return { ...result, record: report.records[0]! };
  } finally {
    await Promise.all([rm(root, { recursive: true, force: true }), rm(out, { recursive: true, force: true })]);
  }
}

describe('runaway processes and special outputs (integration)', () => {
  it('a setsid daemon holding stdout is killed when the command ends, and reported', async () => {
    const token = newToken();
    const result = await verify(`${WRITE_ARTIFACT} && (setsid sh -c 'sleep 300; true ${token}' &) ; true`);
    expect(result.durationMs).toBeLessThan(QUICK_MS);
    expect(result.status).toBe(0);
    expect(result.record.verdict).toBe('reproduced');
    expect(pidsMatching(token)).toEqual([]);
    expect(result.record.run?.containment).toBe((await writableCgroupParents()).length > 0 ? 'cgroup' : 'marker');
    expect(result.record.run?.killed?.some((command) => command.includes(token))).toBe(true);
    expect(result.stdout).toContain(`left running by the command, killed (found by its ${result.record.run?.containment === 'cgroup' ? 'cgroup' : 'environment marker'}): `);
  });

  it('a daemon that drops the marker and holds stdout does not hang verify; a cgroup still kills it', async () => {
    const token = newToken();
    const result = await verify(`${WRITE_ARTIFACT} && (env -u ${RUN_ID_ENV} setsid sh -c 'sleep 300; true ${token}' &) ; true`);
    expect(result.status).toBe(0);
    if (result.record.run?.containment === 'cgroup') {
      expect(result.durationMs).toBeLessThan(QUICK_MS);
      expect(result.record.run.killed?.some((command) => command.includes(token))).toBe(true);
      expect(pidsMatching(token)).toEqual([]);
    } else {
      // Without a cgroup it escapes, as the README says (afterEach kills it): verify closes the pipes after the grace.
      expect(result.record.run?.containment).toBe('marker');
      expect(result.durationMs).toBeLessThan(AFTER_GRACE_MS);
    }
  });

  it.runIf(canRunAsNobody)('without a cgroup (an unprivileged user here), the marker finds the daemons that kept it', async () => {
    const [kept, dropped] = [newToken(), newToken()];
    const result = await verify(
      `${WRITE_ARTIFACT} && (setsid sh -c 'sleep 300; true ${kept}' &) ; (env -u ${RUN_ID_ENV} setsid sh -c 'touch dropped; sleep 300; true ${dropped}' &) ; ` +
        'while [ ! -e dropped ]; do sleep 0.02; done',
      { asNobody: true },
    );
    expect(result.status).toBe(0);
    expect(result.record.run?.containment).toBe('marker');
    expect(result.record.run?.killed?.some((command) => command.includes(kept))).toBe(true);
    expect(pidsMatching(kept)).toEqual([]);
    // The one that dropped the marker escaped, as the README says (afterEach kills it), and held stdout: the grace, once.
    expect(pidsMatching(dropped).length).toBeGreaterThan(0);
    expect(result.durationMs).toBeLessThan(AFTER_GRACE_MS);
  });

  // Only root can leave a cgroup; with the marker dropped as well, nothing tracks the daemon any more.
  it.runIf(process.getuid?.() === 0)('a daemon that escaped every tracker and holds stdout still does not hang verify', async () => {
    const token = newToken();
    const leave = (await writableCgroupParents()).map((parent) => `echo \\$\\$ > '${parent.parent}/cgroup.procs';`).join(' ');
    const result = await verify(
      `${WRITE_ARTIFACT} && (env -u ${RUN_ID_ENV} setsid sh -c "${leave} touch escaped; sleep 300; true ${token}" &) ; ` +
        'while [ ! -e escaped ]; do sleep 0.02; done',
    );
    expect(result.status).toBe(0);
    expect(result.durationMs).toBeLessThan(AFTER_GRACE_MS);
    // It really escaped (afterEach kills it): the grace on the pipes, not the kill, let verify return.
    expect(pidsMatching(token).length).toBeGreaterThan(0);
  });

  it.each([
    ['a symlink to /dev/zero', 'mkdir -p out && ln -s /dev/zero out/a.txt', /artifact out\/a\.txt is a symlink \(to \/dev\/zero\), not a regular file/],
    ['a FIFO', 'mkdir -p out && mkfifo out/a.txt', /artifact out\/a\.txt is a FIFO \(named pipe\), not a regular file/],
  ])('an output that is %s is an error naming it, and quick', async (_label, command, message) => {
    const result = await verify(command);
    expect(result.durationMs).toBeLessThan(QUICK_MS);
    expect(result.status).toBe(2);
    expect(result.record.verdict).toBe('error');
    expect(result.record.error?.message).toMatch(message);
    expect(result.stdout).toMatch(message);
  });
});
