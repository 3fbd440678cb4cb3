import { assertPythonMatches, probeInterpreter } from '../interpreter.js';
import { diffPackages } from '../package-diff.js';
import { pipFreeze } from '../pip.js';
import type { EnvironmentManager, EnvironmentRequest, PreparedEnvironment } from '../types.js';

/** No requirements recorded: the command runs in the current environment, which is still described and diffed. */
export class CurrentEnvironmentManager implements EnvironmentManager {
  constructor(private readonly request: EnvironmentRequest) {}

  async prepare(): Promise<PreparedEnvironment> {
    const { python, requiredPython, recordedPackages, recordedPlatform } = this.request;
    const interpreter = await probeInterpreter(python);
    assertPythonMatches(requiredPython, interpreter, python, this.request.requiredPythonLine);
    const packages = recordedPackages ? diffPackages(recordedPackages, await pipFreeze(python)) : null;
    return {
      binDir: null,
      venvDir: null,
      python: null,
      packages: null,
      report: {
        python: { required: requiredPython, actual: interpreter.version },
        platform: { recorded: recordedPlatform, actual: interpreter.platform },
        venv: null,
        packages,
      },
    };
  }
}
