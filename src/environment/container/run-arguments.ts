import { UserError } from '../../errors.js';
import type { ContainerRuntimeName } from './runtime.js';

// Pure: the one `docker run` / `podman run` command line repro-gate starts containers with. Nothing of the host
// gets in unless listed here: no host variables (the client passes only --env), no mounts but the given ones.

export interface ContainerMount {
  host: string;
  container: string;
  readOnly?: boolean;
}

export interface ContainerRunSpec {
  runtime: ContainerRuntimeName;
  /** The image ID (or pinned reference) to run. */
  image: string;
  name: string;
  /** The invoking user's uid and gid, so the files the command writes belong to them. */
  user: { uid: number; gid: number };
  /** none: no network at all; host: the host's (an install step); default: the runtime's own network. */
  network: 'none' | 'default' | 'host';
  gpu: boolean;
  /** Keep the container once it exits (a build step commits it); otherwise it is removed. */
  keep?: boolean;
  /** Podman only: conmon kills the container after this many seconds, even if repro-gate itself was killed. */
  deadlineSeconds?: number;
  mounts: ContainerMount[];
  workdir?: string;
  /** Variables with their values; `inherit` names take the client's own value (never written on the command line). */
  env: Record<string, string>;
  inherit?: string[];
  /** The program and its arguments. */
  argv: string[];
}

/** The uid and gid of the user running repro-gate: the command's files inside the container belong to them. */
export function invokingUser(): { uid: number; gid: number } {
  return { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
}

/** PyTorch's DataLoader workers share tensors through /dev/shm, which Docker caps at 64 MB by default. */
const SHM_SIZE = '1g';

function mountArgument(mount: ContainerMount): string {
  // --mount splits on commas and '='; a sandbox path never has them (it is made by mkdtemp), a helper's file may.
  for (const part of [mount.host, mount.container]) {
    if (/[,=\n]/.test(part)) throw new UserError(`${part} cannot be mounted into a container: its path has a comma, "=" or a line break`, 'Rename the file or folder (or set TMPDIR to a plain path), then run again.');
  }
  return `type=bind,source=${mount.host},target=${mount.container}${mount.readOnly ? ',readonly' : ''}`;
}

function gpuArguments(runtime: ContainerRuntimeName): string[] {
  // Docker's NVIDIA runtime hook; Podman reads the Container Device Interface spec (nvidia-ctk cdi generate).
  return runtime === 'docker' ? ['--gpus', 'all'] : ['--device', 'nvidia.com/gpu=all'];
}

export function containerRunArguments(spec: ContainerRunSpec): string[] {
  const rootless = spec.runtime === 'podman' && spec.user.uid !== 0;
  return [
    'run',
    ...(spec.keep ? [] : ['--rm']),
    '--name',
    spec.name,
    // Pulled beforehand by digest; the run itself never fetches anything.
    '--pull',
    'never',
    '--user',
    `${spec.user.uid}:${spec.user.gid}`,
    // Rootless Podman maps container uids to sub-uids: keep-id makes the user the same one inside and out.
    ...(rootless ? ['--userns', 'keep-id'] : []),
    ...(spec.network === 'default' ? [] : ['--network', spec.network]),
    '--cap-drop',
    'ALL',
    '--security-opt',
    'no-new-privileges',
    '--shm-size',
    SHM_SIZE,
    ...(spec.gpu ? gpuArguments(spec.runtime) : []),
    ...(spec.runtime === 'podman' && spec.deadlineSeconds !== undefined ? ['--timeout', String(spec.deadlineSeconds)] : []),
    // `argv` is the whole command line: an image's ENTRYPOINT (say `python`) would run it as its arguments.
    '--entrypoint',
    '',
    ...spec.mounts.flatMap((mount) => ['--mount', mountArgument(mount)]),
    ...(spec.workdir ? ['--workdir', spec.workdir] : []),
    ...Object.entries(spec.env).flatMap(([name, value]) => ['--env', `${name}=${value}`]),
    ...(spec.inherit ?? []).flatMap((name) => ['--env', name]),
    spec.image,
    ...spec.argv,
  ];
}
