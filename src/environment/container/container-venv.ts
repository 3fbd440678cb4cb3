import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CONTAINER_BUILD_TIMEOUT_MS, CONTAINER_NAME_PREFIX, CONTAINER_VENV_DIR, CONTAINER_VENV_IMAGE, PIP_INSTALL_LOG_NAME } from '../../constants.js';
import { UserError } from '../../errors.js';
import { shellQuote } from '../../rerun/shell-quote.js';
import { lastLine } from '../exec.js';
import { keepInstallLog } from '../pip.js';
import { outputTail } from '../pip-failure.js';
import { removeContainer, runtimeCommand } from './client.js';
import { imageId } from './image.js';
import { type ContainerMount, containerRunArguments } from './run-arguments.js';
import type { ContainerRuntime } from './runtime.js';

// A record's requirements inside its image: a venv built in a container from the image, committed as a derived
// image tagged by the image ID and the requirements' bytes. The runtime's own store is the cache; a second verify
// of the same record finds the tag and builds nothing.

const REQUIREMENTS_IN_CONTAINER = '/tmp/repro-gate-requirements.txt';
const SETTINGS_IN_CONTAINER = '/tmp/repro-gate-build.env';
const INDEX_CA_IN_CONTAINER = '/tmp/repro-gate-index-ca.pem';

/** Where packages come from, as the host's pip is told (an index URL may hold a token). */
const INDEX_VARIABLES = ['PIP_INDEX_URL', 'PIP_EXTRA_INDEX_URL', 'PIP_TRUSTED_HOST', 'PIP_DEFAULT_TIMEOUT', 'HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'NO_PROXY', 'no_proxy'];

export interface ContainerVenvRequest {
  runtime: ContainerRuntime;
  imageId: string;
  requirementsFile: string;
  requirementsSha256: string;
  displayPath: string;
  log: (line: string) => void;
  logDir?: string;
}

export function containerVenvTag(imageId: string, requirementsSha256: string): string {
  const key = createHash('sha256').update(JSON.stringify([imageId, requirementsSha256, CONTAINER_VENV_DIR])).digest('hex');
  return `${CONTAINER_VENV_IMAGE}:${key.slice(0, 32)}`;
}

/**
 * The host's way to the package index, for the build only: its index and proxy variables, and the CA bundle its pip
 * trusts (a proxy that inspects TLS signs with its own CA). They reach the build through a mounted file the script
 * sources, never `--env`: a commit keeps the container's variables in the image, where every rerun would see them.
 */
async function buildSettings(folder: string): Promise<ContainerMount[]> {
  const settings: Record<string, string> = { HOME: '/root', PIP_ROOT_USER_ACTION: 'ignore' };
  for (const name of INDEX_VARIABLES) if (process.env[name]) settings[name] = process.env[name];
  const mounts: ContainerMount[] = [];
  const bundles = ['PIP_CERT', 'REQUESTS_CA_BUNDLE', 'SSL_CERT_FILE'].map((name) => process.env[name]).filter((file): file is string => Boolean(file));
  for (const bundle of bundles) {
    if (!(await stat(bundle).then((info) => info.isFile(), () => false))) continue;
    settings.PIP_CERT = INDEX_CA_IN_CONTAINER;
    mounts.push({ host: bundle, container: INDEX_CA_IN_CONTAINER, readOnly: true });
    break;
  }
  const file = path.join(folder, 'build.env');
  await writeFile(file, Object.entries(settings).map(([name, value]) => `export ${name}=${shellQuote(value)}\n`).join(''), { mode: 0o600 });
  return [{ host: file, container: SETTINGS_IN_CONTAINER, readOnly: true }, ...mounts];
}

/** The derived image holding the venv (built unless the runtime has it already) and whether this call built it. */
export async function containerVenvImage(request: ContainerVenvRequest): Promise<{ id: string; tag: string; built: boolean }> {
  const { runtime } = request;
  const tag = containerVenvTag(request.imageId, request.requirementsSha256);
  const cached = await imageId(runtime, tag);
  if (cached) {
    request.log(`venv image ${tag}: reused`);
    return { id: cached, tag, built: false };
  }
  request.log(`building a venv inside the image from ${request.displayPath}`);
  const name = `${CONTAINER_NAME_PREFIX}venv-${randomUUID()}`;
  const folder = await mkdtemp(path.join(tmpdir(), 'repro-gate-venv-build-'));
  const script = `set -e; . ${SETTINGS_IN_CONTAINER}; python3 -m venv ${CONTAINER_VENV_DIR}; ${CONTAINER_VENV_DIR}/bin/python -I -m pip install --no-input --disable-pip-version-check --no-cache-dir -r ${REQUIREMENTS_IN_CONTAINER}`;
  try {
    const args = containerRunArguments({
      runtime: runtime.name,
      image: request.imageId,
      name,
      // As the image's own user (root in most), like a Dockerfile's RUN; the rerun reads the venv as the invoking user.
      user: { uid: 0, gid: 0 },
      // pip downloads from the package index: the build has the host's network (no bridge to set up), the rerun none.
      network: 'host',
      gpu: false,
      keep: true,
      mounts: [{ host: request.requirementsFile, container: REQUIREMENTS_IN_CONTAINER, readOnly: true }, ...(await buildSettings(folder))],
      env: {},
      argv: ['/bin/sh', '-c', script],
    });
    const built = await runtimeCommand(runtime, args, { container: name, timeoutMs: CONTAINER_BUILD_TIMEOUT_MS });
    if (built.code !== 0) {
      const output = `${built.stdout}\n${built.stderr}`;
      const log = await keepInstallLog(request.logDir, PIP_INSTALL_LOG_NAME, `${runtime.name} ${args.join(' ')}`, built);
      throw new UserError(
        `the environment failed to build inside the image: pip install -r ${request.displayPath} ${built.code === null ? `took longer than ${CONTAINER_BUILD_TIMEOUT_MS / 60_000} min` : `exited ${built.code}`}\n${outputTail(output)}`,
        `Check that every requirement installs on the image's Python${log ? `; pip's whole output is in ${log}` : ''}.`,
        { field: 'environment.requirements' },
      );
    }
    const committed = await runtimeCommand(runtime, ['commit', name, tag]);
    const id = committed.code === 0 ? await imageId(runtime, tag) : undefined;
    if (!id) {
      throw new UserError(`the venv built inside the image could not be kept: ${runtime.name} commit failed (${lastLine(committed.stderr) || `exit status ${committed.code}`})`, `Check the runtime's storage (\`${runtime.name} system df\`), then verify again.`);
    }
    return { id, tag, built: true };
  } finally {
    await removeContainer(runtime, name);
    await rm(folder, { recursive: true, force: true });
  }
}
