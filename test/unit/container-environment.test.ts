import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CONTAINER_RUNTIME_ENV } from '../../src/constants.js';
import { parseImageReference, PINNED_IMAGE_PATTERN, unpinnedReason } from '../../src/environment/container/image-reference.js';
import { containerRunArguments, type ContainerRunSpec } from '../../src/environment/container/run-arguments.js';
import { containerRuntime } from '../../src/environment/container/runtime.js';
import { UserError } from '../../src/errors.js';
import { loadRecord } from '../../src/record/load.js';
import { RunRecordSchema } from '../../src/record/schema.js';
import { compareRecordVersions } from '../../src/compare/loosening.js';
import { describeLoosening } from '../../src/report/loosening.js';
import { renderMarkdown } from '../../src/report/markdown.js';
import { pathInContainer, pathOnHost } from '../../src/rerun/container-launcher.js';
import { recordReport, report } from '../support/report-fixtures.js';

const HASH = 'a'.repeat(64);
const DIGEST = `sha256:${'b'.repeat(64)}`;
const PINNED = `ghcr.io/acme/train@${DIGEST}`;

const base = { version: 1, name: 'img', command: 'python3 train.py', artifacts: [{ path: 'out/m.bin', sha256: HASH }] };
const issuesOf = (environment: Record<string, unknown>) => {
  const result = RunRecordSchema.safeParse({ ...base, environment });
  return result.success ? [] : result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
};

describe('image references', () => {
  it.each([
    [PINNED, { name: 'ghcr.io/acme/train', digest: DIGEST }],
    [`localhost:5000/team/train:v1@${DIGEST}`, { name: 'localhost:5000/team/train', tag: 'v1', digest: DIGEST }],
    ['python:3.11-slim', { name: 'python', tag: '3.11-slim' }],
    ['ubuntu', { name: 'ubuntu' }],
  ])('parses %s', (text, expected) => {
    expect(parseImageReference(text)).toEqual(expected);
  });

  it.each(['', 'team/UPPER', 'name@sha256:short', 'a b', `x@md5:${'a'.repeat(32)}`])('refuses %j', (text) => {
    expect(parseImageReference(text)).toBeUndefined();
    expect(unpinnedReason(text)).toMatch(/must be an image reference/);
  });

  it('says how to pin a bare tag, and accepts a digest with or without its tag', () => {
    expect(unpinnedReason('ghcr.io/acme/train:2026-11')).toMatch(/not pinned by digest.*ghcr\.io\/acme\/train@sha256:<digest>.*record --image ghcr\.io\/acme\/train:2026-11/);
    expect(unpinnedReason(PINNED)).toBeUndefined();
    expect(unpinnedReason(`ghcr.io/acme/train:v2@${DIGEST}`)).toBeUndefined();
    // The JSON Schema's pattern agrees with the loader.
    const pattern = new RegExp(PINNED_IMAGE_PATTERN);
    expect([PINNED, `ghcr.io/acme/train:v2@${DIGEST}`, 'ghcr.io/acme/train:v2'].map((text) => pattern.test(text))).toEqual([true, true, false]);
  });
});

describe('the record\'s image fields', () => {
  it('accepts an image pinned by digest, with requirements, network and gpu', () => {
    expect(issuesOf({ image: PINNED, python: '3.11', requirements: 'requirements.txt', requirements_sha256: HASH, network: true, gpu: true })).toEqual([]);
  });

  it('names each misuse by field', () => {
    expect(issuesOf({ network: true })).toEqual(['environment.network: applies to a container image only: set image (name@sha256:…)']);
    expect(issuesOf({ gpu: false })).toEqual(['environment.gpu: applies to a container image only: set image (name@sha256:…)']);
    expect(issuesOf({ image: PINNED, python: '3.11', lockfile: 'uv.lock', lockfile_sha256: HASH })[0]).toMatch(/^environment\.lockfile: cannot be used with image/);
    expect(issuesOf({ image: PINNED, python: '3.11', requirements: 'r.txt', requirements_sha256: HASH, installer: 'uv' })[0]).toMatch(/^environment\.installer: uv is not used inside an image/);
  });

  it('lists packages of an image without pip as the system names them', () => {
    expect(issuesOf({ image: PINNED, packages: { 'libstdc++6': '12.2.0-14', python3: '3.11.2-1+b1' } })).toEqual([]);
  });

  it('rejects a bare tag at load time, naming the field and its line', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'repro-gate-image-record-'));
    const file = path.join(dir, 'run.yaml');
    await writeFile(file, `version: 1\nname: img\ncommand: python3 train.py\nenvironment:\n  image: ghcr.io/acme/train:latest\nartifacts:\n  - { path: out/m.bin, sha256: ${HASH} }\n`);
    const error = await loadRecord(file).then(
      () => undefined,
      (thrown: unknown) => thrown as UserError,
    );
    expect(error).toBeInstanceOf(UserError);
    expect(error!.location).toMatchObject({ field: 'environment.image', line: 5 });
    expect(error!.message).toMatch(/not pinned by digest/);
  });
});

describe('the container command line', () => {
  const spec: ContainerRunSpec = {
    runtime: 'docker',
    image: 'sha256:0123',
    name: 'repro-gate-x',
    user: { uid: 1001, gid: 121 },
    network: 'none',
    gpu: false,
    mounts: [{ host: '/tmp/repro-gate-abc', container: '/repro-gate' }],
    workdir: '/repro-gate/work/models',
    env: { HOME: '/repro-gate/home', REPRO_SEED_NUMPY: '3' },
    inherit: ['HF_TOKEN'],
    argv: ['/bin/sh', '-c', 'python train.py'],
  };

  it('isolates the command: its user, no network, no capabilities, one mount, only the given variables', () => {
    const args = containerRunArguments(spec);
    expect(args.slice(0, 2)).toEqual(['run', '--rm']);
    expect(args.join(' ')).toContain('--pull never --user 1001:121 --network none --cap-drop ALL --security-opt no-new-privileges');
    expect(args.filter((arg) => arg === '--mount')).toHaveLength(1);
    expect(args).toContain('type=bind,source=/tmp/repro-gate-abc,target=/repro-gate');
    expect(args.join(' ')).toContain('--workdir /repro-gate/work/models --env HOME=/repro-gate/home --env REPRO_SEED_NUMPY=3 --env HF_TOKEN sha256:0123 /bin/sh -c python train.py');
    // A passed-through value is taken from the client's environment, never written on the command line.
    expect(args).not.toContain('--env-host');
    expect(args.slice(-4)).toEqual(['sha256:0123', '/bin/sh', '-c', 'python train.py']);
    // The image's ENTRYPOINT never wraps the command.
    expect(args.join('\n')).toContain('--entrypoint\n\n');
  });

  it('gives Podman a deadline of its own, which Docker has no flag for', () => {
    expect(containerRunArguments({ ...spec, runtime: 'podman', deadlineSeconds: 90 }).join(' ')).toContain('--timeout 90');
    expect(containerRunArguments({ ...spec, deadlineSeconds: 90 })).not.toContain('--timeout');
  });

  it('passes GPUs the way each runtime takes them', () => {
    expect(containerRunArguments({ ...spec, gpu: true }).join(' ')).toContain('--gpus all');
    expect(containerRunArguments({ ...spec, runtime: 'podman', gpu: true }).join(' ')).toContain('--device nvidia.com/gpu=all');
    expect(containerRunArguments(spec).join(' ')).not.toMatch(/--gpus|--device/);
  });

  it('keeps the user the same inside rootless Podman, and lets a build step keep its container and reach the network', () => {
    expect(containerRunArguments({ ...spec, runtime: 'podman' })).toContain('keep-id');
    expect(containerRunArguments({ ...spec, runtime: 'podman', user: { uid: 0, gid: 0 } })).not.toContain('keep-id');
    expect(containerRunArguments({ ...spec, runtime: 'docker' })).not.toContain('keep-id');
    const build = containerRunArguments({ ...spec, network: 'host', keep: true });
    expect(build).not.toContain('--rm');
    expect(build.join(' ')).toContain('--network host');
    expect(containerRunArguments({ ...spec, network: 'default' })).not.toContain('--network');
  });

  it('refuses to mount a path the mount syntax would split', () => {
    expect(() => containerRunArguments({ ...spec, mounts: [{ host: '/tmp/a,b', container: '/x' }] })).toThrow(UserError);
    expect(() => containerRunArguments({ ...spec, mounts: [{ host: '/tmp/a=b', container: '/x' }] })).toThrow(/cannot be mounted into a container: its path has a comma, "=" or a line break/);
  });
});

describe('paths inside and outside the container', () => {
  const mounts = [
    { host: '/tmp/repro-gate-abc', container: '/repro-gate' },
    { host: '/tmp/repro-gate-abc/work/big', container: '/data' },
  ];

  it('maps through the longest mount that holds the path, both ways', () => {
    expect(pathInContainer(mounts, '/tmp/repro-gate-abc/work/train.py')).toBe('/repro-gate/work/train.py');
    expect(pathInContainer(mounts, '/tmp/repro-gate-abc/work/big/x.npy')).toBe('/data/x.npy');
    expect(pathInContainer(mounts, '/tmp/repro-gate-abc')).toBe('/repro-gate');
    expect(pathInContainer(mounts, '/tmp/repro-gate-abcd/x')).toBeUndefined();
    expect(pathOnHost(mounts, '/repro-gate/work/train.py')).toBe('/tmp/repro-gate-abc/work/train.py');
    expect(pathOnHost(mounts, '/data/x.npy')).toBe('/tmp/repro-gate-abc/work/big/x.npy');
    // The image's own files stay where they are.
    expect(pathOnHost(mounts, '/usr/lib/python3/dist-packages/numpy/__init__.py')).toBe('/usr/lib/python3/dist-packages/numpy/__init__.py');
    expect(pathOnHost(mounts, '/repro-gatex/a')).toBe('/repro-gatex/a');
    // A path that climbs out of the mount is the image's own, never a host path beside the sandbox.
    expect(pathOnHost(mounts, '/repro-gate/../etc/passwd')).toBe('/repro-gate/../etc/passwd');
    expect(pathOnHost(mounts, '/repro-gate/work/../work/a.py')).toBe('/tmp/repro-gate-abc/work/a.py');
  });
});

describe('choosing the runtime', () => {
  const saved = process.env[CONTAINER_RUNTIME_ENV];
  afterEach(() => {
    if (saved === undefined) delete process.env[CONTAINER_RUNTIME_ENV];
    else process.env[CONTAINER_RUNTIME_ENV] = saved;
  });

  it('refuses a runtime it does not know, naming the variable', async () => {
    process.env[CONTAINER_RUNTIME_ENV] = 'containerd';
    const error = await containerRuntime().catch((thrown: unknown) => thrown as UserError);
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).message).toMatch(/REPRO_GATE_CONTAINER_RUNTIME=containerd is not a container runtime/);
  });
});

describe('what a pull request may open up', () => {
  const record = (environment: Record<string, unknown>) => ({ ...base, environment });

  it('flags the network allowed and host variables newly passed as loosenings, and a new image as re-recorded', () => {
    const changes = compareRecordVersions(record({ image: PINNED, pass_env: ['HF_TOKEN'] }), record({ image: `ghcr.io/acme/train@sha256:${'c'.repeat(64)}`, network: true, pass_env: ['HF_TOKEN', 'AWS_SECRET_ACCESS_KEY'] }), 'run.yaml');
    expect(changes.loosened).toEqual([
      { kind: 'network-allowed', subject: 'environment.network', before: 'false', after: 'true' },
      { kind: 'host-variable-passed', subject: 'AWS_SECRET_ACCESS_KEY', before: null, after: 'passed from the host' },
    ]);
    expect(changes.rerecorded).toEqual([{ kind: 'image', count: 1 }]);
    const text = changes.loosened.map((finding) => describeLoosening({ ...finding, recordPath: 'run.yaml' }, (value) => value));
    expect(text).toEqual(['run.yaml: the rerun may now reach the network (environment.network: true)', "run.yaml: the rerun now gets the host's AWS_SECRET_ACCESS_KEY (environment.pass_env)"]);
  });

  it('flags nothing when the record keeps or narrows what it opens', () => {
    expect(compareRecordVersions(record({ image: PINNED, network: true, pass_env: ['A', 'B'] }), record({ image: PINNED, network: false, pass_env: ['A'] }), 'run.yaml')).toEqual({ loosened: [], rerecorded: [] });
  });
});

describe('the report', () => {
  it('names the image by its short digest and the runtime, and a venv built inside it', () => {
    const record = recordReport();
    record.environment = {
      ...record.environment!,
      venv: { key: 'localhost/repro-gate-venv:abc', source: 'built', durationMs: 4000, installer: 'pip' },
      image: { reference: PINNED, id: 'sha256:1234', runtime: 'podman' },
    };
    const markdown = renderMarkdown(report([record]));
    expect(markdown).toMatch(/image ghcr\.io\/acme\/train@(\u200b)?sha256:bbbbbbbbbbbb \(podman\) · venv in the image built in 4\.0 s/);
  });
});
