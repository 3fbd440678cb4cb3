import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { withoutSecrets } from '../child-env.js';
import { CONTAINER_NAME_PREFIX } from '../constants.js';
import { capture } from '../environment/exec.js';
import { type ContainerMount, containerRunArguments } from '../environment/container/run-arguments.js';
import type { ContainerEnvironment } from '../environment/types.js';
import type { CommandLauncher } from './run-command.js';

/** A host path as the container sees it, through the mount that holds it (the longest); undefined when none does. */
export function pathInContainer(mounts: readonly ContainerMount[], hostPath: string): string | undefined {
  const holding = mounts
    .filter((mount) => hostPath === mount.host || hostPath.startsWith(`${mount.host}${path.sep}`))
    .sort((a, b) => b.host.length - a.host.length)[0];
  return holding && path.posix.join(holding.container, path.relative(holding.host, hostPath).split(path.sep).join('/'));
}

/** A path inside the container as the host has it, when a mount holds it; others are the image's own, left as they are. */
export function pathOnHost(mounts: readonly ContainerMount[], seen: string): string {
  const holding = mounts
    .filter((mount) => seen === mount.container || seen.startsWith(`${mount.container}/`))
    .sort((a, b) => b.container.length - a.container.length)[0];
  return holding ? path.join(holding.host, path.posix.relative(holding.container, seen)) : seen;
}

/**
 * Runs each command in a new container of the prepared image: `env` is the command's whole environment (nothing of
 * the host's is added), `cwd` a host folder under one of `mounts`. The runtime's client is what runCommand starts
 * and tracks; the container itself lives outside its process tree, so it is killed and removed by name.
 * `inherit` names take their value from the host (`environment.pass_env`), so it is never on a command line.
 */
export function containerLauncher(container: ContainerEnvironment, mounts: ContainerMount[], inherit: readonly string[]): CommandLauncher {
  return (argv, cwd, env) => {
    const name = `${CONTAINER_NAME_PREFIX}${randomUUID()}`;
    const workdir = pathInContainer(mounts, cwd);
    if (!workdir) throw new Error(`the command's folder ${cwd} is not mounted into the container`);
    const inherited = inherit.filter((variable) => env[variable] !== undefined);
    const own = Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined && !inherited.includes(entry[0])));
    const args = containerRunArguments({
      runtime: container.runtime,
      image: container.image,
      name,
      user: { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 },
      network: container.network ? 'default' : 'none',
      gpu: container.gpu,
      mounts,
      workdir,
      env: own,
      inherit: inherited,
      argv,
    });
    const remove = async () => {
      await capture(container.runtime, ['rm', '-f', name]);
    };
    return {
      argv: [container.runtime, ...args],
      cwd: process.cwd(),
      // The client's own environment (DOCKER_HOST, XDG_RUNTIME_DIR, …); it passes the container only what --env names.
      env: { ...withoutSecrets(process.env), ...Object.fromEntries(inherited.map((variable) => [variable, env[variable]])) },
      // The command timed out: killed first (`kill` is immediate, where the client's SIGTERM may be ignored by PID 1).
      stop: async (timedOut) => {
        if (timedOut) await capture(container.runtime, ['kill', name]);
        await remove();
      },
    };
  };
}
