import { execFileSync, spawnSync } from 'node:child_process';
import { cp, mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CONTAINER_NAME_PREFIX, CONTAINER_SANDBOX_DIR, CONTAINER_VENV_IMAGE } from '../../src/constants.js';
import { editRecord, type FixtureRepo, fixtureRepo, git, PROJECT_ROOT, runCli } from '../support/fixture-repo.js';
import { snapshotTree } from '../support/tree-snapshot.js';

// Records pinned to a container image, rerun in a real container (Docker, else Podman) with a real scikit-learn
// training from Debian's packages. scripts/setup-container-runtime.sh (run by .ci/run) provides the runtime and
// builds the image offline; without them these tests skip and say why.

const IMAGE = process.env.REPRO_GATE_TEST_IMAGE ?? 'localhost/repro-gate-test:bookworm';
const MARKED_IMAGE = `${IMAGE.split(':')[0]}:marked`;

function answers(tool: string): boolean {
  return spawnSync(tool, ['info'], { stdio: 'ignore' }).status === 0;
}

/** The runtime the tests use, or why there is none. */
function testRuntime(): { runtime: string } | { skip: string } {
  const chosen = process.env.REPRO_GATE_CONTAINER_RUNTIME;
  const runtime = chosen ? (answers(chosen) ? chosen : undefined) : ['docker', 'podman'].find(answers);
  if (!runtime) return { skip: 'no container runtime answers (docker info and podman info fail)' };
  if (spawnSync(runtime, ['image', 'inspect', IMAGE], { stdio: 'ignore' }).status !== 0) return { skip: `${runtime} has no image ${IMAGE}` };
  return { runtime };
}

const found = testRuntime();
const runtime = 'runtime' in found ? found.runtime : '';
if ('skip' in found) console.log(`container tests skipped: ${found.skip}; run scripts/setup-container-runtime.sh to set them up`);

/** Containers repro-gate started that still exist: none may be left after any test. */
function leftContainers(): string[] {
  return execFileSync(runtime, ['ps', '-a', '--filter', `name=${CONTAINER_NAME_PREFIX}`, '--format', '{{.Names}}'], { encoding: 'utf8' }).split('\n').filter(Boolean);
}

function hostAddress(): string | undefined {
  return Object.values(networkInterfaces())
    .flat()
    .find((address) => address?.family === 'IPv4' && !address.internal)?.address;
}

const NET_PY = `import json, os, socket
from pathlib import Path
host, port = os.environ["TARGET"].rsplit(":", 1)
try:
    socket.create_connection((host, int(port)), timeout=5).close()
    reached, why = 1, "connected"
except OSError as error:
    reached, why = 0, str(error)
print("network:", why)
Path("out").mkdir(exist_ok=True)
Path("out/net.json").write_text(json.dumps({"reached": reached}))
`;

const INSIDE_PY = `import json, os
from pathlib import Path
out = Path("out")
out.mkdir(exist_ok=True)
written = out / "written.txt"
written.write_text("x")
mounts = []
for line in open("/proc/self/mountinfo"):
    left, right = line.split(" - ", 1)
    fields = left.split()
    mounts.append({"root": fields[3], "point": fields[4], "options": fields[5], "fstype": right.split()[0]})
stat = written.stat()
(out / "inside.json").write_text(json.dumps({"uid": os.getuid(), "gid": os.getgid(), "file": [stat.st_uid, stat.st_gid], "env": sorted(os.environ), "mounts": mounts}))
`;

/** The iris example plus two probes of the container's isolation, committed in a fresh repository. */
async function containerRepo(): Promise<FixtureRepo> {
  const root = await mkdtemp(path.join(tmpdir(), 'repro-gate-container-'));
  for (const entry of ['configs', 'data', 'train.py']) await cp(path.join(PROJECT_ROOT, 'examples', 'iris', entry), path.join(root, entry), { recursive: true });
  await writeFile(path.join(root, 'net.py'), NET_PY);
  await writeFile(path.join(root, 'inside.py'), INSIDE_PY);
  await writeFile(path.join(root, 'requirements.txt'), 'six==1.17.0\n');
  await writeFile(path.join(root, '.gitignore'), 'out/\n');
  git(root, 'init', '-q');
  git(root, 'add', '.');
  git(root, 'commit', '-qm', 'iris in a container');
  return fixtureRepo(root, { REPRO_GATE_CACHE_DIR: await mkdtemp(path.join(tmpdir(), 'repro-gate-container-cache-')), PIP_RETRIES: '0' });
}

const IRIS = ['--metrics', 'out/metrics.json', '--artifact', 'out/model.pkl', '--config', 'configs/train.json', '--data', 'data', '--seed', 'numpy=0', '--', 'python3', 'train.py', 'configs/train.json'];

describe.skipIf('skip' in found)(`records pinned to a container image (${runtime || 'no runtime'})`, () => {
  let repo: FixtureRepo;
  const record = (...args: string[]) => runCli(['record', ...args], { cwd: repo.root, env: repo.env });
  const commitAll = (message: string) => {
    git(repo.root, 'add', '-A');
    git(repo.root, 'commit', '-qm', message);
  };

  beforeAll(async () => {
    repo = await containerRepo();
    const recorded = await record('--image', IMAGE, ...IRIS);
    if (recorded.status !== 0) throw new Error(`record --image failed (${recorded.status}):\n${recorded.stderr}`);
    commitAll('record');
  }, 120_000);

  // Each test edits the committed record or config at most: put back, so a failing test cannot fail the next ones.
  afterEach(() => {
    git(repo.root, 'checkout', '--', '.');
  });

  afterAll(() => {
    spawnSync(runtime, ['rmi', '--force', MARKED_IMAGE], { stdio: 'ignore' });
  });

  it('records the image by digest, reproduces in it, drifts on a training change, and leaves the tree and no container behind', async () => {
    const written = parse(await repo.read('run.yaml'));
    const digest = execFileSync(runtime, ['image', 'inspect', '--format', '{{json .RepoDigests}}', IMAGE], { encoding: 'utf8' });
    expect(JSON.parse(digest)).toContain(written.environment.image);
    expect(written.environment.image).toMatch(/@sha256:[a-f0-9]{64}$/);
    // The image's Python and packages (Debian's scikit-learn), not the host's.
    expect(written.environment.python).toBe('3.11');
    expect(written.environment.packages['scikit-learn']).toMatch(/^1\.2\./);
    expect(written.environment.network).toBeUndefined();

    const before = await snapshotTree(repo.root);
    const verified = await repo.verify(['--json', path.join(await mkdtemp(path.join(tmpdir(), 'repro-gate-container-report-')), 'report.json')]);
    expect(verified.stdout).toMatch(/reproduced/);
    expect(verified.status).toBe(0);
    expect(verified.stderr).toMatch(new RegExp(`image ${written.environment.image.replace(/[.]/g, '\\.')} \\(${runtime}\\): Python 3\\.11`));
    expect(await snapshotTree(repo.root)).toEqual(before);

    const config = JSON.parse(await repo.read('configs/train.json'));
    await repo.write('configs/train.json', JSON.stringify({ ...config, alpha: config.alpha * 10 }));
    commitAll('stronger regularization');
    const changed = await snapshotTree(repo.root);
    const drifted = await repo.verify();
    expect(drifted.status).toBe(1);
    expect(drifted.stdout).toMatch(/drift/);
    expect(drifted.stdout).toMatch(/configs\/train\.json/);
    expect(await snapshotTree(repo.root)).toEqual(changed);
    git(repo.root, 'revert', '--no-edit', 'HEAD');
    expect(leftContainers()).toEqual([]);
  }, 120_000);

  it('rejects a bare tag at load time with the field and line, checks the Python inside the image, and an image that cannot be pulled is an error naming it', async () => {
    const pinned = parse(await repo.read('run.yaml')).environment.image;
    const original = await repo.read('run.yaml');
    await repo.write('run.yaml', original.replace(pinned, IMAGE));
    const tagged = await repo.verify();
    expect(tagged.status).toBe(2);
    expect(tagged.stdout).toMatch(/run\.yaml:\d+ environment\.image: is not pinned by digest/);

    // The record's Python is checked inside the image, before anything runs.
    await repo.write('run.yaml', original.replace('python: "3.11"', 'python: "3.12"'));
    const otherPython = await repo.verify();
    expect(otherPython.status).toBe(2);
    expect(otherPython.stdout).toMatch(/run\.yaml:\d+ environment\.python: environment\.python requires 3\.12 but the image localhost\/repro-gate-test@sha256:[0-9a-f]{64} has Python 3\.11\.\d+/);

    const missing = `localhost/repro-gate-missing@sha256:${'0'.repeat(64)}`;
    await repo.write('run.yaml', original.replace(pinned, missing));
    const before = await snapshotTree(repo.root);
    const unknown = await repo.verify();
    expect(unknown.status).toBe(2);
    expect(unknown.stdout).toMatch(/: error/);
    expect(unknown.stdout).toContain(`the image ${missing} is not on this host and could not be pulled (${runtime})`);
    expect(unknown.stdout).toMatch(/docker login/);
    expect(await snapshotTree(repo.root)).toEqual(before);
  }, 60_000);

  it('kills a rerun past its timeout and removes its container', async () => {
    // A token of its own: other test files run `sleep 300` too.
    const token = `repro-gate-timeout-${process.pid}-${Date.now()}`;
    await editRecord(repo, (edited) => {
      edited.command = `sleep 300 && echo ${token}`;
      edited.timeout = '3s';
    });
    const before = await snapshotTree(repo.root);
    const started = performance.now();
    const result = await repo.verify();
    expect(result.status).toBe(2);
    expect(result.stdout + result.stderr).toMatch(/timed out after 3 ?s/);
    expect(performance.now() - started).toBeLessThan(60_000);
    expect(leftContainers()).toEqual([]);
    expect(spawnSync('pgrep', ['-f', token]).status).toBe(1);
    expect(await snapshotTree(repo.root)).toEqual(before);
  }, 90_000);

  it('isolates the command: no network unless the record allows it, only the sandbox mounted, only the allowlisted environment, the invoking user', async () => {
    const address = hostAddress();
    expect(address, 'a non-loopback IPv4 address to listen on').toBeDefined();
    let connections = 0;
    const server: Server = createServer((socket) => {
      connections += 1;
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve));
    const target = `${address}:${(server.address() as { port: number }).port}`;
    try {
      const offline = await runCli(['record', '--out', 'inside.yaml', '--image', IMAGE, '--var', `TARGET=${target}`, '--seed', 'numpy=1', '--pass-env', 'SHARED_SETTING', '--metrics', 'out/net.json', '--artifact', 'out/inside.json', '--', 'sh', '-c', 'python3 net.py && python3 inside.py'], {
        cwd: repo.root,
        env: { ...repo.env, GITHUB_TOKEN: 'ghs_secret', HOST_ONLY_CANARY: 'must-not-pass', SHARED_SETTING: 'passed' },
      });
      expect(offline.status, offline.stderr).toBe(0);
      expect(offline.stderr).toMatch(/network: .*(unreachable|refused|timed out)/i);
      expect(parse(await repo.read('inside.yaml')).metrics.values).toEqual({ reached: 0 });
      expect(connections).toBe(0);
      // The same command with network: true reaches the listener: the check above can fail.
      const online = await record('--out', 'net-online.yaml', '--image', IMAGE, '--network', '--var', `TARGET=${target}`, '--metrics', 'out/net.json', '--', 'python3', 'net.py');
      expect(online.status).toBe(0);
      const allowed = parse(await repo.read('net-online.yaml'));
      expect(allowed.environment.network).toBe(true);
      expect(allowed.metrics.values).toEqual({ reached: 1 });
      expect(connections).toBeGreaterThan(0);
    } finally {
      server.close();
    }

    const inside = JSON.parse(await repo.read('out/inside.json')) as { uid: number; gid: number; file: [number, number]; env: string[]; mounts: Array<{ root: string; point: string; options: string; fstype: string }> };
    expect([inside.uid, inside.gid]).toEqual([process.getuid!(), process.getgid!()]);
    expect(inside.file).toEqual([process.getuid!(), process.getgid!()]);

    // Every name is ours (the sandbox's, the probe's, the seeds', the record's), the runtime's own, or Python's
    // (which sets LC_CTYPE itself in a C locale, PEP 538).
    const expected = new Set(['HOME', 'TMPDIR', 'PATH', 'PWD', 'GITHUB_WORKSPACE', 'PYTHONPATH', 'PYTHONNOUSERSITE', 'PYTHONDONTWRITEBYTECODE', 'TARGET', 'SHARED_SETTING', 'HOSTNAME', 'container', 'TERM', 'LC_CTYPE']);
    const unexpected = inside.env.filter((name) => !expected.has(name) && !name.startsWith('REPRO_GATE_') && !name.startsWith('REPRO_SEED_'));
    expect(unexpected).toEqual([]);
    expect(inside.env).toEqual(expect.arrayContaining(['TARGET', 'REPRO_SEED_NUMPY', 'SHARED_SETTING']));
    expect(inside.env).not.toContain('GITHUB_TOKEN');
    expect(inside.env).not.toContain('HOST_ONLY_CANARY');

    // Of the host's file systems, only the sandbox is mounted, and inside it the probe's module, read-only; the
    // rest is the image's root, the kernel's file systems and the runtime's own /etc/hosts and the like.
    const virtual = new Set(['proc', 'sysfs', 'tmpfs', 'devpts', 'mqueue', 'cgroup', 'cgroup2', 'shm']);
    const runtimeFiles = new Set(['/', '/etc/hosts', '/etc/hostname', '/etc/resolv.conf', '/run/.containerenv', '/.dockerenv']);
    const inSandbox = (point: string) => point === CONTAINER_SANDBOX_DIR || point.startsWith(`${CONTAINER_SANDBOX_DIR}/`);
    expect(inside.mounts.filter((mount) => !inSandbox(mount.point) && !virtual.has(mount.fstype) && !runtimeFiles.has(mount.point))).toEqual([]);
    const sandboxMounts = inside.mounts.filter((mount) => inSandbox(mount.point));
    expect(sandboxMounts.map((mount) => mount.point)).toEqual([CONTAINER_SANDBOX_DIR, expect.stringMatching(/^\/repro-gate\/repro-gate-probe-\w+\/site$/)]);
    expect(sandboxMounts[0]!.root).toMatch(/\/repro-gate-\w+$/);
    expect(sandboxMounts[1]!.options.split(',')).toContain('ro');
    expect(inside.mounts.some((mount) => mount.root.startsWith(repo.root) || mount.root.startsWith(PROJECT_ROOT))).toBe(false);
  }, 90_000);

  it('refreshes the image only with record --update --image', async () => {
    const name = `${CONTAINER_NAME_PREFIX}test-marked`;
    execFileSync(runtime, ['run', '--name', name, IMAGE, 'sh', '-c', 'echo marked > /etc/repro-gate-marker']);
    execFileSync(runtime, ['commit', name, MARKED_IMAGE]);
    execFileSync(runtime, ['rm', name]);
    const pinned = parse(await repo.read('run.yaml')).environment.image;

    const kept = await record('--update', 'run.yaml');
    expect(kept.status).toBe(0);
    expect(parse(await repo.read('run.yaml')).environment.image).toBe(pinned);

    const moved = await record('--update', 'run.yaml', '--image', MARKED_IMAGE);
    expect(moved.status).toBe(0);
    const now = parse(await repo.read('run.yaml')).environment.image;
    expect(now).not.toBe(pinned);
    expect(JSON.parse(execFileSync(runtime, ['image', 'inspect', '--format', '{{json .RepoDigests}}', MARKED_IMAGE], { encoding: 'utf8' }))).toContain(now);
    // The rerun ran in the new image, and the diff shows the new digest.
    expect(moved.stderr).toContain(`image ${now}`);
    expect(moved.stdout).toContain(`+  image: ${now}`);
  }, 120_000);

  it('installs requirements into a venv inside the image, cached by the runtime', async () => {
    spawnSync(runtime, ['rmi', '--force', ...execFileSync(runtime, ['images', '--format', '{{.Repository}}:{{.Tag}}'], { encoding: 'utf8' }).split('\n').filter((image) => image.startsWith(`${CONTAINER_VENV_IMAGE}:`))], { stdio: 'ignore' });
    const command = 'import json, pathlib, six; pathlib.Path("out").mkdir(exist_ok=True); pathlib.Path("out/six.json").write_text(json.dumps({"major": int(six.__version__.split(".")[0])}))';
    // `python`: only the venv has it (Debian's image has python3 alone), so the venv is first on PATH.
    const recorded = await record('--out', 'six.yaml', '--image', IMAGE, '--requirements', 'requirements.txt', '--metrics', 'out/six.json', '--', 'python', '-c', command);
    expect(recorded.status, recorded.stderr).toBe(0);
    expect(recorded.stderr).toMatch(/building a venv inside the image from requirements\.txt/);
    const written = parse(await repo.read('six.yaml'));
    expect(written.environment).toMatchObject({ requirements: 'requirements.txt', python: '3.11' });
    expect(written.environment.packages.six).toBe('1.17.0');
    // The venv holds what the requirements name, not the image's system packages.
    expect(written.environment.packages['scikit-learn']).toBeUndefined();
    commitAll('six');
    const verified = await runCli(['verify', 'six.yaml'], { cwd: repo.root, env: repo.env });
    expect(verified.status, verified.stderr).toBe(0);
    expect(verified.stderr).toMatch(/venv image localhost\/repro-gate-venv:[0-9a-f]{32}: reused/);
    expect(leftContainers()).toEqual([]);
  }, 180_000);
});
