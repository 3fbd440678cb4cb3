import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import path from 'node:path';
import { CONTAINER_RUNTIME_ENV } from '../../constants.js';
import { UserError } from '../../errors.js';
import { capture } from '../exec.js';
import { neutralFolder } from './client.js';

export type ContainerRuntimeName = 'docker' | 'podman';

export interface ContainerRuntime {
  name: ContainerRuntimeName;
  /** The client's absolute path, found on the host's PATH when the runtime was chosen. */
  program: string;
}

const RUNTIMES: ContainerRuntimeName[] = ['docker', 'podman'];
const INFO_TIMEOUT_MS = 30_000;

/** The program on the host's PATH (absolute entries only: a relative one would depend on the current folder). */
async function onPath(name: string): Promise<string | undefined> {
  for (const folder of (process.env.PATH ?? '').split(path.delimiter).filter((entry) => path.isAbsolute(entry))) {
    const candidate = path.join(folder, name);
    if (await access(candidate, constants.X_OK).then(() => true, () => false)) return candidate;
  }
  return undefined;
}

/** `info` needs the daemon (docker) or the storage (podman): a client that is merely installed does not answer. */
async function answering(name: ContainerRuntimeName): Promise<ContainerRuntime | undefined> {
  const program = await onPath(name);
  if (!program) return undefined;
  const result = await capture(program, ['info', '--format', '{{json .}}'], undefined, neutralFolder(), INFO_TIMEOUT_MS);
  return result.code === 0 ? { name, program } : undefined;
}

async function detect(): Promise<ContainerRuntime> {
  const chosen = process.env[CONTAINER_RUNTIME_ENV];
  if (chosen !== undefined && chosen !== '') {
    if (!RUNTIMES.includes(chosen as ContainerRuntimeName)) {
      throw new UserError(`${CONTAINER_RUNTIME_ENV}=${chosen} is not a container runtime repro-gate knows`, `Set it to docker or podman, or unset it to use docker when its daemon answers, else podman.`);
    }
    const runtime = await answering(chosen as ContainerRuntimeName);
    if (runtime) return runtime;
    throw new UserError(`${CONTAINER_RUNTIME_ENV}=${chosen}, but \`${chosen} info\` fails: the runtime is missing or its daemon does not answer`, `Start ${chosen} (or install it), or unset ${CONTAINER_RUNTIME_ENV}.`);
  }
  for (const name of RUNTIMES) {
    const runtime = await answering(name);
    if (runtime) return runtime;
  }
  throw new UserError(
    'the record names a container image, but neither docker nor podman answers here (`docker info` and `podman info` fail)',
    'Run on a host with Docker (GitHub-hosted Ubuntu runners have it) or Podman, or set REPRO_GATE_CONTAINER_RUNTIME to the one to use.',
    { field: 'environment.image' },
  );
}

let detected: Promise<ContainerRuntime> | undefined;

/** Docker when its daemon answers, else Podman; REPRO_GATE_CONTAINER_RUNTIME chooses. Asked once per process. */
export function containerRuntime(): Promise<ContainerRuntime> {
  detected ??= detect();
  // A failure is not kept: the next record asks again (the daemon may have started meanwhile).
  detected.catch(() => {
    detected = undefined;
  });
  return detected;
}
