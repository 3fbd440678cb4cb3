import { rm } from 'node:fs/promises';
import path from 'node:path';
import { withoutSecrets } from '../child-env.js';
import { type Captured, capture } from './exec.js';

// `python -m venv` puts pip (and, up to Python 3.11, setuptools) into the venv with ensurepip, which byte-compiles
// every file it installs: about 7 s of a venv build on these machines. The same wheels, the interpreter's own bundled
// ones, installed by the interpreter's own pip without compiling give the venv the same packages in about 2 s. An
// interpreter that cannot do that (no pip of its own, a pip older than 22.3's --python, no bundled wheels: Debian's)
// gets `python -m venv` as before.

const PROBE = [
  'import glob, json, os',
  'try:',
  '    import ensurepip, pip',
  '    version = [int(part) for part in pip.__version__.split(".")[:2]]',
  '    wheels = sorted(glob.glob(os.path.join(os.path.dirname(ensurepip.__file__), "_bundled", "*.whl")))',
  'except Exception:',
  '    version, wheels = None, []',
  'print(json.dumps({"pip": version, "wheels": wheels}))',
].join('\n');

const bundled = new Map<string, Promise<string[] | undefined>>();

/** The wheels ensurepip would install, when the interpreter's pip can install them into another interpreter's venv. */
function bundledWheels(executable: string): Promise<string[] | undefined> {
  let wheels = bundled.get(executable);
  if (!wheels) {
    wheels = capture(executable, ['-I', '-c', PROBE]).then((result) => {
      if (result.code !== 0) return undefined;
      try {
        const found = JSON.parse(result.stdout) as { pip: number[] | null; wheels: string[] };
        const [major = 0, minor = 0] = found.pip ?? [];
        const targetsOthers = major > 22 || (major === 22 && minor >= 3);
        return targetsOthers && found.wheels.some((wheel) => path.basename(wheel).startsWith('pip-')) ? found.wheels : undefined;
      } catch {
        return undefined;
      }
    });
    bundled.set(executable, wheels);
  }
  return wheels;
}

/** Creates a venv with pip in it, as `python -m venv` does; the result of the command that decided the outcome. */
export async function createVenv(executable: string, dir: string): Promise<Captured> {
  const wheels = await bundledWheels(executable);
  if (wheels) {
    const bare = await capture(executable, ['-I', '-m', 'venv', '--without-pip', dir]);
    if (bare.code !== 0) return bare;
    // --isolated, like ensurepip: no pip configuration or PIP_* variable of the machine applies to the bootstrap.
    const args = ['-I', '-m', 'pip', '--isolated', '--python', path.join(dir, 'bin', 'python'), 'install', '--no-input', '--disable-pip-version-check', '--no-index', '--no-deps', '--no-compile', ...wheels];
    const installed = await capture(executable, args, withoutSecrets(process.env));
    if (installed.code === 0) return installed;
    await rm(dir, { recursive: true, force: true });
  }
  return capture(executable, ['-I', '-m', 'venv', dir]);
}
