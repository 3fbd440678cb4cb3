import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { withoutSecrets } from '../child-env.js';
import { CONTAINER_DEADLINE_GRACE_S, CONTAINER_NAME_PREFIX } from '../constants.js';
import { neutralFolder, removeContainer, runtimeCommand, trackContainer } from '../environment/container/client.js';
import { type ContainerMount, containerRunArguments, invokingUser } from '../environment/container/run-arguments.js';
import type { ContainerEnvironment } from '../environment/types.js';
import type { CommandLauncher } from './run-command.js';

const holds = (root: string, file: string, separator: string) => file === root || file.startsWith(`${root}${separator}`);

/** A host path as the container sees it, through the mount that holds it (the longest); undefined when none does. */
export function pathInContainer(mounts: readonly ContainerMount[], hostPath: string): string | undefined {
  const holding = mounts.filter((mount) => holds(mount.host, hostPath, path.sep)).sort((a, b) => b.host.length - a.host.length)[0];
  return holding && path.posix.join(holding.container, path.relative(holding.host, hostPath).split(path.sep).join('/'));
}

/**
 * A path inside the container as the host has it, when a mount holds it; others are the image's own, left as they
 * are. Normalized first: `/repro-gate/../etc` is the image's /etc, never a host path beside the sandbox.
 */
export function pathOnHost(mounts: readonly ContainerMount[], seen: string): string {
  const normal = path.posix.normalize(seen);
  const holding = mounts.filter((mount) => holds(mount.container, normal, '/')).sort((a, b) => b.container.length - a.container.length)[0];
  return holding ? path.join(holding.host, path.posix.relative(holding.container, normal)) : seen;
}

/**
 * Runs each command in a new container of the prepared image: `env` is the command's whole environment (nothing of
 * the host's is added), `cwd` a host folder under one of `mounts`. The runtime's client is what runCommand starts
 * and tracks; the container itself lives outside its process tree, so it is killed and removed by name.
 * `inherit` names take the host's own value (`environment.pass_env`), so it is never on a command line.
 */
export function containerLauncher(container: ContainerEnvironment, mounts: ContainerMount[], inherit: readonly string[]): CommandLauncher {
  const { runtime } = container;
  return (argv, cwd, env, timeoutMs) => {
    const name = `${CONTAINER_NAME_PREFIX}${randomUUID()}`;
    const workdir = pathInContainer(mounts, cwd);
    if (!workdir) throw new Error(`the command's folder ${cwd} is not mounted into the container`);
    // Only a value the host itself holds is inherited; one the record set is passed as the record wrote it.
    const inherited = inherit.filter((variable) => process.env[variable] !== undefined && env[variable] === process.env[variable]);
    const own = Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined && !inherited.includes(entry[0])));
    const args = containerRunArguments({
      runtime: runtime.name,
      image: container.image,
      name,
      user: invokingUser(),
      network: container.network ? 'default' : 'none',
      gpu: container.gpu,
      mounts,
      workdir,
      env: own,
      inherit: inherited,
      argv,
      deadlineSeconds: Number.isFinite(timeoutMs) ? Math.ceil(timeoutMs / 1000) + CONTAINER_DEADLINE_GRACE_S : undefined,
    });
    const untrack = trackContainer(runtime, name);
    return {
      argv: [runtime.program, ...args],
      cwd: neutralFolder(),
      // The host's own environment (DOCKER_HOST, XDG_RUNTIME_DIR, …), untouched by the record; the client passes the
      // container only what --env names.
      env: withoutSecrets(process.env),
      // On a timeout, killed first: the client's SIGTERM reaches a shell that, as the container's PID 1, ignores it.
      // Removed again once the client is gone: a container still being created at the timeout exists only then.
      stop: async (timedOut) => {
        if (timedOut) await runtimeCommand(runtime, ['kill', name]);
        await removeContainer(runtime, name);
        untrack();
      },
    };
  };
}
