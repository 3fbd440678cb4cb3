import { UserError } from '../../errors.js';
import { lastLine } from '../exec.js';
import { runtimeCommand } from './client.js';
import { parseImageReference, pinnedReference } from './image-reference.js';
import { type ContainerRuntime, containerRuntime } from './runtime.js';

const PULL_HINT =
  'If the registry is private, log in before repro-gate runs (`docker login ghcr.io`, or docker/login-action in the workflow; a job that reads GHCR needs `permissions: packages: read`). Check that the digest exists in the registry, or record again with `repro-gate record --image NAME:TAG`.';

/** The local image's ID, or undefined when the runtime has no such image. */
export async function imageId(runtime: ContainerRuntime, reference: string): Promise<string | undefined> {
  const inspected = await runtimeCommand(runtime, ['image', 'inspect', '--format', '{{.Id}}', reference]);
  return inspected.code === 0 ? inspected.stdout.trim() || undefined : undefined;
}

/**
 * The image a record pins, present on this host: pulled by its digest when missing (the runtime checks the bytes
 * against the digest). Returns the image ID, which the rerun runs, so nothing resolves the name again in between.
 */
export async function ensureImage(runtime: ContainerRuntime, reference: string, log: (line: string) => void, line?: number): Promise<string> {
  const present = await imageId(runtime, reference);
  if (present) return present;
  log(`pulling ${reference} (${runtime.name})`);
  const pulled = await runtimeCommand(runtime, ['pull', '--quiet', reference]);
  const id = pulled.code === 0 ? await imageId(runtime, reference) : undefined;
  if (id) return id;
  const reason = pulled.code === null ? 'no answer from the registry in time' : lastLine(pulled.stderr) || pulled.spawnError?.message || `${runtime.name} pull exited ${pulled.code}`;
  throw new UserError(`the image ${reference} is not on this host and could not be pulled (${runtime.name}): ${reason}`, PULL_HINT, { field: 'environment.image', line });
}

/** `image inspect --format '{{json .RepoDigests}}'`: a list of `name@sha256:…` (anything else reads as none). */
function repoDigests(output: string): string[] {
  try {
    const parsed: unknown = JSON.parse(output || 'null');
    return Array.isArray(parsed) ? parsed.filter((entry): entry is string => typeof entry === 'string') : [];
  } catch {
    return [];
  }
}

/** Repository names as runtimes list them: docker drops docker.io/library/, podman keeps it. */
function sameRepository(listed: string, given: string): boolean {
  const normalize = (name: string) => name.replace(/^docker\.io\//, '').replace(/^library\//, '');
  return normalize(listed) === normalize(given);
}

/** `record --image NAME[:TAG]`: the local image's repository digest, as the reference the record pins. */
export async function resolveImageDigest(nameAndTag: string): Promise<string> {
  const runtime = await containerRuntime();
  const given = parseImageReference(nameAndTag);
  if (!given) throw new UserError(`--image ${nameAndTag} is not an image reference`, 'Example: --image ghcr.io/acme/train:2024-06 (a local image; pull or build it first).');
  const inspected = await runtimeCommand(runtime, ['image', 'inspect', '--format', '{{json .RepoDigests}}', nameAndTag]);
  if (inspected.code !== 0) {
    throw new UserError(`--image ${nameAndTag} is not an image on this host (${runtime.name} image inspect: ${lastLine(inspected.stderr)})`, `Pull or build it first (\`${runtime.name} pull ${nameAndTag}\`).`);
  }
  const digests = repoDigests(inspected.stdout);
  const parsed = digests.map(parseImageReference).filter((reference) => reference?.digest !== undefined);
  const own = parsed.find((reference) => sameRepository(reference!.name, given.name)) ?? parsed[0];
  if (given.digest && !parsed.some((reference) => reference!.digest === given.digest)) {
    throw new UserError(`--image ${nameAndTag}: the local image does not have digest ${given.digest}`, `Pull the image by that digest first (\`${runtime.name} pull ${nameAndTag}\`).`);
  }
  if (!own) {
    throw new UserError(
      `--image ${nameAndTag} has no registry digest: it was built here and never pushed or pulled, so no other host can get the same bytes`,
      `Push it to a registry (\`${runtime.name} push\`), then record again; a record pins an image by the digest its registry serves.`,
    );
  }
  return pinnedReference(own.name, given.digest ?? own.digest!);
}
