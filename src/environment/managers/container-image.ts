import { UserError } from '../../errors.js';
import { sha256File } from '../../hashing/sha256.js';
import { CONTAINER_VENV_DIR } from '../../constants.js';
import { containerVenvImage } from '../container/container-venv.js';
import { describeImage } from '../container/describe-image.js';
import { ensureImage } from '../container/image.js';
import { type ContainerRuntime, containerRuntime } from '../container/runtime.js';
import { pythonVersionMatches } from '../interpreter.js';
import { requirementsInstallLocalPaths } from '../local-requirements.js';
import { diffPackages } from '../package-diff.js';
import type { EnvironmentManager, EnvironmentRequest, PreparedEnvironment } from '../types.js';

/**
 * A record pinned to a container image by digest: the image is pulled when missing, its requirements (if any) are
 * installed into a venv inside it, and the command runs in a container of it (src/rerun/container-launcher.ts).
 * Nothing is built on the host and no venv is saved to the action's cache: the image is the environment.
 */
export class ContainerImageManager implements EnvironmentManager {
  constructor(private readonly request: EnvironmentRequest & { image: NonNullable<EnvironmentRequest['image']> }) {}

  async prepare(): Promise<PreparedEnvironment> {
    const { image, requiredPython, recordedPackages, recordedPlatform, requirementsFile, log } = this.request;
    const started = performance.now();
    const runtime = await containerRuntime();
    const baseId = await ensureImage(runtime, image.reference, log, image.line);
    const venv = requirementsFile ? await this.venvImage(runtime, baseId, requirementsFile) : undefined;
    const runId = venv?.id ?? baseId;
    const python = venv ? `${CONTAINER_VENV_DIR}/bin/python` : 'python3';
    const described = await describeImage(runtime, runId, image.reference, python);
    if (requiredPython && !pythonVersionMatches(requiredPython, described.version)) {
      throw new UserError(
        `environment.python requires ${requiredPython} but the image ${image.reference} has Python ${described.version}`,
        'Pin an image with that Python, or record again with this image (`repro-gate record --update --image NAME:TAG`).',
        { field: 'environment.python', line: this.request.requiredPythonLine },
      );
    }
    log(`image ${image.reference} (${runtime.name}): Python ${described.version}, ${Object.keys(described.packages).length} packages (${described.source})`);
    return {
      binDir: venv ? `${CONTAINER_VENV_DIR}/bin` : null,
      venvDir: venv ? CONTAINER_VENV_DIR : null,
      python: described.executable,
      packages: described.packages,
      container: { runtime, image: runId, network: image.network, gpu: image.gpu, path: described.path },
      report: {
        python: { required: requiredPython, actual: described.version },
        platform: { recorded: recordedPlatform, actual: described.platform },
        venv: venv ? { key: venv.tag, source: venv.built ? 'built' : 'local-cache', durationMs: Math.round(performance.now() - started), installer: 'pip' } : null,
        image: { reference: image.reference, id: runId, runtime: runtime.name },
        packages: recordedPackages ? diffPackages(recordedPackages, described.packages) : null,
      },
    };
  }

  private async venvImage(runtime: ContainerRuntime, baseId: string, requirementsFile: string) {
    const displayPath = this.request.requirementsDisplayPath ?? requirementsFile;
    if (await requirementsInstallLocalPaths(requirementsFile)) {
      throw new UserError(
        `${displayPath} installs local paths (such as \`-e .\`), which a venv inside the image cannot see`,
        'List only packages from the index in the requirements of a record with an image; the command imports the project\'s own code from its working folder.',
        { field: 'environment.requirements' },
      );
    }
    return containerVenvImage({
      runtime,
      imageId: baseId,
      requirementsFile,
      requirementsSha256: await sha256File(requirementsFile),
      displayPath,
      log: this.request.log,
      logDir: this.request.logDir,
    });
  }
}
