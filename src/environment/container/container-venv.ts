import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { CONTAINER_NAME_PREFIX, CONTAINER_VENV_DIR, CONTAINER_VENV_IMAGE, PIP_INSTALL_LOG_NAME } from '../../constants.js';
import { UserError } from '../../errors.js';
import { capture } from '../exec.js';
import { keepInstallLog } from '../pip.js';
import { imageId } from './image.js';
import { outputTail } from '../pip-failure.js';
import { type ContainerMount, containerRunArguments } from './run-arguments.js';
import type { ContainerRuntime } from './runtime.js';

// A record's requirements inside its image: a venv built in a container from the image, committed as a derived
// image tagged by the image ID and the requirements' bytes. The runtime's own store is the cache; a second verify
// of the same record finds the tag and builds nothing.

const REQUIREMENTS_IN_CONTAINER = '/tmp/repro-gate-requirements.txt';
const INDEX_CA_IN_CONTAINER = '/tmp/repro-gate-index-ca.pem';

/** Where packages come from, as the host's pip is told: passed by name, so a token in an index URL is never on a command line. */
const INDEX_VARIABLES = ['PIP_INDEX_URL', 'PIP_EXTRA_INDEX_URL', 'PIP_TRUSTED_HOST', 'PIP_DEFAULT_TIMEOUT', 'HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'NO_PROXY', 'no_proxy'];

/**
 * The host's way to the package index, for the build only: its index and proxy variables, and the CA bundle its pip
 * trusts (a proxy that inspects TLS signs with its own CA), mounted read-only.
 */
async function indexSettings(host: NodeJS.ProcessEnv): Promise<{ inherit: string[]; env: Record<string, string>; mounts: ContainerMount[] }> {
  const inherit = INDEX_VARIABLES.filter((name) => host[name]);
  const bundles = ['PIP_CERT', 'REQUESTS_CA_BUNDLE', 'SSL_CERT_FILE'].map((name) => host[name]).filter((file): file is string => Boolean(file));
  for (const bundle of bundles) {
    if (!(await stat(bundle).then((info) => info.isFile(), () => false))) continue;
    return { inherit, env: { PIP_CERT: INDEX_CA_IN_CONTAINER }, mounts: [{ host: bundle, container: INDEX_CA_IN_CONTAINER, readOnly: true }] };
  }
  return { inherit, env: {}, mounts: [] };
}

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
  const index = await indexSettings(process.env);
  const name = `${CONTAINER_NAME_PREFIX}venv-${process.pid}-${Date.now()}`;
  const script = `set -e; python3 -m venv ${CONTAINER_VENV_DIR}; ${CONTAINER_VENV_DIR}/bin/python -I -m pip install --no-input --disable-pip-version-check --no-cache-dir -r ${REQUIREMENTS_IN_CONTAINER}`;
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
    mounts: [{ host: request.requirementsFile, container: REQUIREMENTS_IN_CONTAINER, readOnly: true }, ...index.mounts],
    env: { HOME: '/root', PIP_ROOT_USER_ACTION: 'ignore', ...index.env },
    inherit: index.inherit,
    argv: ['/bin/sh', '-c', script],
  });
  try {
    const built = await capture(runtime.name, args);
    if (built.code !== 0) {
      const output = `${built.stdout}\n${built.stderr}`;
      const log = await keepInstallLog(request.logDir, PIP_INSTALL_LOG_NAME, `${runtime.name} ${args.join(' ')}`, built);
      throw new UserError(
        `the environment failed to build inside the image: pip install -r ${request.displayPath} exited ${built.code}\n${outputTail(output)}`,
        `Check that every requirement installs on the image's Python${log ? `; pip's whole output is in ${log}` : ''}.`,
        { field: 'environment.requirements' },
      );
    }
    const committed = await capture(runtime.name, ['commit', name, tag]);
    if (committed.code !== 0) throw new Error(`${runtime.name} commit failed: ${committed.stderr.trim()}`);
  } finally {
    await capture(runtime.name, ['rm', '-f', name]);
  }
  const id = await imageId(runtime, tag);
  if (!id) throw new Error(`the venv image ${tag} was committed but cannot be found`);
  return { id, tag, built: true };
}
