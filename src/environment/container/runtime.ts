import { CONTAINER_RUNTIME_ENV } from '../../constants.js';
import { UserError } from '../../errors.js';
import { capture } from '../exec.js';

export type ContainerRuntimeName = 'docker' | 'podman';

export interface ContainerRuntime {
  name: ContainerRuntimeName;
}

const RUNTIMES: ContainerRuntimeName[] = ['docker', 'podman'];

/** `info` needs the daemon (docker) or the storage (podman): a client that is merely installed does not answer. */
async function answers(name: ContainerRuntimeName): Promise<boolean> {
  const result = await capture(name, ['info', '--format', '{{json .}}']);
  return result.code === 0;
}

async function detect(): Promise<ContainerRuntime> {
  const chosen = process.env[CONTAINER_RUNTIME_ENV];
  if (chosen !== undefined && chosen !== '') {
    if (!RUNTIMES.includes(chosen as ContainerRuntimeName)) {
      throw new UserError(`${CONTAINER_RUNTIME_ENV}=${chosen} is not a container runtime repro-gate knows`, `Set it to docker or podman, or unset it to use docker when its daemon answers, else podman.`);
    }
    if (await answers(chosen as ContainerRuntimeName)) return { name: chosen as ContainerRuntimeName };
    throw new UserError(`${CONTAINER_RUNTIME_ENV}=${chosen}, but \`${chosen} info\` fails: the runtime is missing or its daemon does not answer`, `Start ${chosen} (or install it), or unset ${CONTAINER_RUNTIME_ENV}.`);
  }
  for (const name of RUNTIMES) if (await answers(name)) return { name };
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
